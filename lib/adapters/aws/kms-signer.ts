/**
 * An initiator (or approver) key held in AWS KMS: `ECC_NIST_EDWARDS25519` (ED25519_SHA_512)
 * or `ECC_NIST_P256` (ECDSA_SHA_256). The private key never leaves KMS; the application's
 * role needs `kms:Sign` and `kms:GetPublicKey` on this key only.
 *
 * @example
 * ```ts
 * const signer = new KmsSigner({ client: new KMSClient({}), keyId: 'alias/payments-initiator' });
 * const client = new FrostlineClient({ initiatorId: 'payments', signer, ... });
 * ```
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { IdentitySigner } from '../../client/initiator.js';
import { IdentityAlgorithm, type IdentityPublicKey } from '../../ports/key-vault.js';
import { KmsKeyVault } from './kms-key-vault.js';

/**
 * KmsKeyVault insists on a master key for data keys; a signer never asks for one, and this
 * id, were it ever sent, is no key id, ARN or alias, so KMS would refuse it.
 */
const NO_MASTER_KEY = 'frostline:signer-has-no-master-key';

export interface KmsSignerOptions {
  readonly client: KMSClient;
  /** Key id, ARN or alias of an asymmetric SIGN_VERIFY key. */
  readonly keyId: string;
  /** Must match the key's spec; checked on the first `identityPublicKey()`. @default 'ed25519' */
  readonly algorithm?: IdentityAlgorithm;
}

export class KmsSigner implements IdentitySigner {
  readonly #vault: KmsKeyVault;

  constructor(options: KmsSignerOptions) {
    // The same Sign and GetPublicKey code (and checks) as the parties' identity keys.
    this.#vault = new KmsKeyVault({
      client: options.client,
      masterKeyId: NO_MASTER_KEY,
      identityKeyId: options.keyId,
      identityAlgorithm: options.algorithm ?? IdentityAlgorithm.ed25519,
    });
  }

  signIdentity(message: Uint8Array): Promise<Uint8Array> {
    return this.#vault.signIdentity(message);
  }

  /** The public key to pin for this initiator (fetched once; the key spec is checked). */
  identityPublicKey(): Promise<IdentityPublicKey> {
    return this.#vault.identityPublicKey();
  }
}
