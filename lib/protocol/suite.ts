/**
 * The ciphersuite, as options: protocol code only talks to `Suite`, so adding another
 * FROST ciphersuite later is configuration, not a rewrite (noble's createFROST shape).
 */
import { createPublicKey, verify } from 'node:crypto';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import type { CHash } from '@noble/hashes/utils.js';
import { concatBytes } from './encoding.js';

export type Frost = typeof ed25519_FROST;

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

/** The point operations `elementCheck` needs: noble's Point constructors all have them. */
interface PointDecoder {
  fromBytes(bytes: Uint8Array): { assertValidity(): void; is0(): boolean; isTorsionFree(): boolean };
}

/** Builds a suite's `isValidElement` from its noble Point constructor (the checks noble's FROST applies internally). */
export function elementCheck(Point: PointDecoder): (bytes: Uint8Array) => boolean {
  return (bytes) => {
    try {
      const point = Point.fromBytes(bytes);
      point.assertValidity();
      return !point.is0() && point.isTorsionFree();
    } catch {
      return false; // not an encoding of a curve point at all
    }
  };
}

export const ed25519Suite: Suite = {
  id: 'FROST-ED25519-SHA512-v1',
  frost: ed25519_FROST,
  hash: sha512,
  Point: ed25519.Point,
  isValidElement: elementCheck(ed25519.Point),
  verifyFinal: verifyEd25519WithOpenSSL,
};

export function suiteById(id: string): Suite | undefined {
  return id === ed25519Suite.id ? ed25519Suite : undefined;
}
