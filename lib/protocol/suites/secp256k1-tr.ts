/**
 * FROST(secp256k1, SHA-256) for BIP340/Taproot (noble's `schnorr_FROST`): x-only group keys,
 * even-Y handling inside noble, and DKG output tweaked with the empty Taproot merkle root
 * (BIP341 key-path spend), as frost-secp256k1-tr does. Verified independently by
 * libsecp256k1 (tiny-secp256k1's WASM build), loaded only when such a key is used so that
 * processes that never see one never read the WASM file.
 *
 * The plain FROST(secp256k1, SHA-256) suite of RFC 9591 §6.5 (`secp256k1_FROST`) shares the
 * nonce hash below; it is not offered for keys (its 33-byte signatures match no common
 * verifier) but runs the RFC's test vectors through our nonce generation and signing code.
 */
import { hash_to_field } from '@noble/curves/abstract/hash-to-curve.js';
import { schnorr_FROST, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Suite, SuiteSizes } from '../suite.js';
import { stockElementCheck } from './stock-element.js';

/** RFC 9591 §6.5: Ne = 33 (compressed), Ns = 32; BIP340 signatures are 64 bytes, keys x-only 32. */
export const SECP256K1_TR_SIZES: SuiteSizes = { element: 33, scalar: 32, signature: 64, publicKey: 32 };

/** RFC 9591 §6.5 plain secp256k1: signatures are R (compressed) || z. */
export const SECP256K1_SIZES: SuiteSizes = { element: 33, scalar: 32, signature: 65, publicKey: 33 };

/** BIP340 as libsecp256k1 (and Taproot) uses it: the message is a 32-byte digest. */
const BIP340_MESSAGE_BYTES = 32;

/** RFC 9591 §6.5 security parameter k for hash_to_field (L = 48 bytes per scalar). */
const HASH_TO_FIELD_K = 128;

/** RFC 9591 §6.5 H3: hash_to_field(m, 1) with expand_message_xmd(SHA-256), DST = contextString || "nonce", modulo the order. */
export function secp256k1HashToScalar(message: Uint8Array, dst: Uint8Array): bigint {
  const [scalar] = hash_to_field(message, 1, { DST: dst, p: secp256k1.Point.Fn.ORDER, m: 1, k: HASH_TO_FIELD_K, expand: 'xmd', hash: sha256 });
  const value = scalar?.[0];
  if (value === undefined) throw new Error('hash_to_field returned no element');
  return value;
}

interface Bip340Verifier {
  verifySchnorr(h: Uint8Array, Q: Uint8Array, signature: Uint8Array): boolean;
}

let bip340: Bip340Verifier | undefined;

/** Loads libsecp256k1 (reads `secp256k1.wasm` beside tiny-secp256k1's loader) once per process. */
async function loadBip340(): Promise<void> {
  bip340 ??= await import('tiny-secp256k1');
}

/** BIP340 verification by libsecp256k1. False (not a throw) for anything it does not accept. */
export function verifyBip340WithLibsecp256k1(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (bip340 === undefined) throw new Error('libsecp256k1 is not loaded: await prepareVerifier() first');
  if (publicKey.length !== SECP256K1_TR_SIZES.publicKey || signature.length !== SECP256K1_TR_SIZES.signature || message.length !== BIP340_MESSAGE_BYTES) return false;
  try {
    return bip340.verifySchnorr(message, publicKey, signature);
  } catch {
    return false; // libsecp256k1 refused the key or signature encoding
  }
}

const elementCheck = stockElementCheck(secp256k1.Point, SECP256K1_TR_SIZES.element);

export const secp256k1TrSuite: Suite = {
  name: 'secp256k1-tr',
  id: 'FROST-secp256k1-SHA256-TR-v1',
  scheme: 'BIP340',
  frost: schnorr_FROST,
  sizes: SECP256K1_TR_SIZES,
  messageBytes: BIP340_MESSAGE_BYTES,
  hash: sha256,
  hashToScalar: secp256k1HashToScalar,
  Point: secp256k1.Point,
  isValidElement: elementCheck,
  // BIP340 keys are the x coordinate: the compressed encoding without its parity byte.
  publicKeyOf: (groupElement) => groupElement.subarray(1),
  prepareVerifier: loadBip340,
  verifyFinal: verifyBip340WithLibsecp256k1,
};

/** RFC 9591 §6.5 plain secp256k1, for the RFC's vectors only (no independent verifier: noble's own). */
export const secp256k1VectorSuite: Suite = {
  name: 'secp256k1',
  id: 'FROST-secp256k1-SHA256-v1',
  scheme: 'FROST(secp256k1, SHA-256)',
  frost: secp256k1_FROST,
  sizes: SECP256K1_SIZES,
  hash: sha256,
  hashToScalar: secp256k1HashToScalar,
  Point: secp256k1.Point,
  isValidElement: elementCheck,
  publicKeyOf: (groupElement) => groupElement,
  prepareVerifier: () => Promise.resolve(),
  verifyFinal: (publicKey, message, signature) => {
    try {
      return secp256k1_FROST.verify(signature, message, publicKey);
    } catch {
      return false;
    }
  },
};
