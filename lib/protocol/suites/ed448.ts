/**
 * FROST(Ed448, SHAKE256) (RFC 9591 §6.3) over noble's stock `ed448_FROST` (no point cache),
 * verified independently by OpenSSL's Ed448 (RFC 8032) through node:crypto.
 */
import { ed448, ed448_FROST } from '@noble/curves/ed448.js';
import { shake256 } from '@noble/hashes/sha3.js';
import type { CHash } from '@noble/hashes/utils.js';
import { verifyWithOpenSSL, type Suite, type SuiteSizes } from '../suite.js';
import { stockElementCheck } from './stock-element.js';

/** RFC 9591 §6.3: Ne = Ns = 57; RFC 8032 Ed448 signatures are 114 bytes, keys 57. */
export const ED448_SIZES: SuiteSizes = { element: 57, scalar: 57, signature: 114, publicKey: 57 };

// DER prefix of an Ed448 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { algorithm id-Ed448, BIT STRING }.
const ED448_SPKI_PREFIX = Uint8Array.from([0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0x00]);

/** RFC 9591 §6.3 H: SHAKE256 with a 114-byte output (a `create()` the nonce generator can wipe). */
const SHAKE256_114_BYTES = 2 * ED448_SIZES.scalar;
const shake256x114: CHash = Object.assign((message: Uint8Array) => shake256(message, { dkLen: SHAKE256_114_BYTES }), {
  outputLen: SHAKE256_114_BYTES,
  blockLen: shake256.blockLen,
  canXOF: false,
  create: () => shake256.create({ dkLen: SHAKE256_114_BYTES }),
});

export function verifyEd448WithOpenSSL(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyWithOpenSSL(ED448_SPKI_PREFIX, ED448_SIZES, publicKey, message, signature);
}

export const ed448Suite: Suite = {
  name: 'ed448',
  id: 'FROST-ED448-SHAKE256-v1',
  scheme: 'Ed448',
  frost: ed448_FROST,
  sizes: ED448_SIZES,
  hash: shake256x114,
  Point: ed448.Point,
  isValidElement: stockElementCheck(ed448.Point, ED448_SIZES.element),
  publicKeyOf: (groupElement) => groupElement,
  prepareVerifier: () => Promise.resolve(),
  verifyFinal: verifyEd448WithOpenSSL,
};
