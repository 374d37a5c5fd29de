/** Initiator keys held by the application itself (KmsKeyVault serves for keys held in KMS). */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { ConfigError } from '../ports/errors.js';
import { bytesToHex } from '../protocol/encoding.js';
import type { IdentitySigner } from './initiator.js';

/** An Ed25519 or P-256 private key from PKCS#8 PEM, signing in process. */
export class LocalKeySigner implements IdentitySigner {
  readonly #key: KeyObject;
  readonly #publicKey: IdentityPublicKey;

  constructor(privateKeyPem: string) {
    this.#key = createPrivateKey(privateKeyPem);
    const type = this.#key.asymmetricKeyType;
    if (type !== 'ed25519' && !(type === 'ec' && this.#key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
      throw new ConfigError('initiator key must be Ed25519 or P-256');
    }
    const spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' });
    this.#publicKey = { alg: type === 'ed25519' ? 'ed25519' : 'p256', spki: bytesToHex(spki) };
  }

  async signIdentity(message: Uint8Array): Promise<Uint8Array> {
    return sign(this.#publicKey.alg === 'ed25519' ? null : 'sha256', message, this.#key);
  }

  async identityPublicKey(): Promise<IdentityPublicKey> {
    return this.#publicKey;
  }

  toJSON(): string {
    return '<LocalKeySigner redacted>';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<LocalKeySigner redacted>';
  }
}
