/**
 * Each curve point validated once (issue #14): our Ed25519 suite (createFROST over
 * validated-points.ts) against noble's stock `ed25519_FROST`. Counts, not times: how many
 * full point checks a signature and a DKG cost; and fast-check properties that the cache
 * changes no output for honest input and no refusal for hostile input.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ED25519_TORSION_SUBGROUP, ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import type { DKG_Round1, DKG_Secret, Key, NonceCommitments } from '@noble/curves/abstract/frost.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { stockCountingSuite } from '../../../lib/dev/point-meter.js';
import { createEd25519Suite, type Frost } from '../../../lib/protocol/suite.js';
import { elementCheck, validatedPoints } from '../../../lib/protocol/validated-points.js';

const EdPoint = ed25519.Point;
const stock: Frost = ed25519_FROST;
const stockIsValidElement = elementCheck(EdPoint);

/** A deterministic RNG: the same seed gives stock and ours the same randomness. */
function seededRng(seed: Uint8Array): (n?: number) => Uint8Array<ArrayBuffer> {
  let counter = 0;
  return (n = 32) => {
    const out = new Uint8Array(n);
    for (let filled = 0; filled < n; filled += 64) {
      counter += 1;
      out.set(sha512(concatBytes(seed, Uint8Array.of(counter & 0xff, counter >> 8))).subarray(0, Math.min(64, n - filled)), filled);
    }
    return out;
  };
}

/** Runs a whole DKG with `frost`, one RNG per party; every party's round outputs and key. */
function runDkg(frost: Frost, t: number, n: number, seed: Uint8Array) {
  const signers = { min: t, max: n };
  const ids = Array.from({ length: n }, (_, i) => frost.Identifier.fromNumber(i + 1));
  const round1 = ids.map((id, i) => frost.DKG.round1(id, signers, undefined, seededRng(concatBytes(seed, Uint8Array.of(i)))));
  const publics: DKG_Round1[] = round1.map((r) => r.public);
  const secrets: DKG_Secret[] = round1.map((r) => r.secret);
  const round2 = secrets.map((secret, i) => frost.DKG.round2(secret, publics.filter((_, j) => j !== i)));
  const keys: Key[] = secrets.map((secret, i) => {
    const id = ids[i] ?? '';
    const received = round2.flatMap((out, j) => (j === i ? [] : [out[id]].filter((p) => p !== undefined)));
    return frost.DKG.round3(secret, publics.filter((_, j) => j !== i), received);
  });
  return { ids, publics, round2, keys };
}

/** commit (seeded), signShare, verifyShare and aggregate for the first t parties. */
function runSign(frost: Frost, keys: readonly Key[], t: number, msg: Uint8Array, seed: Uint8Array) {
  const signing = keys.slice(0, t);
  const commits = signing.map((k, i) => frost.commit(k.secret, seededRng(concatBytes(seed, Uint8Array.of(i)))));
  const list: NonceCommitments[] = commits.map((c) => c.commitments);
  const shares: Record<string, Uint8Array> = {};
  signing.forEach((k, i) => {
    const commit = commits[i];
    if (commit !== undefined) shares[k.secret.identifier] = frost.signShare(k.secret, k.public, commit.nonces, list, msg);
  });
  const pub = signing[0]?.public;
  if (pub === undefined) throw new Error('no signer');
  const verified = signing.map((k) => frost.verifyShare(pub, list, msg, k.secret.identifier, shares[k.secret.identifier] ?? new Uint8Array(32)));
  const signature = frost.aggregate(pub, list, msg, shares);
  return { list, shares, verified, signature };
}

const hexOf = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? bytesToHex(v) : typeof v === 'bigint' ? v.toString(16) : v)));

/** The error message `fn` throws, or 'ok: <result>' (so refusals compare exactly). */
function outcome(fn: () => unknown): string {
  try {
    return `ok: ${JSON.stringify(hexOf(fn()))}`;
  } catch (error) {
    return `throws: ${(error as Error).message}`;
  }
}

/** Little-endian 32-byte encoding of `y` with the x sign bit. */
function encodeY(y: bigint, sign: boolean): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0, v = y; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  if (sign) out[31] = (out[31] ?? 0) | 0x80;
  return out;
}

const P = EdPoint.Fp.ORDER;
const ORDER_8 = ED25519_TORSION_SUBGROUP[1] ?? '';
const withTorsion = (bytes: Uint8Array) => EdPoint.fromBytes(bytes).add(EdPoint.fromHex(ORDER_8)).toBytes();

/** Encodings RFC 9591 §3.1 refuses: small order, non-canonical, off-curve, torsion component. */
const HOSTILE: readonly [string, Uint8Array][] = [
  ...ED25519_TORSION_SUBGROUP.map((h, i): [string, Uint8Array] => [`torsion point ${i}`, hexToBytes(h)]),
  // y ≥ p (what ZIP-215 would accept as y − p), with and without the sign bit.
  ...[0n, 1n, 3n, 4n, 18n].flatMap((k): [string, Uint8Array][] => [
    [`y = p + ${k}`, encodeY(P + k, false)],
    [`y = p + ${k}, sign bit`, encodeY(P + k, true)],
  ]),
  // x = 0 with the sign bit set (the identity and the order-2 point, "negative zero").
  ['y = 1, x = -0', encodeY(1n, true)],
  ['y = p - 1, x = -0', encodeY(P - 1n, true)],
  ['y = 2: off the curve', encodeY(2n, false)],
  ['all ones', new Uint8Array(32).fill(0xff)],
  ['31 bytes', new Uint8Array(31).fill(1)],
  ['33 bytes', concatBytes(EdPoint.BASE.toBytes(), Uint8Array.of(0))],
  ['base point + order-8 point', withTorsion(EdPoint.BASE.toBytes())],
];

describe('point validations per operation (counts)', () => {
  it('a 2-of-3 signature (signShare ×2, verifyShare ×2, aggregate) validates each of its 7 points once, not 31 times', () => {
    const dealt = stock.trustedDealer({ min: 2, max: 3 }, undefined, undefined, seededRng(Uint8Array.of(1)));
    const keys: Key[] = Object.values(dealt.secretShares).map((secret) => ({ public: dealt.public, secret }));
    for (const [suite, bound] of [
      [stockCountingSuite(), 31],
      [createEd25519Suite(), 8],
    ] as const) {
      const before = suite.points.counts();
      runSign(suite.frost, keys, 2, new Uint8Array([1, 2, 3]), Uint8Array.of(2));
      const after = suite.points.counts();
      // The same 31 decodes either way (noble reads a point wherever it needs it) ...
      expect(after.decodes - before.decodes).toBe(31);
      // ... but only the 7 distinct points (group key, 2 verifying shares, 4 nonce
      // commitments) are checked by our suite; stock checks every decode.
      if (bound === 8) expect(after.validations - before.validations).toBe(7);
      else expect(after.validations - before.validations).toBe(31);
      expect(after.validations - before.validations).toBeLessThanOrEqual(bound);
    }
  });

  it.each([
    { t: 2, n: 3 },
    { t: 3, n: 5 },
  ])('a $t-of-$n DKG checks each distinct point once per party: ≤ n·t commitments + n−1 proof-of-knowledge nonces', ({ t, n }) => {
    const signers = { min: t, max: n };
    const suites = Array.from({ length: n }, () => createEd25519Suite());
    const ids = suites.map((s, i) => s.frost.Identifier.fromNumber(i + 1));
    const round1 = suites.map((s, i) => s.frost.DKG.round1(ids[i] ?? '', signers));
    const publics = round1.map((r) => r.public);
    const round2 = suites.map((s, i) => s.frost.DKG.round2(round1[i]?.secret as DKG_Secret, publics.filter((_, j) => j !== i)));
    suites.forEach((s, i) => {
      const id = ids[i] ?? '';
      const received = round2.flatMap((out, j) => (j === i ? [] : [out[id]].filter((p) => p !== undefined)));
      s.frost.DKG.round3(round1[i]?.secret as DKG_Secret, publics.filter((_, j) => j !== i), received);
    });
    for (const s of suites) {
      // Own t commitments, (n−1)·t others', n−1 proof-of-knowledge R: every one checked, each once.
      expect(s.points.counts().validations).toBe(n * t + n - 1);
      expect(s.points.counts().decodes).toBeGreaterThan(s.points.counts().validations);
    }
  });
});

describe('baseMultiple: points our own code computed', () => {
  it('encodes k·G exactly as noble does and remembers it: reading it back costs no check', () => {
    const points = validatedPoints();
    const k = 0x1234567890abcdefn;
    const bytes = points.baseMultiple(k);
    expect(bytesToHex(bytes)).toBe(bytesToHex(EdPoint.BASE.multiply(k).toBytes()));
    const before = points.counts().validations;
    expect(points.Point.fromBytes(bytes).equals(EdPoint.BASE.multiply(k))).toBe(true);
    expect(points.counts().validations).toBe(before);
  });

  it('refuses a zero scalar (the identity is never remembered) and vouches for no other encoding', () => {
    const points = validatedPoints();
    expect(() => points.baseMultiple(0n)).toThrow();
    const bytes = points.baseMultiple(7n);
    // The same point plus a torsion component: a different encoding, checked and refused.
    const torsion = EdPoint.fromHex(ED25519_TORSION_SUBGROUP[1] ?? '');
    const tampered = EdPoint.fromBytes(bytes).add(torsion).toBytes();
    expect(points.isValidElement(tampered)).toBe(false);
    expect(points.isValidElement(bytes)).toBe(true);
  });

  it('party commitments come from it in the Ed25519 suite', () => {
    const suite = createEd25519Suite();
    expect(suite.baseMultiple).toBe(suite.points.baseMultiple);
  });
});

describe('same outputs as ed25519_FROST for honest input (fast-check)', () => {
  it('DKG rounds, commit, signShare, verifyShare and aggregate agree byte for byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 40 }), (seed, msg) => {
        const ours = createEd25519Suite().frost;
        const a = runDkg(stock, 2, 3, seed);
        const b = runDkg(ours, 2, 3, seed);
        expect(hexOf(b.publics)).toEqual(hexOf(a.publics));
        expect(hexOf(b.round2)).toEqual(hexOf(a.round2));
        expect(hexOf(b.keys)).toEqual(hexOf(a.keys));
        const signA = runSign(stock, a.keys, 2, msg, seed);
        const signB = runSign(ours, b.keys, 2, msg, seed);
        expect(hexOf(signB)).toEqual(hexOf(signA));
        expect(signB.verified).toEqual([true, true]);
        expect(ours.verify(signB.signature, msg, b.keys[0]?.public.commitments[0] ?? new Uint8Array())).toBe(true);
      }),
      { seed: 14, numRuns: 2 },
    );
  });
});

describe('same refusals as ed25519_FROST for hostile points', () => {
  // One honest 2-of-3 key and signing transcript, shared by the refusal checks below.
  const dealt = stock.trustedDealer({ min: 2, max: 3 }, undefined, undefined, seededRng(Uint8Array.of(9)));
  const keys: Key[] = Object.values(dealt.secretShares).map((secret) => ({ public: dealt.public, secret }));
  const msg = new Uint8Array([7]);
  const honest = runSign(stock, keys, 2, msg, Uint8Array.of(9));
  const pub = dealt.public;
  const firstId = keys[0]?.secret.identifier ?? '';
  const dkg = runDkg(stock, 2, 3, Uint8Array.of(3));

  /** The places noble reads an untrusted point, with `bad` substituted. */
  const attempts = (frost: Frost, bad: Uint8Array): (() => unknown)[] => [
    () => frost.verify(honest.signature, msg, bad),
    () => frost.verify(concatBytes(bad, honest.signature.subarray(32)), msg, pub.commitments[0] ?? bad),
    () => frost.verifyShare(pub, honest.list.map((c, i) => (i === 1 ? { ...c, hiding: bad } : c)), msg, firstId, honest.shares[firstId] ?? bad),
    () => frost.aggregate(pub, honest.list.map((c, i) => (i === 0 ? { ...c, binding: bad } : c)), msg, honest.shares),
    () => {
      // Round 2 on a fresh round-1 state of party 1, a later commitment of party 2 replaced.
      const secret = frost.DKG.round1(dkg.ids[0] ?? '', { min: 2, max: 3 }, undefined, seededRng(Uint8Array.of(5))).secret;
      const others = dkg.publics.slice(1).map((p, i) => (i === 0 ? { ...p, commitment: [p.commitment[0] ?? bad, bad] } : p));
      return frost.DKG.round2(secret, others);
    },
  ];

  /** Our suite, its cache already holding every honest point of the transcript (shared: refusals must not change it). */
  let warm: ReturnType<typeof createEd25519Suite> | undefined;
  function warmSuite() {
    if (warm !== undefined) return warm;
    warm = createEd25519Suite();
    for (const f of attempts(warm.frost, EdPoint.BASE.toBytes())) outcome(f);
    runSign(warm.frost, keys, 2, msg, Uint8Array.of(9));
    return warm;
  }

  it.each(HOSTILE)('%s: refused identically, every time it is seen (nothing invalid is cached)', (_what, bad) => {
    const suite = warmSuite();
    const expected = attempts(stock, bad).map(outcome);
    for (const round of [1, 2]) {
      expect(attempts(suite.frost, bad).map(outcome), `round ${round}`).toEqual(expected);
      expect(suite.isValidElement(bad)).toBe(false);
      expect(stockIsValidElement(bad)).toBe(false);
    }
    for (const e of expected) expect(e).toMatch(/^throws|^ok: false$/);
  });

  it('random 32-byte strings (mostly off-curve or with a torsion component): same accept/refuse, twice (fast-check)', () => {
    const suite = warmSuite();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const expected = outcome(() => stock.verify(honest.signature, msg, bytes));
        expect(outcome(() => suite.frost.verify(honest.signature, msg, bytes))).toBe(expected);
        expect(outcome(() => suite.frost.verify(honest.signature, msg, bytes))).toBe(expected);
        expect(suite.isValidElement(bytes)).toBe(stockIsValidElement(bytes));
      }),
      { seed: 14, numRuns: 40 },
    );
  });

  it('a cached valid point under another encoding is decoded afresh: sign bit flipped is −P, torsion added is refused', () => {
    const points = validatedPoints();
    for (const encoding of [...honest.list.flatMap((c) => [c.hiding, c.binding]), pub.commitments[0] ?? new Uint8Array()]) {
      const bytes = encoding.slice();
      const cached = points.Point.fromBytes(bytes);
      expect(points.Point.fromBytes(bytes)).toBe(cached); // a hit: the same checked instance
      const flipped = bytes.slice();
      flipped[31] = (flipped[31] ?? 0) ^ 0x80;
      const negated = points.Point.fromBytes(flipped);
      expect(negated.equals(cached.negate())).toBe(true);
      expect(negated.equals(cached)).toBe(false);
      expect(() => points.Point.fromBytes(withTorsion(bytes))).toThrow('bad point: not in prime-order subgroup');
      expect(() => points.Point.fromBytes(withTorsion(bytes))).toThrow('bad point: not in prime-order subgroup');
    }
    expect(() => points.Point.fromBytes(EdPoint.BASE.toBytes(), true)).toThrow(/ZIP-215/);
  });

  it('only instances it created skip the checks: a Point built from a torsion point\'s coordinates is checked in full', () => {
    const { Point } = validatedPoints();
    const small = EdPoint.fromHex(ORDER_8);
    const forged = new Point(small.X, small.Y, small.Z, small.T);
    expect(forged.isTorsionFree()).toBe(false);
    const offCurve = new Point(1n, 1n, 1n, 1n);
    expect(() => offCurve.assertValidity()).toThrow();
  });

  it('the cache is bounded: evicted entries are checked again on their next use, with the same result', () => {
    const points = validatedPoints(4);
    const encodings = Array.from({ length: 10 }, (_, i) => EdPoint.BASE.multiply(BigInt(i + 2)).toBytes());
    for (const e of encodings) points.Point.fromBytes(e);
    expect(points.size).toBe(4);
    expect(points.counts().validations).toBe(10);
    points.Point.fromBytes(encodings[9] ?? new Uint8Array()); // recent: a hit
    expect(points.counts().validations).toBe(10);
    const again = points.Point.fromBytes(encodings[0] ?? new Uint8Array()); // evicted: checked again
    expect(points.counts().validations).toBe(11);
    expect(bytesToHex(again.toBytes())).toBe(bytesToHex(encodings[0] ?? new Uint8Array()));
    expect(points.size).toBe(4);
    expect(() => validatedPoints(-1)).toThrow(RangeError);
  });
});
