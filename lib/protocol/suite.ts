/**
 * The ciphersuite, as options: protocol code only talks to `Suite`, so adding another
 * FROST ciphersuite later is configuration, not a rewrite (noble's createFROST shape).
 */
import { createPublicKey, verify } from 'node:crypto';
import { createFROST, type FROST } from '@noble/curves/abstract/frost.js';
import { sha512 } from '@noble/hashes/sha2.js';
import type { CHash } from '@noble/hashes/utils.js';
import { concatBytes } from './encoding.js';
import { withUncopiedFromBytes } from './secret-scalar-field.js';
import { DEFAULT_POINT_CACHE_ENTRIES, validatedPoints, type ValidatedPoints } from './validated-points.js';

export type Frost = FROST;

export interface Suite {
  /** RFC 9591 §6.1 context string; carried in keygen requests and checked on read. */
  readonly id: string;
  readonly frost: Frost;
  /**
   * The suite's hash H and group, for round-one nonce generation done in our own buffers
   * (nonce-generation.ts): H3(m) = H(id || "nonce" || m) mod the order, as in the Ed25519,
   * Ed448 and ristretto255 suites (P-256 and secp256k1 use hash_to_field and would need a
   * hook of their own).
   */
  readonly hash: CHash;
  readonly Point: { readonly BASE: { multiply(scalar: bigint): { toBytes(): Uint8Array } } };
  /**
   * RFC 9591 §3.1 DeserializeElement as a predicate: the bytes encode a point on the curve
   * (canonically), not the identity, in the prime-order subgroup. Checked on receipt of
   * every nonce commitment, so a bad one is pinned on its sender rather than failing later.
   */
  isValidElement(bytes: Uint8Array): boolean;
  /** Independent verification of a final signature with another implementation (OpenSSL). */
  verifyFinal(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { algorithm id-Ed25519, BIT STRING }.
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** Verifies an RFC 8032 Ed25519 signature with node:crypto (OpenSSL), not with noble. */
export function verifyEd25519WithOpenSSL(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** The Ed25519 suite with its point cache exposed (counts for tests and the bench). */
export interface Ed25519Suite extends Suite {
  readonly points: ValidatedPoints;
}

/**
 * FROST(Ed25519, SHA-512) as `ed25519_FROST` builds it (same name, hash and undecorated
 * H2), but over `validated-points.ts`' Point: each distinct point encoding is fully checked
 * once, then read from a bounded cache. `isValidElement` reads through the same cache, so a
 * nonce commitment checked on receipt is not checked again when noble reads it.
 */
export function createEd25519Suite(options: { readonly pointCacheEntries?: number } = {}): Ed25519Suite {
  const points = validatedPoints(options.pointCacheEntries ?? DEFAULT_POINT_CACHE_ENTRIES);
  const frost = createFROST({
    name: 'FROST-ED25519-SHA512-v1',
    Point: points.Point,
    // Decodes the signing share in signShare without byte-reversed or hex copies of it.
    Fn: withUncopiedFromBytes(points.Point.Fn),
    validatePoint: points.validatePoint,
    hash: sha512,
    // RFC 9591 §6.1 keeps H2 undecorated for RFC 8032 compatibility (as in ed25519_FROST).
    H2: '',
  });
  return {
    id: 'FROST-ED25519-SHA512-v1',
    frost,
    hash: sha512,
    Point: points.Point,
    isValidElement: points.isValidElement,
    verifyFinal: verifyEd25519WithOpenSSL,
    points,
  };
}

/**
 * The process's suite. Its point cache is process-wide on purpose: a point's validity is a
 * function of its bytes alone, so a warm process (Lambda container) that already checked a
 * group key, verifying share or round-1 commitment need not check it again in the next
 * invocation; nothing but public points that passed every check is kept, and it is bounded.
 */
export const ed25519Suite: Ed25519Suite = createEd25519Suite();

export function suiteById(id: string): Suite | undefined {
  return id === ed25519Suite.id ? ed25519Suite : undefined;
}
