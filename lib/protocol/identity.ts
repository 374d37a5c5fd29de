/**
 * Identity signatures on envelopes. Keys are pinned in configuration (DER SPKI); verifying
 * is local OpenSSL work, never a KMS call per message.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { decodeHex } from './encoding.js';

const parsedKeys = new Map<string, KeyObject>();

function publicKeyObject(key: IdentityPublicKey): KeyObject {
  const cacheKey = `${key.alg}:${key.spki}`;
  let parsed = parsedKeys.get(cacheKey);
  if (parsed === undefined) {
    parsed = createPublicKey({ key: Buffer.from(decodeHex(key.spki, 'publicKey.spki')), format: 'der', type: 'spki' });
    const actual = parsed.asymmetricKeyType === 'ed25519' ? 'ed25519' : parsed.asymmetricKeyType === 'ec' ? 'p256' : 'other';
    if (actual !== key.alg) throw new TypeError(`pinned key declares ${key.alg} but holds ${actual}`);
    parsedKeys.set(cacheKey, parsed);
  }
  return parsed;
}

/** True when `signature` is `key`'s signature over `message` (Ed25519, or ECDSA P-256/SHA-256 DER). */
export function verifyIdentitySignature(key: IdentityPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(key.alg === 'ed25519' ? null : 'sha256', message, publicKeyObject(key), signature);
  } catch {
    return false;
  }
}

/** Validates a pinned key once, at configuration time, so a typo fails at start-up. */
export function assertUsablePublicKey(key: IdentityPublicKey): void {
  publicKeyObject(key);
}
