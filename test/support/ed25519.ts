/** Independent verification of final signatures with node:crypto (OpenSSL), as a relying party would. */
import { createPublicKey, verify } from 'node:crypto';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function verifyWithNodeCrypto(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, message, key, Buffer.from(signatureHex, 'hex'));
}
