/**
 * RFC 9591 §3.1 DeserializeElement for Ed25519, run once per distinct encoding.
 *
 * noble's FROST decodes a point each time it reads one (a DKG round 3 reads every round-1
 * commitment twice, a signature share's verification re-reads the whole commitment list)
 * and runs the full check on each read: on-curve, not the identity, and the subgroup check
 * (a scalar multiplication by the group order, ~1 ms); ed25519_FROST's `validatePoint` hook
 * then repeats the curve and subgroup checks. Here the Point constructor handed to
 * `createFROST` decodes through a bounded cache of encodings that passed the full check.
 *
 * Why this cannot accept an invalid point:
 * - only an encoding that passed every check is ever stored; a refusal stores nothing, so
 *   an invalid encoding is checked (and refused) again every time it is seen;
 * - the key is the exact 32 bytes: another encoding of a cached point (non-canonical y,
 *   x = 0 with the sign bit set) misses and goes through noble's strict decoder, which
 *   refuses it;
 * - validity depends on the bytes alone (no key, session or party), so sharing the cache
 *   across requests changes no decision, only how often it is computed;
 * - the skipped checks are skipped only for instances this module created after the full
 *   check (a WeakSet): a `new Point(...)` from elsewhere, or any point produced by
 *   arithmetic (noble returns the base class), is checked in full as before.
 *
 * No curve arithmetic here: which of noble's checks run, and how often.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

const EdPoint = ed25519.Point;
type EdPoint = InstanceType<typeof EdPoint>;

/** RFC 9591 §6.1 Ne: an Ed25519 element's encoding (RFC 8032 point), the cache's key. */
const ELEMENT_BYTES = ed25519.lengths.publicKey;

/** Cumulative counts, for tests and the bench (not used for decisions). */
export interface PointCounts {
  /** Decodes asked for (every `fromBytes`, i.e. every point noble or we read). */
  readonly decodes: number;
  /** Full checks run (decode + on-curve + identity + subgroup): the expensive part. */
  readonly validations: number;
}

export interface ValidatedPoints {
  /** The Point constructor to give `createFROST`: `fromBytes` is DeserializeElement (refuses invalid elements). */
  readonly Point: typeof EdPoint;
  /** `createFROST`'s `validatePoint` hook: the point must have come through `Point.fromBytes`. */
  validatePoint(point: EdPoint): void;
  /** RFC 9591 §3.1 DeserializeElement as a predicate, through the same cache. */
  isValidElement(bytes: Uint8Array): boolean;
  /**
   * ScalarBaseMult(k) for a non-zero scalar k, encoded; the encoding is remembered as checked.
   * Sound without a check: a non-zero multiple of the base point is on the curve, not the
   * identity and in the prime-order subgroup by construction. A party's own nonce
   * commitments come back to it in the signing package; this spares their re-check.
   */
  baseMultiple(scalar: bigint): Uint8Array;
  counts(): PointCounts;
  /** Forgets every cached encoding (a cold process); counts are kept. */
  clear(): void;
  readonly size: number;
  readonly capacity: number;
}

/**
 * Default bound: a 20-party DKG reads 319 distinct points per party and a signature at most
 * 2n + 1 + t at the coordinator; 2048 entries (~1.2 KiB each, measured: key string, Point
 * and its four bigints) hold about 2.4 MiB. Overflow only evicts (re-checked when next seen).
 */
export const DEFAULT_POINT_CACHE_ENTRIES = 2048;

/** RFC 9591 §3.1: on the curve, not the identity, in the prime-order subgroup (noble's own checks). */
function fullCheck(point: EdPoint): void {
  point.assertValidity();
  if (point.is0()) throw new Error('invalid point: identity');
  if (!point.isTorsionFree()) throw new Error('bad point: not in prime-order subgroup');
}

/**
 * RFC 9591 §3.1 DeserializeElement as a predicate over any noble Point constructor, with no
 * cache: the stock behaviour (the bench's and tests' reference for counting checks).
 */
export function elementCheck(Point: { fromBytes(bytes: Uint8Array): EdPoint }): (bytes: Uint8Array) => boolean {
  return (bytes) => {
    try {
      fullCheck(Point.fromBytes(bytes));
      return true;
    } catch {
      return false; // not an encoding of a valid element
    }
  };
}

/**
 * A bounded cache of validated encodings and the Point constructor that reads through it.
 * `capacity` 0 keeps nothing: every decode runs the full check.
 */
export function validatedPoints(capacity: number = DEFAULT_POINT_CACHE_ENTRIES): ValidatedPoints {
  if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError('capacity must be a non-negative integer');
  // Least recently used first: a Map iterates in insertion order, and a hit re-inserts.
  const cache = new Map<string, EdPoint>();
  // Instances created below after the full check, and no others.
  const checked = new WeakSet<EdPoint>();
  let decodes = 0;
  let validations = 0;

  /** Caches a checked point under its encoding, evicting the least recently used beyond `capacity`. */
  function remember(key: string, point: EdPoint): void {
    if (capacity === 0) return;
    if (cache.size >= capacity) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(key, point);
  }

  class ValidatedPoint extends EdPoint {
    /**
     * noble's arithmetic returns base-class points and its MSM type-checks `p instanceof
     * Point` against the constructor it was given: any Ed25519 point is one of ours for
     * that purpose (the subclass adds no state; trust is the WeakSet, never instanceof).
     */
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof EdPoint;
    }

    /** Strict RFC 8032 decoding plus the RFC 9591 §3.1 checks; throws on anything else. */
    static override fromBytes(bytes: Uint8Array, zip215 = false): EdPoint {
      decodes += 1;
      // ZIP-215 accepts non-canonical encodings: never what FROST wants, so never cached.
      if (zip215) throw new Error('ZIP-215 decoding is not DeserializeElement');
      const key = bytes instanceof Uint8Array && bytes.length === ELEMENT_BYTES ? bytesToHex(bytes) : undefined;
      const hit = key === undefined ? undefined : cache.get(key);
      if (hit !== undefined && key !== undefined) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      validations += 1;
      const decoded = EdPoint.fromBytes(bytes);
      fullCheck(decoded);
      const point = new ValidatedPoint(decoded.X, decoded.Y, decoded.Z, decoded.T);
      checked.add(point);
      if (key !== undefined) remember(key, point);
      return point;
    }

    static override fromHex(hex: string, zip215 = false): EdPoint {
      // The base class's fromHex calls the base fromBytes; route it through the check.
      return ValidatedPoint.fromBytes(hexToBytes(hex), zip215);
    }

    // noble's FROST calls these on every point it parses: skip them for a point that
    // passed them when this module created it, run them in full for any other.
    override assertValidity(): void {
      if (!checked.has(this)) super.assertValidity();
    }

    override isTorsionFree(): boolean {
      return checked.has(this) || super.isTorsionFree();
    }
  }

  return {
    Point: ValidatedPoint,
    validatePoint(point) {
      // noble has already run the mandatory checks (skipped above only for checked points);
      // this only pins the invariant that every point noble parses came through our decoder.
      if (!checked.has(point)) fullCheck(point);
    },
    isValidElement(bytes) {
      try {
        ValidatedPoint.fromBytes(bytes);
        return true;
      } catch {
        return false; // not an encoding of a valid element
      }
    },
    baseMultiple(scalar) {
      // noble refuses a zero scalar here, so the result is never the identity.
      const computed = EdPoint.BASE.multiply(scalar);
      const bytes = computed.toBytes();
      const point = new ValidatedPoint(computed.X, computed.Y, computed.Z, computed.T);
      checked.add(point);
      remember(bytesToHex(bytes), point);
      return bytes;
    },
    counts: () => ({ decodes, validations }),
    clear() {
      cache.clear();
    },
    get size() {
      return cache.size;
    },
    capacity,
  };
}
