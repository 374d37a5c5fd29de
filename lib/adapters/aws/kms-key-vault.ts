/**
 * KeyVault on AWS KMS. The master key (symmetric, ENCRYPT_DECRYPT) wraps data keys for
 * envelope encryption; the identity key (asymmetric, SIGN_VERIFY) signs messages. Neither
 * private key leaves KMS.
 *
 * Plaintext data keys are returned to the caller, who wipes them. The SDK also decoded them
 * from a base64 response body that JavaScript cannot wipe; that copy is garbage once the
 * call returns and is never referenced, logged or put in an error.
 */
import { createPublicKey } from 'node:crypto';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ConfigError, FrostlineError } from '../../ports/errors.js';
import {
  type DataKey,
  type EncryptionContext,
  IdentityAlgorithm,
  type IdentityPublicKey,
  type KeyVault,
} from '../../ports/key-vault.js';
import { awsErrorName, infrastructureError } from './errors.js';

/** KMS `Sign` accepts at most 4096 bytes with MessageType RAW (and pure Ed25519 has no other mode). */
export const KMS_MAX_RAW_SIGN_BYTES = 4096;

const DATA_KEY_BYTES = 32;

/** Per identity algorithm: the KMS key spec it needs and the signing algorithm used with it. */
const IDENTITY = {
  [IdentityAlgorithm.ed25519]: { keySpec: 'ECC_NIST_EDWARDS25519', signing: 'ED25519_SHA_512', nodeKeyType: 'ed25519' },
  [IdentityAlgorithm.p256]: { keySpec: 'ECC_NIST_P256', signing: 'ECDSA_SHA_256', nodeKeyType: 'ec/prime256v1' },
} as const satisfies Record<IdentityAlgorithm, { keySpec: string; signing: SigningAlgorithmSpec; nodeKeyType: string }>;

/**
 * Decrypt errors that mean "this ciphertext cannot be opened with this key and context":
 * permanent for this input, so not an infrastructure failure. `InvalidCiphertextException`
 * is what KMS (and moto) return for a wrong encryption context or tampered blob;
 * `IncorrectKeyException` for a blob made under another key than the `KeyId` we pin.
 */
const DECRYPT_REFUSALS = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

export interface KmsKeyVaultOptions {
  readonly client: KMSClient;
  /** Symmetric ENCRYPT_DECRYPT key for data keys: key id, ARN or alias. */
  readonly masterKeyId: string;
  /** Asymmetric SIGN_VERIFY identity key: key id, ARN or alias. */
  readonly identityKeyId: string;
  /** Must match the identity key's spec; checked by `identityPublicKey()`. */
  readonly identityAlgorithm: IdentityAlgorithm;
}

export class KmsKeyVault implements KeyVault {
  private readonly client: KMSClient;
  private readonly masterKeyId: string;
  private readonly identityKeyId: string;
  private readonly identityAlgorithm: IdentityAlgorithm;
  private publicKey: Promise<IdentityPublicKey> | undefined;

  constructor(options: KmsKeyVaultOptions) {
    const problems: string[] = [];
    if (options.masterKeyId.length === 0) problems.push('masterKeyId is empty');
    if (options.identityKeyId.length === 0) problems.push('identityKeyId is empty');
    if (!Object.hasOwn(IDENTITY, options.identityAlgorithm)) {
      problems.push(`identityAlgorithm ${JSON.stringify(options.identityAlgorithm)} is not one of ${Object.keys(IDENTITY).join(', ')}`);
    }
    if (problems.length > 0) throw new ConfigError(`invalid KmsKeyVault options: ${problems.join('; ')}`);
    this.client = options.client;
    this.masterKeyId = options.masterKeyId;
    this.identityKeyId = options.identityKeyId;
    this.identityAlgorithm = options.identityAlgorithm;
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const encryptionContext = checkedContext(context);
    let output;
    try {
      output = await this.client.send(
        new GenerateDataKeyCommand({ KeyId: this.masterKeyId, KeySpec: 'AES_256', EncryptionContext: encryptionContext }),
      );
    } catch (error) {
      throw infrastructureError('kms:GenerateDataKey', error);
    }
    const plaintext = output.Plaintext;
    const encrypted = output.CiphertextBlob;
    if (plaintext === undefined || plaintext.length !== DATA_KEY_BYTES || encrypted === undefined || encrypted.length === 0) {
      plaintext?.fill(0);
      throw new FrostlineError('kms-malformed-response', 'kms:GenerateDataKey returned no 32-byte data key and ciphertext');
    }
    return { plaintext, encrypted };
  }

  async decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const encryptionContext = checkedContext(context);
    if (encrypted.length === 0) throw new FrostlineError('decrypt-failed', 'kms:Decrypt: the encrypted data key is empty');
    let output;
    try {
      output = await this.client.send(
        new DecryptCommand({
          CiphertextBlob: encrypted,
          EncryptionContext: encryptionContext,
          // Pinning the key makes KMS refuse blobs made under any other key, instead of
          // trusting the key id the blob names.
          KeyId: this.masterKeyId,
        }),
      );
    } catch (error) {
      const name = awsErrorName(error);
      if (name !== undefined && DECRYPT_REFUSALS.has(name)) {
        throw new FrostlineError(
          'decrypt-failed',
          `kms:Decrypt refused the data key (${name}): wrong encryption context, wrong key, or a damaged blob`,
          { cause: error },
        );
      }
      throw infrastructureError('kms:Decrypt', error);
    }
    const plaintext = output.Plaintext;
    if (plaintext === undefined || plaintext.length !== DATA_KEY_BYTES) {
      plaintext?.fill(0);
      throw new FrostlineError('kms-malformed-response', 'kms:Decrypt returned no 32-byte data key');
    }
    return plaintext;
  }

  async signIdentity(message: Uint8Array): Promise<Uint8Array> {
    if (message.length === 0) throw new FrostlineError('malformed', 'kms:Sign: message is empty');
    // Refused for both algorithms alike, so that tests on P-256 (emulators) meet the limit
    // that production Ed25519 keys (RAW only) cannot avoid.
    if (message.length > KMS_MAX_RAW_SIGN_BYTES) {
      throw new FrostlineError(
        'message-too-large',
        `kms:Sign: ${message.length} bytes exceeds the ${KMS_MAX_RAW_SIGN_BYTES}-byte limit for MessageType RAW`,
      );
    }
    let output;
    try {
      output = await this.client.send(
        new SignCommand({
          KeyId: this.identityKeyId,
          Message: message,
          MessageType: 'RAW',
          SigningAlgorithm: IDENTITY[this.identityAlgorithm].signing,
        }),
      );
    } catch (error) {
      throw infrastructureError('kms:Sign', error);
    }
    if (output.Signature === undefined || output.Signature.length === 0) {
      throw new FrostlineError('kms-malformed-response', 'kms:Sign returned no signature');
    }
    return output.Signature;
  }

  /** Fetched once per instance (public data); a failed fetch is not cached. */
  identityPublicKey(): Promise<IdentityPublicKey> {
    this.publicKey ??= this.fetchPublicKey().catch((error: unknown) => {
      this.publicKey = undefined;
      throw error;
    });
    return this.publicKey;
  }

  private async fetchPublicKey(): Promise<IdentityPublicKey> {
    let output;
    try {
      output = await this.client.send(new GetPublicKeyCommand({ KeyId: this.identityKeyId }));
    } catch (error) {
      throw infrastructureError('kms:GetPublicKey', error);
    }
    const expected = IDENTITY[this.identityAlgorithm];
    // moto returns only the deprecated CustomerMasterKeySpec; real KMS returns both.
    const keySpec = output.KeySpec ?? output.CustomerMasterKeySpec;
    if (keySpec !== expected.keySpec || output.KeyUsage !== 'SIGN_VERIFY') {
      throw new ConfigError(
        `identity key ${this.identityKeyId} is ${String(keySpec)}/${String(output.KeyUsage)}; ` +
          `identityAlgorithm ${this.identityAlgorithm} needs ${expected.keySpec}/SIGN_VERIFY`,
      );
    }
    if (output.PublicKey === undefined || output.PublicKey.length === 0) {
      throw new FrostlineError('kms-malformed-response', 'kms:GetPublicKey returned no public key');
    }
    // Decode the SPKI once, strictly: the key we pin must be the kind we sign with.
    let publicKey;
    try {
      publicKey = createPublicKey({ key: Buffer.from(output.PublicKey), format: 'der', type: 'spki' });
    } catch (error) {
      throw new FrostlineError('kms-malformed-response', 'kms:GetPublicKey returned an unreadable SPKI', { cause: error });
    }
    const kind =
      publicKey.asymmetricKeyType === 'ec' ? `ec/${String(publicKey.asymmetricKeyDetails?.namedCurve)}` : String(publicKey.asymmetricKeyType);
    if (kind !== expected.nodeKeyType) {
      throw new FrostlineError('kms-malformed-response', `kms:GetPublicKey returned a ${kind} key, expected ${expected.nodeKeyType}`);
    }
    return { alg: this.identityAlgorithm, spki: Buffer.from(output.PublicKey).toString('hex') };
  }
}

/** A fresh plain copy (the SDK wants a mutable record); KMS refuses an empty key or value. */
function checkedContext(context: EncryptionContext): Record<string, string> {
  const copy: Record<string, string> = {};
  const entries = Object.entries(context);
  if (entries.length === 0) throw new FrostlineError('malformed', 'encryption context is empty');
  for (const [key, value] of entries) {
    if (key.length === 0 || typeof value !== 'string' || value.length === 0) {
      throw new FrostlineError('malformed', `encryption context entry ${JSON.stringify(key)} is empty or not a string`);
    }
    copy[key] = value;
  }
  return copy;
}
