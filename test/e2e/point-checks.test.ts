/**
 * Each curve point validated once (issue #14), on the embedded cluster with one suite per
 * node (each node's own process): how many full point checks a DKG and a signature cost each
 * node, and that a node whose cache already holds a point still refuses every other encoding
 * built from it, each time it is sent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { PointMeter } from '../../lib/dev/point-meter.js';
import { RefusalCode } from '../../lib/ports/errors.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { bodyOf, encoder, makeFixture, openFromFixture, openHarness, opensslVerifies, parseRaw, requiredVault, resign, Scratch, storeItems, typeOf, type Fixture, type Harness } from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

interface Commitment {
  identifier: string;
  hiding: string;
  binding: string;
}

const commitmentOf = (raw: string) => bodyOf(parseRaw(raw)).commitment as Commitment;
const validationsOf = (meter: PointMeter, node: string) => meter.suites.get(node)?.points.counts().validations ?? 0;

describe('point checks per node (counts, one suite per node)', () => {
  it('2-of-3: a DKG checks each distinct point once per party; a signature 2(t−1)+1 per signer (its own commitments are never re-checked), 2n+1 at the coordinator', async () => {
    const [t, n] = [2, 3];
    const meter = new PointMeter('warm');
    const harness = await openHarness(await scratch.dir(), { parties: n, suiteFor: meter.suiteFor });
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
    const harness = await openFromFixture(scratch, fixture, { suiteFor: meter.suiteFor });

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
});
