/**
 * Independent verification of final signatures, as a relying party would: Ed25519 and Ed448
 * with node:crypto (OpenSSL), BIP340 with libsecp256k1 (tiny-secp256k1), never with noble.
 */
import { createPublicKey, verify } from 'node:crypto';
import * as secp from 'tiny-secp256k1';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED448_SPKI_PREFIX = Buffer.from('3043300506032b6571033a00', 'hex');

export function verifyWithNodeCrypto(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, message, key, Buffer.from(signatureHex, 'hex'));
}

/** RFC 8032 Ed448 by OpenSSL (RFC 8410 SPKI prefix). */
export function ed448Verifies(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  const key = createPublicKey({ key: Buffer.concat([ED448_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, message, key, Buffer.from(signatureHex, 'hex'));
}

/** BIP340 by libsecp256k1: x-only key, 32-byte message. */
export function bip340Verifies(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  return secp.verifySchnorr(message, Buffer.from(publicKeyHex, 'hex'), Buffer.from(signatureHex, 'hex'));
}
