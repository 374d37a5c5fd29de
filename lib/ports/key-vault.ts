/**
 * A party's keys. The production vault is KMS; the embedded default keeps a master key in
 * a 0600 file. Either way private identity keys and master keys never leave the vault:
 * callers get data keys (to wipe after one use) and signatures.
 */

/** Bound into every data key; a key generated under one context cannot be opened under another. */
export type EncryptionContext = Readonly<Record<string, string>>;

export interface DataKey {
  /** Plaintext AES-256 key. The caller MUST wipe it before its invocation returns. */
  readonly plaintext: Uint8Array;
  /** The same key, encrypted under the vault's master key; safe to store. */
  readonly encrypted: Uint8Array;
}

export const IdentityAlgorithm = { ed25519: 'ed25519', p256: 'p256' } as const;
export type IdentityAlgorithm = (typeof IdentityAlgorithm)[keyof typeof IdentityAlgorithm];

/** A public identity key as pinned in configuration: algorithm + DER SubjectPublicKeyInfo (hex). */
export interface IdentityPublicKey {
  readonly alg: IdentityAlgorithm;
  readonly spki: string;
}

export interface KeyVault {
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
  /** Signs `message` with the identity key (Ed25519 pure, or ECDSA P-256 over SHA-256). */
  signIdentity(message: Uint8Array): Promise<Uint8Array>;
  identityPublicKey(): Promise<IdentityPublicKey>;
  /**
   * Optional: a short-lived message-signing key certified by the identity key, used for the
   * envelope types that allow it (lib/protocol/delegation.ts) instead of one identity
   * signature per envelope. Absent: every envelope is signed by the identity key.
   */
  readonly delegation?: EnvelopeDelegation;
}

/** A delegated signing key and the certificate its holder's identity key gave it. */
export interface DelegatedKey {
  /** The certificate, as carried in the envelope's `cert` field (public data). */
  readonly certificate: DelegationCertificateWire;
  /** Ed25519 signature by the delegated private key (which never leaves this object). */
  sign(message: Uint8Array): Uint8Array;
}

export interface EnvelopeDelegation {
  /** A key whose certificate is valid at `now` for long enough to be relayed; renewed as needed. */
  keyAt(now: number): Promise<DelegatedKey>;
}

/** The certificate fields (schema: DelegationCertificateSchema in lib/protocol/messages.ts). */
export interface DelegationCertificateWire {
  readonly v: 1;
  readonly purpose: 'frostline/delegation/v1';
  readonly holder: string;
  readonly role: 'party' | 'coordinator';
  readonly publicKey: string;
  readonly notBefore: number;
  readonly expires: number;
  readonly sig: string;
}
