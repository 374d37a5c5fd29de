/**
 * Envelope encryption of stored secrets: a fresh data key from the vault per item
 * (KMS GenerateDataKey in production) encrypts the secret with AES-256-GCM; the AAD is the
 * item's table key, so a ciphertext moved to another item does not open.
 */
import * as z from 'zod/mini';
import { FrostlineError } from '../ports/errors.js';
import type { EncryptionContext, KeyVault } from '../ports/key-vault.js';
import type { ItemKey } from '../ports/store.js';
import { aesGcmOpen, aesGcmSeal, randomIv } from './aead.js';
import { bytesToHex, decodeHex, utf8ToBytes } from './encoding.js';
import type { SecretScope } from './secret-scope.js';

export const SealedBlob = z.strictObject({
  /** The data key, encrypted by the vault under `context`. */
  dataKey: z.string().check(z.regex(/^[0-9a-f]+$/)),
  iv: z.string().check(z.regex(/^[0-9a-f]{24}$/)),
  ciphertext: z.string().check(z.regex(/^[0-9a-f]+$/)),
});
export type SealedBlob = z.infer<typeof SealedBlob>;

export type SecretPurpose = 'key-share' | 'dkg-state' | 'nonce' | 'reshare-state';

/** The encryption context every data key is bound to (checked again by KMS on Decrypt). */
export function secretContext(party: string, keyId: string, purpose: SecretPurpose): EncryptionContext {
  return { service: 'frostline', party, keyId, purpose };
}

function itemAad(key: ItemKey): Uint8Array {
  return utf8ToBytes(`${key.pk}\u0000${key.sk}`);
}

export async function sealSecret(
  vault: KeyVault,
  context: EncryptionContext,
  key: ItemKey,
  plaintext: Uint8Array,
  scope: SecretScope,
): Promise<SealedBlob> {
  const dataKey = await vault.generateDataKey(context);
  scope.track(dataKey.plaintext);
  const iv = randomIv();
  const ciphertext = aesGcmSeal(dataKey.plaintext, iv, plaintext, itemAad(key));
  return { dataKey: bytesToHex(dataKey.encrypted), iv: bytesToHex(iv), ciphertext: bytesToHex(ciphertext) };
}

/** Decrypts a stored secret into a buffer owned by `scope`. */
export async function openSecret(
  vault: KeyVault,
  context: EncryptionContext,
  key: ItemKey,
  blob: SealedBlob,
  scope: SecretScope,
): Promise<Uint8Array> {
  const dataKey = scope.track(await vault.decryptDataKey(decodeHex(blob.dataKey, 'dataKey'), context));
  const plaintext = aesGcmOpen(dataKey, decodeHex(blob.iv, 'iv'), decodeHex(blob.ciphertext, 'ciphertext'), itemAad(key));
  if (plaintext === undefined) {
    throw new FrostlineError('decrypt-failed', `stored secret at ${key.pk} failed authentication (tampered or moved)`);
  }
  return scope.track(plaintext);
}
