/**
 * Envelope encryption of stored secrets: a fresh data key from the vault per item
 * (KMS GenerateDataKey in production) encrypts the secret with AES-256-GCM; the AAD is the
 * item's table key, so a ciphertext moved to another item does not open.
 */
import * as z from 'zod/mini';
import { FrostlineError } from '../ports/errors.js';
import type { EncryptionContext, KeyVault } from '../ports/key-vault.js';
import type { ItemKey } from '../ports/store.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
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

/**
 * A secret sealed under a key derived from another item's data key (`sealDerived`): no data
 * key of its own, so opening it costs no KMS call beyond the parent item's.
 */
export const DerivedSealedBlob = z.strictObject({
  iv: z.string().check(z.regex(/^[0-9a-f]{24}$/)),
  ciphertext: z.string().check(z.regex(/^[0-9a-f]+$/)),
});
export type DerivedSealedBlob = z.infer<typeof DerivedSealedBlob>;

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
  return (await openSecretAndKey(vault, context, key, blob, scope)).plaintext;
}

/**
 * `openSecret`, also returning the item's plaintext data key (owned by `scope`), for opening
 * or sealing secrets derived from it (`openDerived`, `sealDerived`) in the same invocation.
 */
export async function openSecretAndKey(
  vault: KeyVault,
  context: EncryptionContext,
  key: ItemKey,
  blob: SealedBlob,
  scope: SecretScope,
): Promise<{ plaintext: Uint8Array; dataKey: Uint8Array }> {
  const dataKey = scope.track(await vault.decryptDataKey(decodeHex(blob.dataKey, 'dataKey'), context));
  const plaintext = aesGcmOpen(dataKey, decodeHex(blob.iv, 'iv'), decodeHex(blob.ciphertext, 'ciphertext'), itemAad(key));
  if (plaintext === undefined) {
    throw new FrostlineError('decrypt-failed', `stored secret at ${key.pk} failed authentication (tampered or moved)`);
  }
  return { plaintext: scope.track(plaintext), dataKey };
}

const DERIVED_KEY_INFO = 'frostline/derived-item-key/v1';

/**
 * The AES-256 key of one derived item: HKDF-SHA256 of the parent's data key, with the
 * purpose and the item's table key as info, so every item gets its own key (no IV is ever
 * reused under one key) and a ciphertext moved to another item or purpose does not open.
 * Whoever holds the parent data key can open these items; the parent (a key share) is the
 * more valuable secret already.
 */
function derivedItemKey(parentDataKey: Uint8Array, purpose: SecretPurpose, key: ItemKey, scope: SecretScope): Uint8Array {
  return scope.track(hkdf(sha256, parentDataKey, undefined, utf8ToBytes(`${DERIVED_KEY_INFO}\u0000${purpose}\u0000${key.pk}\u0000${key.sk}`), 32));
}

/** Seals `plaintext` for item `key` under a key derived from `parentDataKey` (from `openSecretAndKey`). */
export function sealDerived(parentDataKey: Uint8Array, purpose: SecretPurpose, key: ItemKey, plaintext: Uint8Array, scope: SecretScope): DerivedSealedBlob {
  const iv = randomIv();
  const ciphertext = aesGcmSeal(derivedItemKey(parentDataKey, purpose, key, scope), iv, plaintext, itemAad(key));
  return { iv: bytesToHex(iv), ciphertext: bytesToHex(ciphertext) };
}

/** Opens a `sealDerived` item into a buffer owned by `scope`; fails like `openSecret` when tampered, moved, or sealed under another parent key. */
export function openDerived(parentDataKey: Uint8Array, purpose: SecretPurpose, key: ItemKey, blob: DerivedSealedBlob, scope: SecretScope): Uint8Array {
  const plaintext = aesGcmOpen(derivedItemKey(parentDataKey, purpose, key, scope), decodeHex(blob.iv, 'iv'), decodeHex(blob.ciphertext, 'ciphertext'), itemAad(key));
  if (plaintext === undefined) {
    throw new FrostlineError('decrypt-failed', `stored secret at ${key.pk} failed authentication (tampered, moved, or sealed under a share since replaced)`);
  }
  return scope.track(plaintext);
}
