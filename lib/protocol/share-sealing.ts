/**
 * DKG round-2 shares travel sealed end to end: X25519 between the sender's and the
 * recipient's ephemeral keys (each published in its signed round-1 package) → HKDF-SHA-256
 * → AES-256-GCM. Session, key id, sender and recipient are bound in both the HKDF info
 * and the AAD, so a share cannot be replayed into another session or redirected.
 * The coordinator relays ciphertext it cannot open.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { aesGcmOpen, aesGcmSeal, randomIv } from './aead.js';
import { bytesToHex, canonicalBytes, decodeHex } from './encoding.js';
import type { SealedShare } from './messages.js';
import type { SecretScope } from './secret-scope.js';

export interface ShareBinding {
  readonly session: string;
  readonly keyId: string;
  readonly sender: string;
  readonly recipient: string;
}

export function newEphemeralSecret(scope: SecretScope): Uint8Array {
  return scope.track(x25519.utils.randomSecretKey());
}

export function ephemeralPublicKey(secret: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secret);
}

/** The HKDF purpose of a sealed share: a DKG round-2 share never opens as a refresh/reshare share, nor the other way round. */
export type SharePurpose = 'frostline/dkg-share/v1' | 'frostline/reshare-share/v1';

function shareKey(ownSecret: Uint8Array, peerPublic: Uint8Array, binding: ShareBinding, scope: SecretScope, purpose: SharePurpose): Uint8Array {
  // x25519 refuses low-order peer keys (all-zero shared secret), so a malicious key fails here.
  const shared = scope.track(x25519.getSharedSecret(ownSecret, peerPublic));
  const info = canonicalBytes({ purpose, ...binding });
  return scope.track(hkdf(sha256, shared, undefined, info, 32));
}

export function sealShare(
  ownSecret: Uint8Array,
  recipientPublic: Uint8Array,
  binding: ShareBinding,
  share: Uint8Array,
  scope: SecretScope,
  purpose: SharePurpose = 'frostline/dkg-share/v1',
): SealedShare {
  const key = shareKey(ownSecret, recipientPublic, binding, scope, purpose);
  const iv = randomIv();
  const ct = aesGcmSeal(key, iv, share, canonicalBytes(binding));
  return { iv: bytesToHex(iv), ct: bytesToHex(ct) };
}

/** Returns the share (owned by `scope`), or undefined if it does not authenticate. */
export function openShare(
  ownSecret: Uint8Array,
  senderPublic: Uint8Array,
  binding: ShareBinding,
  sealed: SealedShare,
  scope: SecretScope,
  purpose: SharePurpose = 'frostline/dkg-share/v1',
): Uint8Array | undefined {
  const key = shareKey(ownSecret, senderPublic, binding, scope, purpose);
  const share = aesGcmOpen(key, decodeHex(sealed.iv, 'iv', 12), decodeHex(sealed.ct, 'ct'), canonicalBytes(binding));
  return share === undefined ? undefined : scope.track(share);
}
