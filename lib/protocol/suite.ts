/**
 * The ciphersuite, as options: protocol code only talks to `Suite`, so another FROST
 * ciphersuite is configuration, not a rewrite (noble's createFROST shape). A key's suite is
 * fixed at keygen (suites.ts has the registry); every size on the wire and in storage comes
 * from `Suite.sizes`.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createFROST, type FROST } from '@noble/curves/abstract/frost.js';
import { sha512 } from '@noble/hashes/sha2.js';
import type { CHash } from '@noble/hashes/utils.js';
import { concatBytes } from './encoding.js';
import { withUncopiedFromBytes } from './secret-scalar-field.js';
import { DEFAULT_POINT_CACHE_ENTRIES, validatedPoints, type ValidatedPoints } from './validated-points.js';

export type Frost = FROST;

/** Byte lengths of a suite's encodings (RFC 9591 §6 Ne, Ns; signature and public key as the verifier takes them). */
export interface SuiteSizes {
  /** SerializeElement: commitments, verifying shares, nonce commitments. */
  readonly element: number;
  /** SerializeScalar: identifiers, signing shares, signature shares. */
  readonly scalar: number;
  /** A final signature (and a DKG proof of knowledge, which has the same shape). */
  readonly signature: number;
  /** The group public key as the independent verifier takes it (x-only for BIP340). */
  readonly publicKey: number;
}

export interface Suite {
  /** The user-facing name (`ed25519`, `secp256k1-tr`, `ed448`): SDK and CLI options, results. */
  readonly name: string;
  /** RFC 9591 §6 context string; carried in keygen requests, key records and attestations. */
  readonly id: string;
  /** The signature scheme its signatures are, for people: `Ed25519`, `Ed448`, `BIP340`. */
  readonly scheme: string;
  readonly frost: Frost;
  readonly sizes: SuiteSizes;
  /**
   * Messages this suite signs must have exactly this many bytes (BIP340 as Taproot and
   * libsecp256k1's verifier use it signs a 32-byte digest); undefined: any length.
   */
  readonly messageBytes?: number;
  /**
   * The suite's hash H and group, for round-one nonce generation done in our own buffers
   * (nonce-generation.ts): H3(m) = H(id || "nonce" || m) mod the order, as in the Ed25519
   * and Ed448 suites. Suites whose H3 is hash_to_field (secp256k1) set `hashToScalar`.
   */
  readonly hash: CHash;
  /** RFC 9591 §6.5 H3 by hash_to_field (expand_message_xmd): used instead of `hash` when present. */
  readonly hashToScalar?: (message: Uint8Array, dst: Uint8Array) => bigint;
  readonly Point: { readonly BASE: { multiply(scalar: bigint): { toBytes(): Uint8Array } } };
  /**
   * RFC 9591 §3.1 DeserializeElement as a predicate: the bytes encode a point on the curve
   * (canonically), not the identity, in the prime-order subgroup. Checked on receipt of
   * every nonce commitment, so a bad one is pinned on its sender rather than failing later.
   */
  isValidElement(bytes: Uint8Array): boolean;
  /** ScalarBaseMult of a non-zero scalar, encoded, where the suite can remember it as checked (validated-points.ts). */
  readonly baseMultiple?: (scalar: bigint) => Uint8Array;
  /** The group public key as the verifier takes it, from the group commitment (SerializeElement). */
  publicKeyOf(groupElement: Uint8Array): Uint8Array;
  /**
   * Loads what `verifyFinal` needs (libsecp256k1's WASM for BIP340), once per process; a
   * no-op for suites verified by node:crypto. Callers that verify await it first.
   */
  prepareVerifier(): Promise<void>;
  /** Independent verification of a final signature with another implementation (OpenSSL, libsecp256k1). */
  verifyFinal(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Ed25519's sizes (RFC 9591 §6.1: Ne = Ns = 32; RFC 8032 signatures and keys). */
export const ED25519_SIZES: SuiteSizes = { element: 32, scalar: 32, signature: 64, publicKey: 32 };

/** What every Ed25519 suite object shares besides its frost instance and point checks. */
export const ED25519_TRAITS = {
  name: 'ed25519',
  id: 'FROST-ED25519-SHA512-v1',
  scheme: 'Ed25519',
  sizes: ED25519_SIZES,
  hash: sha512,
  publicKeyOf: (groupElement: Uint8Array) => groupElement,
  prepareVerifier: () => Promise.resolve(),
} as const;

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { algorithm id-Ed25519, BIT STRING }.
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** Verifies an RFC 8032 Ed25519 signature with node:crypto (OpenSSL), not with noble. */
export function verifyEd25519WithOpenSSL(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyWithOpenSSL(ED25519_SPKI_PREFIX, ED25519_SIZES, publicKey, message, signature);
}

/** An RFC 8032 EdDSA verification by OpenSSL: the raw key under its RFC 8410 SPKI prefix. */
export function verifyWithOpenSSL(
  spkiPrefix: Uint8Array,
  sizes: Pick<SuiteSizes, 'publicKey' | 'signature'>,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== sizes.publicKey || signature.length !== sizes.signature) return false;
  try {
    return verify(null, message, verifierKeyObject(concatBytes(spkiPrefix, publicKey)), signature);
  } catch {
    return false;
  }
}

/**
 * OpenSSL key objects by SPKI, for the few group keys (and child keys) a process verifies
 * under: parsing the DER costs about as much as the verification itself, and every
 * signature is verified at least twice (coordinator, SDK). Only parsed keys are kept (a
 * refused encoding throws before it is stored); the bound only evicts.
 */
const verifierKeys = new Map<string, KeyObject>();
const VERIFIER_KEY_CACHE_ENTRIES = 256;

function verifierKeyObject(spki: Uint8Array): KeyObject {
  const cacheKey = Buffer.from(spki).toString('hex');
  const cached = verifierKeys.get(cacheKey);
  if (cached !== undefined) return cached;
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  if (verifierKeys.size >= VERIFIER_KEY_CACHE_ENTRIES) {
    const oldest = verifierKeys.keys().next();
    if (oldest.done !== true) verifierKeys.delete(oldest.value);
  }
  verifierKeys.set(cacheKey, key);
  return key;
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
    ...ED25519_TRAITS,
    frost,
    Point: points.Point,
    isValidElement: points.isValidElement,
    baseMultiple: points.baseMultiple,
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
