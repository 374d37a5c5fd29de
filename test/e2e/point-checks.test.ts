/**
 * Each curve point validated once (issue #14), on the embedded cluster with one suite per
 * node (each node's own process): how many full point checks a DKG and a signature cost each
 * node, and that a node whose cache already holds a point still refuses every other encoding
 * built from it, each time it is sent.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { PointMeter } from '../../lib/dev/point-meter.js';
import { RefusalCode } from '../../lib/ports/errors.js';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL } from '../../lib/protocol/directory.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { bodyOf, encoder, freshCopy, makeFixture, openFromFixture, openHarness, opensslVerifies, parseRaw, requiredVault, resign, Scratch, storeItems, typeOf, type Fixture, type Harness } from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

interface Commitment {
  identifier: string;
  hiding: string;
  binding: string;
}

const commitmentOf = (raw: string) => bodyOf(parseRaw(raw)).commitment as Commitment;
const validationsOf = (meter: PointMeter, node: string) => meter.suites.get(node)?.points.counts().validations ?? 0;
/** Two rounds always: these tests count (and forge) the two-round commitments; the one-round counterparts keep pools on. */
const TWO_ROUNDS = { ...DEFAULT_LIMITS, noncePool: false as const };

describe('point checks per node (counts, one suite per node)', () => {
  it('2-of-3: a DKG checks each distinct point once per party; a signature 2(t−1)+1 per signer (its own commitments are never re-checked), 2n+1 at the coordinator', async () => {
    const [t, n] = [2, 3];
    const meter = new PointMeter('warm');
    // Two rounds: the counts below are of the commitment round (pool batches are counted in the one-round test).
    const harness = await openHarness(await scratch.dir(), { parties: n, suiteFor: meter.suiteFor, limits: TWO_ROUNDS });
    const cluster = scratch.own(harness.cluster);
    const parties = ['p1', 'p2', 'p3'];

    const keygen = await cluster.keygen({ keyId: 'k1', threshold: t });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    // t commitments of each of the n parties, and the n−1 others' proof-of-knowledge nonces;
    // noble's stock suite checks 28 per party here (every read of a point, twice over).
    const afterKeygen = new Map(parties.map((p) => [p, validationsOf(meter, p)]));
    for (const p of parties) expect(afterKeygen.get(p), p).toBe(n * t + n - 1);
    expect(validationsOf(meter, COORDINATOR)).toBe(0);

    for (const [i, bounds] of [
      // First signature: the group key and verifying shares are new to every node. The
      // coordinator reads no verifying share: it verifies shares only if the aggregate fails.
      // A signer computed its own two commitments (validated-points.ts baseMultiple): it
      // checks only the other signers'.
      { signer: 2 * (t - 1) + 1, coordinator: 2 * n + 1 },
      // Later ones: only the fresh nonce commitments (all n responders' at the coordinator).
      { signer: 2 * (t - 1), coordinator: 2 * n },
    ].entries()) {
      const before = new Map([COORDINATOR, ...parties].map((node) => [node, validationsOf(meter, node)]));
      const message = encoder.encode(`counted ${i}`);
      const signed = await cluster.sign({ keyId: 'k1', message });
      expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
      expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
      const used = (node: string) => validationsOf(meter, node) - (before.get(node) ?? 0);
      expect(used(COORDINATOR)).toBe(bounds.coordinator);
      for (const signer of signed.signers ?? []) expect(used(signer), signer).toBe(bounds.signer);
      // noble's stock suite: 9 per signer for every signature (27 at the coordinator when it
      // still verified every share on receipt).
    }
  });
});

describe('a cached point does not vouch for other encodings', () => {
  let fixturePromise: Promise<Fixture> | undefined;
  const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));

  /** A party re-signing its own `sign.commitment` with a changed body: what a malicious party can do. */
  async function resignCommitment(harness: Harness, party: string, raw: string, commitment: Commitment): Promise<string> {
    const envelope = parseRaw(raw);
    return resign(requiredVault(harness.cluster, party), envelope, { body: { ...bodyOf(envelope), commitment } });
  }

  const ORDER_8 = ED25519_TORSION_SUBGROUP[1] ?? '';
  const withTorsion = (hex: string) => ed25519.Point.fromHex(hex).add(ed25519.Point.fromHex(ORDER_8)).toHex();
  const flipSign = (hex: string) => hex.slice(0, 62) + ((Number.parseInt(hex.slice(62), 16) ^ 0x80) >>> 0).toString(16).padStart(2, '0');

  it('p3 sends, twice each, a commitment the coordinator has cached plus a torsion point, and the group key with a torsion point: refused every time, p3 named, nothing stored', async () => {
    const fixture = await fixture23();
    const meter = new PointMeter('warm');
    // Two rounds: p3 forges its sign.commitment (the pool.batch counterpart is below).
    const harness = await openFromFixture(scratch, fixture, { suiteFor: meter.suiteFor, limits: TWO_ROUNDS });

    // An honest first signature: the coordinator now holds every party's commitment, the
    // group key and the signers' verifying shares in its cache.
    let seenFromP3: Commitment | undefined;
    harness.hooks.intercept = ({ from, body }) => {
      if (from === 'p3' && typeOf(body) === MessageType.signCommitment) seenFromP3 = commitmentOf(body);
      return [body];
    };
    const first = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('honest') });
    expect(first.ok, JSON.stringify(first.error)).toBe(true);
    const cachedHiding = seenFromP3?.hiding ?? '';
    expect(cachedHiding).toMatch(/^[0-9a-f]{64}$/);
    // The sign-flipped encoding of a cached point is another (valid) point, not the cached one.
    expect(meter.suiteFor(COORDINATOR).isValidElement(Uint8Array.from(Buffer.from(flipSign(cachedHiding), 'hex')))).toBe(true);

    const forgeries = [withTorsion(cachedHiding), withTorsion(cachedHiding), withTorsion(fixture.publicKey), withTorsion(fixture.publicKey)];
    for (const [i, forged] of forgeries.entries()) {
      const claimsBefore = await storeItems(harness.dir, COORDINATOR, 'commitment#');
      const noncesBefore = await storeItems(harness.dir, 'p3', 'nonce#');
      harness.hooks.intercept = async ({ from, body }) => {
        if (from !== 'p3' || typeOf(body) !== MessageType.signCommitment) return [body];
        return [await resignCommitment(harness, 'p3', body, { ...commitmentOf(body), hiding: forged })];
      };
      const mark = harness.cluster.outcomes.length;
      const message = encoder.encode(`forged ${i}`);
      const signed = await harness.cluster.sign({ keyId: fixture.keyId, message });

      expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
      expect(signed.signers).toEqual(['p1', 'p2']);
      expect(opensslVerifies(fixture.publicKey, message, signed.signature ?? '')).toBe(true);
      const refusals = harness.cluster.outcomes.slice(mark).filter((o) => o.node === COORDINATOR && o.outcome.status === 'refused');
      expect(refusals.map((o) => o.outcome)).toEqual([expect.objectContaining({ type: MessageType.signCommitment, code: RefusalCode.invalidCommitment })]);
      expect(harness.logs.filter((l) => l.message === 'message refused' && l.fields.code === RefusalCode.invalidCommitment).length).toBe(i + 1);
      // Nothing recorded for p3's refused commitment; p3's own nonce state only gained the unused nonce it committed to.
      const claims = await storeItems(harness.dir, COORDINATOR, 'commitment#');
      const newClaims = claims.filter((c) => !claimsBefore.some((b) => b.pk === c.pk));
      expect(newClaims.map((c) => (c.data as { party: string }).party).sort()).toEqual(['p1', 'p2']);
      const nonces = await storeItems(harness.dir, 'p3', 'nonce#');
      expect(nonces.filter((x) => x.sk === 'consumed').length).toBe(noncesBefore.filter((x) => x.sk === 'consumed').length);
    }
  });

  it('one round: p3 sends, twice each, a pool.batch whose entry is a commitment the coordinator has cached plus a torsion point, or the group key with one: refused every time, p3 named, nothing stored', async () => {
    const fixture = await fixture23();
    const meter = new PointMeter('warm');
    const harness = await openFromFixture(scratch, fixture, { suiteFor: meter.suiteFor });
    // The first signature fills the pools: the coordinator checked and cached every entry of p3's batch.
    const first = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('honest') });
    expect(first.ok, JSON.stringify(first.error)).toBe(true);
    const batch = parseRaw(harness.sent.find((s) => s.from === 'p3' && typeOf(s.body) === MessageType.poolBatch)?.body ?? '{}');
    const entries = bodyOf(batch).commitments as Commitment[];
    const cachedHiding = entries[0]?.hiding ?? '';
    expect(cachedHiding).toMatch(/^[0-9a-f]{64}$/);
    const coordinatorPool = async () => JSON.stringify(await harness.cluster.stores.get(COORDINATOR)?.scanPrefix(`pool#${fixture.keyId}`));
    const poolBefore = await coordinatorPool();
    expect(poolBefore).toContain('batch#p3#');

    const forgeries = [withTorsion(cachedHiding), withTorsion(cachedHiding), withTorsion(fixture.publicKey), withTorsion(fixture.publicKey)];
    for (const [i, forged] of forgeries.entries()) {
      // A new batch (fresh batch id and message id) signed by p3's own identity key.
      const changed = entries.map((c, k) => (k === 1 ? { ...c, hiding: forged } : c));
      const raw = await freshCopy(requiredVault(harness.cluster, 'p3'), { ...batch, session: randomBytes(16).toString('hex') }, Date.now(), { ...bodyOf(batch), commitments: changed });
      const outcome = await harness.cluster.coordinator.handle(raw);
      expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.invalidCommitment });
      expect(harness.logs.filter((l) => l.message === 'message refused' && l.fields.code === RefusalCode.invalidCommitment && l.fields.blame === 'p3').length, `forgery ${i}`).toBe(i + 1);
      expect(await coordinatorPool()).toBe(poolBefore);
    }
  });
});

describe('point checks per node in one-round signing (pools on)', () => {
  it('2-of-3: each pool batch is checked once, by the coordinator on receipt; a one-round signature checks 2(t−1) per signer (+1 for its first signature), nothing new at the coordinator', async () => {
    const [t, n, batchSize] = [2, 3, 4];
    const meter = new PointMeter('warm');
    // lowWater 0: no refill during the counted one-round signatures (each pool holds 4 entries).
    const limits = { ...DEFAULT_LIMITS, noncePool: { ...DEFAULT_NONCE_POOL, batchSize, lowWater: 0 } };
    const harness = await openHarness(await scratch.dir(), { parties: n, suiteFor: meter.suiteFor, limits });
    const cluster = scratch.own(harness.cluster);
    const keygen = await cluster.keygen({ keyId: 'k1', threshold: t });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    const nodes = [COORDINATOR, 'p1', 'p2', 'p3'];
    const signedBefore = new Set<string>();

    for (const i of [0, 1, 2]) {
      const before = new Map(nodes.map((node) => [node, validationsOf(meter, node)]));
      const from = harness.sent.length;
      const message = encoder.encode(`pooled ${i}`);
      const signed = await cluster.sign({ keyId: 'k1', message });
      expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
      expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
      const used = (node: string) => validationsOf(meter, node) - (before.get(node) ?? 0);
      const pooled = harness.sent.slice(from).filter((s) => typeOf(s.body) === MessageType.signPooled).length;
      const signers = signed.signers ?? [];
      if (i === 0) {
        // Two rounds (pools empty), and every party's batch of 4 arrives: 2 points per entry, checked once on receipt.
        expect(pooled).toBe(0);
        expect(harness.sent.slice(from).filter((s) => typeOf(s.body) === MessageType.poolBatch)).toHaveLength(n);
        expect(used(COORDINATOR)).toBe(2 * n + 1 + n * 2 * batchSize);
      } else {
        // One round: the claimed commitments were checked (and cached) when their batches arrived.
        expect(pooled).toBe(t);
        expect(used(COORDINATOR)).toBe(0);
      }
      // A signer checks the other signers' entries it signs with (never a whole batch), and the group key and verifying shares the first time.
      for (const signer of signers) expect(used(signer), `${signer} in signature ${i}`).toBe(2 * (t - 1) + (signedBefore.has(signer) ? 0 : 1));
      for (const other of nodes.slice(1).filter((p) => !signers.includes(p))) expect(used(other), `${other} in signature ${i}`).toBe(0);
      for (const signer of signers) signedBefore.add(signer);
    }
    // Both later signatures ran one round and between them every party signed.
    expect([...signedBefore].sort()).toEqual(['p1', 'p2', 'p3']);
  });
});
