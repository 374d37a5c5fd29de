/**
 * The three prime-order groups derivation runs over, as byte-level operations composed from
 * noble's points and scalar fields (no arithmetic of our own). Points go in and out as their
 * suite encodings; bigints stay inside one call.
 */
import { randomFillSync } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ed448 } from '@noble/curves/ed448.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { IField } from '@noble/curves/abstract/modular.js';
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { withUncopiedFromBytes } from '../secret-scalar-field.js';
import { secretBytes } from '../secret-scope.js';

export type CurveName = 'ed25519' | 'ed448' | 'secp256k1';

interface NoblePoint<P> {
  add(other: P): P;
  negate(): P;
  multiply(scalar: bigint): P;
  equals(other: P): boolean;
  is0(): boolean;
  toBytes(): Uint8Array;
}
interface NoblePointCons<P extends NoblePoint<P>> {
  readonly BASE: P;
  readonly ZERO: P;
  readonly Fn: IField<bigint>;
  fromBytes(bytes: Uint8Array): P;
}

/** A derivation that cannot be done (bad point, a tweak BIP32 calls invalid): permanent, one line. */
export class DerivationError extends RefusedError {
  override readonly name = 'DerivationError';
  constructor(message: string) {
    super(RefusalCode.malformed, message);
  }
}

export interface Group {
  readonly curve: CurveName;
  readonly order: bigint;
  /** Encoded point length: 32 (Ed25519), 57 (Ed448), 33 compressed (secp256k1). */
  readonly pointBytes: number;
  readonly scalarBytes: number;
  /** Throws `DerivationError` unless `bytes` encodes a point that is not the identity. */
  assertPoint(bytes: Uint8Array, field: string): void;
  /** ±P + b·G, refusing the identity (a child key nobody could use). */
  affinePoint(point: Uint8Array, negate: boolean, add: bigint): Uint8Array;
  /** s·G. */
  baseMultiply(scalar: bigint): Uint8Array;
  /** Scalar codec in the suite's own byte order (little-endian for Edwards, big-endian for secp256k1). */
  scalarFromBytes(bytes: Uint8Array): bigint;
  scalarToBytes(scalar: bigint): Uint8Array;
  /** a mod order, into [0, order). */
  mod(a: bigint): bigint;
  /**
   * Σ scalar_i · point_i over encoded points (each decoded and refused if invalid or the
   * identity), encoded; undefined when the sum is the identity (which secp256k1 cannot
   * encode). Public inputs only: the lifecycle's Feldman checks and verifying shares.
   */
  combine(terms: readonly { readonly point: Uint8Array; readonly scalar: bigint }[]): Uint8Array | undefined;
  /** The scalar field (noble's), for Lagrange coefficients and polynomial evaluation over public or per-call values. */
  readonly field: IField<bigint>;
}

const LIMB_BYTES = 8;
const LIMB_MASK = (1n << 64n) - 1n;

/**
 * Scalar → bytes for tweaked shares (s_i + τ with τ public is as secret as s_i), without
 * noble's `numberToBytes` (a hex string of it) and without shifting the secret itself
 * (`n >> 64` is a bigint whose digits are a 24-byte copy of it; memory-scan.test.ts finds
 * those). Under a random blind b: m = n + b is split into limbs (every shift of m is
 * blinded), then n's bytes are m's minus b's, one byte at a time, into the caller's buffer.
 * Both helper buffers are wiped. Fields not a multiple of 8 bytes wide (Ed448's 57) use the
 * stock method.
 */
function scalarWriter(Fn: IField<bigint>): (scalar: bigint) => Uint8Array {
  if (Fn.BYTES % LIMB_BYTES !== 0) return (scalar) => Fn.toBytes(Fn.create(scalar));
  const width = Fn.BYTES + LIMB_BYTES; // one more limb for the carry of n + b
  const limbs = width / LIMB_BYTES;
  return (scalar) => {
    // Off-heap buffers (secret-scope.ts `secretBytes`): V8 moves small on-heap typed arrays and leaves stale copies.
    const blindBytes = secretBytes(width);
    // Filled in place: a separate random buffer would hold the blind, and with it the masked value gives n back.
    randomFillSync(blindBytes.subarray(0, Fn.BYTES));
    const blindView = new DataView(blindBytes.buffer);
    let blind = 0n;
    for (let i = limbs - 1; i >= 0; i--) blind = (blind << 64n) | blindView.getBigUint64(i * LIMB_BYTES, true);
    const masked = Fn.create(scalar) + blind;
    const maskedBytes = secretBytes(width);
    const maskedView = new DataView(maskedBytes.buffer);
    for (let i = 0; i < limbs; i++) maskedView.setBigUint64(i * LIMB_BYTES, (masked >> (64n * BigInt(i))) & LIMB_MASK, true);
    const out = secretBytes(Fn.BYTES);
    let borrow = 0;
    for (let j = 0; j < Fn.BYTES; j++) {
      const d = (maskedBytes[j] ?? 0) - (blindBytes[j] ?? 0) - borrow;
      borrow = d < 0 ? 1 : 0;
      out[j] = d & 0xff;
    }
    maskedBytes.fill(0);
    blindBytes.fill(0);
    return Fn.isLE ? out : out.reverse();
  };
}

function groupOf<P extends NoblePoint<P>>(curve: CurveName, Point: NoblePointCons<P>, pointBytes: number): Group {
  const Fn = Point.Fn;
  // Decoding a share without byte-reversed or hex copies of it (secret-scalar-field.ts; LE fields only).
  const secretFn = withUncopiedFromBytes(Fn);
  const writeScalar = scalarWriter(Fn);
  const decode = (bytes: Uint8Array, field: string): P => {
    let point: P;
    try {
      point = Point.fromBytes(bytes);
    } catch {
      throw new DerivationError(`${field} is not a valid ${curve} point`);
    }
    if (point.is0()) throw new DerivationError(`${field} is the identity point`);
    return point;
  };
  const times = (scalar: bigint): P => (Fn.create(scalar) === 0n ? Point.ZERO : Point.BASE.multiply(Fn.create(scalar)));
  return {
    curve,
    order: Fn.ORDER,
    pointBytes,
    scalarBytes: Fn.BYTES,
    assertPoint: (bytes, field) => void decode(bytes, field),
    affinePoint(bytes, negate, add) {
      const point = decode(bytes, 'point');
      const out = (negate ? point.negate() : point).add(times(add));
      if (out.is0()) throw new DerivationError('tweaked point is the identity');
      return out.toBytes();
    },
    baseMultiply: (scalar) => times(scalar).toBytes(),
    scalarFromBytes: (bytes) => secretFn.fromBytes(bytes),
    scalarToBytes: writeScalar,
    mod: (a) => Fn.create(a),
    combine(terms) {
      let sum = Point.ZERO;
      for (const { point, scalar } of terms) {
        const k = Fn.create(scalar);
        const decoded = decode(point, 'point');
        if (k !== 0n) sum = sum.add(k === 1n ? decoded : decoded.multiply(k));
      }
      return sum.is0() ? undefined : sum.toBytes();
    },
    field: Fn,
  };
}

export const ed25519Group: Group = groupOf('ed25519', ed25519.Point, 32);
export const ed448Group: Group = groupOf('ed448', ed448.Point, 57);
export const secp256k1Group: Group = groupOf('secp256k1', secp256k1.Point, 33);

export function groupOfCurve(curve: CurveName): Group {
  return curve === 'ed25519' ? ed25519Group : curve === 'ed448' ? ed448Group : secp256k1Group;
}
