/**
 * The suite's scalar field with a `fromBytes` that leaves no readable copy of the scalar.
 *
 * noble's `Field.fromBytes` (little-endian) makes a byte-reversed copy of its input and a
 * "0x…" hex string of it on the way to a bigint. For a signing share (`signShare` decodes it
 * on every signature) those two are garbage holding the whole secret in the V8 heap until
 * later allocation happens to overwrite them; the memory scan (test/e2e/memory-scan.test.ts)
 * found them once point checks were cached and less was allocated after a signature.
 *
 * Here the scalar is assembled from its 64-bit limbs with noble's own field operations,
 * under a random blind: acc = blind + Σ limbᵢ·2⁶⁴ⁱ, scalar = acc − blind (mod the order).
 * Every intermediate is either one 8-byte limb or a blinded sum, so no 16 contiguous bytes
 * of the scalar exist anywhere but in the final bigint's digits (which no JavaScript code
 * can wipe; README "Secrets in memory"). Range checking compares limbs, never the scalar.
 * Anything but a full-width little-endian field without reduction goes to the stock method.
 */
import { randomBytes } from 'node:crypto';
import type { IField } from '@noble/curves/abstract/modular.js';

const LIMB_BYTES = 8;
const LIMB_BITS = 64n;
const LIMB_MASK = (1n << LIMB_BITS) - 1n;

/** The parts of noble's Field this module reads (its private `_lengths`/`_mod` decide eligibility). */
type NobleField = IField<bigint> & { readonly isLE?: boolean; readonly _lengths?: unknown; readonly _mod?: unknown };

export function withUncopiedFromBytes<F extends IField<bigint>>(Fn: F): F {
  const field = Fn as F & NobleField;
  const limbCount = field.BYTES / LIMB_BYTES;
  const eligible = field.isLE === true && field._lengths === undefined && !field._mod && Number.isInteger(limbCount);
  if (!eligible) return Fn;
  // Public constants: the order's limbs (for the range check) and 2^(64 i) mod the order.
  const orderLimbs = Array.from({ length: limbCount }, (_, i) => (field.ORDER >> (LIMB_BITS * BigInt(i))) & LIMB_MASK);
  const limbWeights = Array.from({ length: limbCount }, (_, i) => field.create(1n << (LIMB_BITS * BigInt(i))));

  const fromBytes = (bytes: Uint8Array, skipValidation = false): bigint => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== field.BYTES) return Fn.fromBytes(bytes, skipValidation);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const limbs = Array.from({ length: limbCount }, (_, i) => view.getBigUint64(i * LIMB_BYTES, true));
    // Not a canonical scalar (so not one of our secrets): the stock method decides, with
    // its own refusal or, unvalidated, its unreduced value.
    if (!belowOrder(limbs, orderLimbs)) return Fn.fromBytes(bytes, skipValidation);
    // The stock decoder on fresh random bytes: nothing secret passes through it.
    const blind = field.create(Fn.fromBytes(randomBytes(field.BYTES), true));
    let acc = blind;
    limbs.forEach((limb, i) => {
      acc = field.add(acc, field.mul(limb, limbWeights[i] ?? 0n));
    });
    return field.sub(acc, blind);
  };
  // Every other member (and `this` inside them) resolves to the stock field.
  // (Defined, not assigned: noble freezes its fields, and assignment would hit the frozen prototype's property.)
  return Object.create(Fn, { fromBytes: { value: fromBytes, enumerable: true } }) as F;
}

/** Whether the little-endian limbs are below the order's, compared from the top limb down. */
function belowOrder(limbs: readonly bigint[], orderLimbs: readonly bigint[]): boolean {
  for (let i = limbs.length - 1; i >= 0; i--) {
    const limb = limbs[i] ?? 0n;
    const bound = orderLimbs[i] ?? 0n;
    if (limb !== bound) return limb < bound;
  }
  return false; // equal to the order
}
