/**
 * One-round signing from nonce pools on the embedded cluster (DESIGN.md "Nonce pools"):
 * the first signature of a key runs two rounds and fills every party's pool; later ones run
 * one round (request → sign.pooled → sign.share → result). Every signature is checked with
 * node:crypto. What is pinned: which messages a signature takes, that no commitment is used
 * twice however requests race, and the fallback to two rounds whenever a pool cannot serve.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL, type Limits, type NoncePoolSettings } from '../../lib/protocol/directory.js';
import { COORDINATOR, MessageType, type Envelope } from '../../lib/protocol/messages.js';
import {
  bodyOf,
  encoder,
  makeFixture,
  openFromFixture,
  opensslVerifies,
  parseRaw,
  requiredParty,
  requiredVault,
  resign,
  Scratch,
  SteppedClock,
  storeItems,
  typeOf,
  type Fixture,
  type Harness,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixture: Fixture | undefined;
async function twoOfThree(): Promise<Fixture> {
  fixture ??= await makeFixture(scratch, 3, 2);
  return fixture;
}

function limitsWith(pool: Partial<NoncePoolSettings>): Limits {
  return { ...DEFAULT_LIMITS, noncePool: { ...DEFAULT_NONCE_POOL, ...pool } };
}

/** The message types sent since `from`, pool upkeep (pool.refill, pool.batch) left out, counted. */
function signingTypes(harness: Harness, from: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sent of harness.sent.slice(from)) {
    const type = typeOf(sent.body);
    if (type === MessageType.poolRefill || type === MessageType.poolBatch) continue;
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

function sentOfType(harness: Harness, type: string, from = 0): Envelope[] {
  return harness.sent.slice(from).filter((s) => typeOf(s.body) === type).map((s) => parseRaw(s.body));
}

/** Each pooled entry a sign.pooled package names for its own recipient: party/batch/index. */
function ownEntries(harness: Harness, from = 0): string[] {
  return sentOfType(harness, MessageType.signPooled, from).map((envelope) => {
    const entries = bodyOf(envelope).commitments as { batch: Envelope; index: number }[];
    const own = entries.find((e) => e.batch.from === envelope.to);
    if (own === undefined) throw new Error('a sign.pooled package without its recipient\'s entry');
    return `${envelope.to}/${own.batch.session}/${own.index}`;
  });
}

async function signAndVerify(harness: Harness, publicKey: string, text: string) {
  const message = encoder.encode(text);
  const signed = await harness.cluster.sign({ keyId: 'k1', message });
  expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
  expect(opensslVerifies(publicKey, message, signed.signature ?? '')).toBe(true);
  return signed;
}

describe('one-round signing from nonce pools', () => {
  it('runs two rounds for the first signature and fills the pools; the next takes one round: 4 hops, t packages', async () => {
    const key = await twoOfThree();
    const harness = await openFromFixture(scratch, key);
    const first = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'first: pools empty');
    expect(signingTypes(harness, first)[MessageType.signCommit]).toBe(3);
    // Every party was asked for a batch and answered with one.
    expect(sentOfType(harness, MessageType.poolRefill, first).map((e) => e.to).sort()).toEqual(['p1', 'p2', 'p3']);
    expect(sentOfType(harness, MessageType.poolBatch, first).map((e) => e.from).sort()).toEqual(['p1', 'p2', 'p3']);

    const second = harness.sent.length;
    const signed = await signAndVerify(harness, key.publicKey, 'second: one round');
    // request → sign.pooled (to the t signers) → sign.share → sign.result: four hops, no commit round.
    expect(signingTypes(harness, second)).toEqual({
      [MessageType.signRequest]: 1,
      [MessageType.signPooled]: 2,
      [MessageType.signShare]: 2,
      [MessageType.signResult]: 1,
    });
    expect(sentOfType(harness, MessageType.signPooled, second).map((e) => e.to).sort()).toEqual([...(signed.signers ?? [])].sort());
    // No refill: every pool is far above its low-water mark.
    expect(sentOfType(harness, MessageType.poolRefill, second)).toHaveLength(0);
  });

  it('falls back to two rounds when the pools cannot serve, and refills them', async () => {
    const key = await twoOfThree();
    const harness = await openFromFixture(scratch, key, { limits: limitsWith({ batchSize: 2, lowWater: 0, refillRetrySeconds: 0 }) });
    await signAndVerify(harness, key.publicKey, 'fills the pools: 2 entries per party');
    // Refills are lost from now on: 6 entries serve 3 one-round signatures, then the pools are empty.
    let dropRefills = true;
    harness.hooks.intercept = ({ body }) => (dropRefills && typeOf(body) === MessageType.poolRefill ? [] : [body]);
    for (let i = 0; i < 3; i++) {
      const from = harness.sent.length;
      await signAndVerify(harness, key.publicKey, `pooled ${i}`);
      expect(signingTypes(harness, from)[MessageType.signPooled]).toBe(2);
    }
    const empty = harness.sent.length;
    dropRefills = false;
    await signAndVerify(harness, key.publicKey, 'pools empty: two rounds');
    expect(signingTypes(harness, empty)[MessageType.signCommit]).toBe(3);
    expect(sentOfType(harness, MessageType.poolBatch, empty).length).toBeGreaterThanOrEqual(2);
    const refilled = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'refilled: one round again');
    expect(signingTypes(harness, refilled)[MessageType.signPooled]).toBe(2);
    // Seven signatures, no entry used twice.
    expect(new Set(ownEntries(harness)).size).toBe(ownEntries(harness).length);
  });

  it('never gives one commitment to two requests, however many race for the pools', async () => {
    const key = await twoOfThree();
    const harness = await openFromFixture(scratch, key, { deliveryConcurrency: 8 });
    await signAndVerify(harness, key.publicKey, 'fills the pools');
    const from = harness.sent.length;
    const client = harness.cluster.client();
    harness.cluster.serve();
    const messages = Array.from({ length: 12 }, (_, i) => encoder.encode(`race ${i}`));
    const results = await Promise.all(messages.map((message) => client.sign({ keyId: 'k1', message })));
    await harness.cluster.stop();
    results.forEach((result, i) => expect(opensslVerifies(key.publicKey, messages[i] ?? new Uint8Array(), Buffer.from(result.signature).toString("hex"))).toBe(true));
    const entries = ownEntries(harness, from);
    expect(entries.length).toBeGreaterThan(0);
    expect(new Set(entries).size).toBe(entries.length);
    expect(harness.logs.filter((l) => /nonce|reuse/i.test(l.message) && l.level === 'error')).toEqual([]);
  });

  it('a coordinator offering a spent commitment in a second package is refused by the party; signing falls back and succeeds', async () => {
    const key = await twoOfThree();
    const harness = await openFromFixture(scratch, key);
    await signAndVerify(harness, key.publicKey, 'fills the pools');
    const spentFrom = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'spends one entry of each signer');
    const spent = sentOfType(harness, MessageType.signPooled, spentFrom)[0];
    if (spent === undefined) throw new Error('expected a one-round package');
    const victim = spent.to;
    const spentEntry = (bodyOf(spent).commitments as { batch: Envelope; index: number }[]).find((e) => e.batch.from === victim);
    // The next package to the victim carries that spent entry instead of a fresh one, re-signed by the coordinator.
    const coordinatorVault = requiredVault(harness.cluster, COORDINATOR);
    let replaced = 0;
    harness.hooks.intercept = async ({ body }) => {
      if (typeOf(body) !== MessageType.signPooled || replaced > 0) return [body];
      const envelope = parseRaw(body);
      if (envelope.to !== victim) return [body];
      const entries = (bodyOf(envelope).commitments as { batch: Envelope; index: number }[]).map((e) => (e.batch.from === victim ? spentEntry : e));
      replaced += 1;
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), commitments: entries } })];
    };
    await signAndVerify(harness, key.publicKey, 'the coordinator replays a spent entry');
    expect(replaced).toBe(1);
    expect(harness.logs.some((l) => l.level === 'error' && /possible attack/.test(l.message) && l.fields.party === victim)).toBe(true);
  });

  it('a redelivered pool batch adds nothing; an expired entry is never used', async () => {
    const key = await twoOfThree();
    const clock = new SteppedClock();
    const harness = await openFromFixture(scratch, key, { clock, limits: limitsWith({ ttlSeconds: 3600 }) });
    harness.hooks.intercept = ({ body }) => (typeOf(body) === MessageType.poolBatch ? [body, body] : [body]);
    await signAndVerify(harness, key.publicKey, 'fills the pools, each batch delivered twice');
    harness.hooks.intercept = undefined;
    const pooledFrom = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'one round');
    expect(signingTypes(harness, pooledFrom)[MessageType.signPooled]).toBe(2);
    // An hour later every entry has expired: two rounds again, and new batches.
    clock.advance(3600 * 1000 + 1000);
    const expiredFrom = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'every entry expired');
    expect(signingTypes(harness, expiredFrom)[MessageType.signCommit]).toBe(3);
    expect(signingTypes(harness, expiredFrom)[MessageType.signPooled]).toBeUndefined();
    await harness.cluster.close();
    const cursor = (await storeItems(harness.dir, COORDINATOR, 'pool#k1')).find((item) => item.sk === 'cursor');
    const parties = (cursor?.data as { parties: Record<string, { batches: unknown[] }> } | undefined)?.parties ?? {};
    // Per party: the expired batch is gone from the cursor, the duplicate was never added; one live batch each.
    for (const party of ['p1', 'p2', 'p3']) expect(parties[party]?.batches).toHaveLength(1);
  });

  it('every sign.pooled delivered twice: no replay refusal, each signer sends the identical share twice and audits one decision; one signature', async () => {
    const key = await twoOfThree();
    const harness = await openFromFixture(scratch, key);
    await signAndVerify(harness, key.publicKey, 'fills the pools');
    const from = harness.sent.length;
    const outcomesFrom = harness.cluster.outcomes.length;
    harness.hooks.intercept = ({ body }) => (typeOf(body) === MessageType.signPooled ? [body, body] : [body]);
    const signed = await signAndVerify(harness, key.publicKey, 'one round, each package twice');
    const signers = [...(signed.signers ?? [])].sort();
    expect(sentOfType(harness, MessageType.signPooled, from)).toHaveLength(2);
    const pooledOutcomes = harness.cluster.outcomes.slice(outcomesFrom).filter((o) => o.outcome.type === MessageType.signPooled);
    expect(pooledOutcomes.map((o) => `${o.node}:${o.outcome.status}`).sort()).toEqual(signers.flatMap((p) => [`${p}:processed`, `${p}:processed`]));
    for (const party of signers) {
      const shares = sentOfType(harness, MessageType.signShare, from).filter((e) => e.from === party).map((e) => bodyOf(e));
      expect(shares).toHaveLength(2);
      // Compared as booleans: a failing assertion must not print a share.
      expect(shares[0]?.share === shares[1]?.share && shares[0]?.packageHash === shares[1]?.packageHash).toBe(true);
      const records = (await requiredParty(harness.cluster, party).audit.readChain()).records as { session: string; decision: string }[];
      expect(records.filter((r) => r.session === sentOfType(harness, MessageType.signPooled, from)[0]?.session).map((r) => r.decision)).toEqual(['approved']);
    }
  });

  it('pools do not outlive an epoch: after a refresh the old entries are deleted and never used', async () => {
    const key = await twoOfThree();
    const harness = await openFromFixture(scratch, key);
    await signAndVerify(harness, key.publicKey, 'fills the pools at epoch 0');
    const refreshed = await harness.cluster.refresh({ keyId: 'k1' });
    expect(refreshed.ok, JSON.stringify(refreshed.error)).toBe(true);
    const from = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'epoch 1: two rounds, new pools');
    expect(signingTypes(harness, from)[MessageType.signCommit]).toBe(3);
    const pooledFrom = harness.sent.length;
    await signAndVerify(harness, key.publicKey, 'epoch 1: one round');
    expect(signingTypes(harness, pooledFrom)[MessageType.signPooled]).toBe(2);
    for (const envelope of sentOfType(harness, MessageType.signPooled, pooledFrom)) {
      for (const entry of bodyOf(envelope).commitments as { batch: Envelope }[]) expect(bodyOf(entry.batch).epoch).toBe(1);
    }
    await harness.cluster.close();
    for (const party of ['p1', 'p2', 'p3']) {
      const nonces = (await storeItems(harness.dir, party, 'pool#k1')).filter((item) => item.sk.startsWith('nonce#'));
      expect(nonces.length).toBeGreaterThan(0);
      for (const nonce of nonces) expect((nonce.data as { epoch: number }).epoch).toBe(1);
    }
  });
});
