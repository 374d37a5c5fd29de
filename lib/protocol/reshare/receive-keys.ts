/**
 * A new party's receiving keys in a refresh/reshare: one X25519 key per dealer, each derived
 * (HKDF-SHA-256) from the party's session secret and bound to (session, key, party, dealer).
 * Dealer j seals its share to this party's key for j. Accusing j reveals only that one
 * derived secret: it opens j's share to the accuser (which j knows anyway) and nothing
 * else: not the session secret, nor any other dealer's share (those would give away, with
 * t′ of them, every dealer's λ_j·s_j and so the group secret).
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, canonicalBytes, decodeHex } from '../encoding.js';
import type { SecretScope } from '../secret-scope.js';

export interface ReceiveBinding {
  readonly session: string;
  readonly keyId: string;
  readonly party: string;
}

const PURPOSE = 'frostline/reshare-receive-key/v1';

/** The HKDF purpose of a sealed refresh/reshare share (never opens as a DKG share). */
export const RESHARE_SHARE_PURPOSE = 'frostline/reshare-share/v1';

/** The receiving secret of `binding.party` for `dealer` (owned by `scope`). */
export function receiveSecret(sessionSecret: Uint8Array, binding: ReceiveBinding, dealer: string, scope: SecretScope): Uint8Array {
  return scope.track(hkdf(sha256, sessionSecret, undefined, canonicalBytes({ purpose: PURPOSE, ...binding, dealer }), 32));
}

/** The public receiving keys, one per dealer, as published in round 1. */
export function receiveKeys(sessionSecret: Uint8Array, binding: ReceiveBinding, dealers: readonly string[], scope: SecretScope): Record<string, string> {
  return Object.fromEntries(dealers.map((dealer) => [dealer, bytesToHex(x25519.getPublicKey(receiveSecret(sessionSecret, binding, dealer, scope)))]));
}

/**
 * Whether a published X25519 key can be used: 32 bytes and not of low order (a low-order
 * key makes every shared secret zero, which x25519 refuses — checked on receipt, so no one
 * meets it later as a plain error).
 */
export function isUsableX25519Key(hexKey: string): boolean {
  try {
    x25519.getSharedSecret(PROBE, decodeHex(hexKey, 'x25519 key', 32));
    return true;
  } catch {
    return false;
  }
}

// Any fixed non-zero scalar: clamping makes it a multiple of the cofactor, so it maps every low-order point to zero.
const PROBE = new Uint8Array(32).fill(0x5a);
