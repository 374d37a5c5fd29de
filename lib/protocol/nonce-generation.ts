/**
 * Round one of FROST signing (RFC 9591 §5.1) with nonce generation (§4.1) done here rather
 * than by noble's `frost.commit()`, so that every buffer holding the signing share is ours
 * and is wiped:
 *
 *   nonce_generate(secret) = H3(random_bytes(32) || SerializeScalar(secret))
 *   H3(m) = H(contextString || "nonce" || m) mod L   (Ed25519: SHA-512, Ed448: SHAKE256-114, little-endian)
 *   H3(m) = hash_to_field(m) with expand_message_xmd(SHA-256), DST contextString || "nonce"  (secp256k1)
 *
 * noble's commit() builds `random || share` and then `DST || random || share` in fresh
 * arrays it never wipes; a memory scan after a signing round found the share in them. Here
 * the hash input is one buffer we allocate (outside the JavaScript heap, so the garbage
 * collector never moves it and leaves a stale copy behind), hashed by one noble hasher
 * whose own block buffer `destroy()` zeroes, and wiped with the random bytes and the digest
 * in `finally`. The share is copied as bytes: it never becomes a bigint here.
 *
 * What stays unwipeable: the digest → scalar reduction and the commitment multiplication
 * run on noble bigints (the nonce, not the share); see README, "Secrets in memory".
 */
import { randomFillSync } from 'node:crypto';
import { bytesToNumberBE, bytesToNumberLE } from '@noble/curves/utils.js';
import { utf8ToBytes } from './encoding.js';
import { secretBytes } from './secret-scope.js';
import type { Suite } from './suite.js';
import { StoredStateError } from '../ports/errors.js';

/** Fills its argument with fresh random bytes. Production: the OS CSPRNG; tests inject vectors. */
export type RandomFill = (out: Uint8Array) => void;

const osRandom: RandomFill = (out) => {
  randomFillSync(out);
};

/** RFC 9591 §4.1: 32 bytes of fresh randomness per nonce. */
export const NONCE_RANDOM_BYTES = 32;

/** The shape noble's `frost.commit()` returns, so callers can swap one for the other. */
export interface Round1Commit {
  /** Secret: owned by the caller, who must wipe both (they are off-heap buffers). */
  readonly nonces: { readonly hiding: Uint8Array<ArrayBuffer>; readonly binding: Uint8Array<ArrayBuffer> };
  readonly commitments: { readonly identifier: string; readonly hiding: Uint8Array<ArrayBuffer>; readonly binding: Uint8Array<ArrayBuffer> };
}

/**
 * RFC 9591 §4.1 nonce_generate: the nonce as SerializeScalar bytes, in a fresh off-heap
 * buffer the caller must wipe. `secret` is the serialized signing share.
 */
export function generateNonce(suite: Suite, secret: Uint8Array, random: RandomFill = osRandom): Uint8Array<ArrayBuffer> {
  return nonceToBytes(suite, nonceScalar(suite, secret, random));
}

function nonceScalar(suite: Suite, secret: Uint8Array, random: RandomFill): bigint {
  const { Fn } = suite.frost.utils;
  // The share comes from our own sealed store: a wrong length means the stored item is not ours.
  if (secret.length !== Fn.BYTES) throw new StoredStateError(`signing share must be ${Fn.BYTES} bytes`);
  // H3's domain separation tag: contextString || "nonce" (public).
  const dst = utf8ToBytes(`${suite.id}nonce`);
  if (suite.hashToScalar !== undefined) return hashToFieldNonce(suite.hashToScalar, dst, secret, random);
  const input = secretBytes(dst.length + NONCE_RANDOM_BYTES + secret.length);
  const digest = secretBytes(suite.hash.outputLen);
  const hasher = suite.hash.create();
  try {
    input.set(dst, 0);
    random(input.subarray(dst.length, dst.length + NONCE_RANDOM_BYTES));
    input.set(secret, dst.length + NONCE_RANDOM_BYTES);
    hasher.update(input).digestInto(digest);
    return Fn.create(Fn.isLE ? bytesToNumberLE(digest) : bytesToNumberBE(digest));
  } finally {
    input.fill(0);
    digest.fill(0);
    // Zeroes the hasher's block buffer (which held the tail of `input`) and its state.
    hasher.destroy();
  }
}

/**
 * H3 for suites that define it by hash_to_field (RFC 9591 §6.5, secp256k1): the message
 * random || share is built in our own buffer and wiped; noble's expand_message_xmd then
 * copies it into arrays of its own that we cannot wipe (README, "Secrets in memory").
 */
function hashToFieldNonce(hashToScalar: NonNullable<Suite['hashToScalar']>, dst: Uint8Array, secret: Uint8Array, random: RandomFill): bigint {
  const input = secretBytes(NONCE_RANDOM_BYTES + secret.length);
  try {
    random(input.subarray(0, NONCE_RANDOM_BYTES));
    input.set(secret, NONCE_RANDOM_BYTES);
    return hashToScalar(input, dst);
  } finally {
    input.fill(0);
  }
}

/** SerializeScalar into an off-heap buffer; noble's own output array is wiped at once. */
function nonceToBytes(suite: Suite, nonce: bigint): Uint8Array<ArrayBuffer> {
  const { Fn } = suite.frost.utils;
  const serialized = Fn.toBytes(nonce);
  try {
    const out = secretBytes(Fn.BYTES);
    out.set(serialized);
    return out;
  } finally {
    serialized.fill(0);
  }
}

/**
 * RFC 9591 §5.1 commit(): a hiding and a binding nonce and their commitments
 * (ScalarBaseMult of each), in noble's `frost.commit()` shape.
 */
export function commitRound1(
  suite: Suite,
  secret: { readonly identifier: string; readonly signingShare: Uint8Array },
  random: RandomFill = osRandom,
): Round1Commit {
  const hidingNonce = nonceScalar(suite, secret.signingShare, random);
  const bindingNonce = nonceScalar(suite, secret.signingShare, random);
  // ScalarBaseMult; noble refuses a zero nonce here (probability 2^-252), which fails the round.
  // Public bytes, copied only to type them as noble's commit() output. Where the suite can,
  // it remembers them as checked: they return to this party inside the signing package.
  const commitment = (nonce: bigint) => Uint8Array.from(suite.baseMultiple?.(nonce) ?? suite.Point.BASE.multiply(nonce).toBytes());
  const commitments = { identifier: secret.identifier, hiding: commitment(hidingNonce), binding: commitment(bindingNonce) };
  const hiding = nonceToBytes(suite, hidingNonce);
  try {
    return { nonces: { hiding, binding: nonceToBytes(suite, bindingNonce) }, commitments };
  } catch (error) {
    hiding.fill(0);
    throw error;
  }
}
