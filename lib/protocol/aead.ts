/** AES-256-GCM through node:crypto, returning plain Uint8Arrays the caller can wipe. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { secretBytes } from './secret-scope.js';

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export function randomIv(): Uint8Array {
  return new Uint8Array(randomBytes(GCM_IV_BYTES));
}

/** Returns ciphertext || tag. */
export function aesGcmSeal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const out = new Uint8Array(head.length + tail.length + GCM_TAG_BYTES);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(cipher.getAuthTag(), head.length + tail.length);
  return out;
}

/** Opens ciphertext || tag; returns undefined when authentication fails. The result is secret: wipe it. */
export function aesGcmOpen(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < GCM_TAG_BYTES) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
  // Off the JavaScript heap: a 32-byte share in a plain Uint8Array could be moved (and so
  // copied) by the garbage collector before the caller's scope wipes it.
  const plaintext = secretBytes(sealed.length - GCM_TAG_BYTES);
  const head = decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES));
  plaintext.set(head);
  head.fill(0);
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    return undefined;
  }
  return plaintext;
}
