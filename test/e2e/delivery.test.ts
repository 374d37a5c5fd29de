/**
 * At-least-once delivery: duplicated, reordered, delayed and crashed deliveries must give
 * the same single result, with no second signing and no fresh randomness on a retry.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Interceptor } from '../../lib/dev/cluster.js';
import type { InitiatorResult } from '../../lib/client/initiator.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { MessageType, type SignResultBody } from '../../lib/protocol/messages.js';
import type { Destination } from '../../lib/ports/transport.js';
import {
  encoder,
  makeFixture,
  openFromFixture,
  openHarness,
  opensslVerifies,
  parseRaw,
  Scratch,
  typeOf,
  type Fixture,
  type Harness,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixturePromise: Promise<Fixture> | undefined;
const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));

function queueFor(harness: Harness, destination: Destination) {
  const node = destination.kind === 'coordinator' ? 'coordinator' : destination.kind === 'party' ? destination.id : undefined;
  const queue = node === undefined ? undefined : harness.cluster.inboxes.get(node)?.queue;
  if (queue === undefined) throw new Error(`cannot deliver to ${JSON.stringify(destination)} directly`);
  return queue;
}

/** Sends a request, runs the cluster to quiescence, returns every result for that session. */
async function signAndCollect(harness: Harness, keyId: string, message: Uint8Array, flush?: () => boolean) {
  const session = await harness.cluster.initiator.requestSignature({ keyId, message });
  await harness.cluster.run();
  while (flush?.() === true) await harness.cluster.run();
  return harness.cluster.takeResults().filter((r) => r.session === session);
}

function signResult(result: InitiatorResult | undefined): SignResultBody {
  if (result?.type !== 'sign.result') throw new Error(`expected a sign.result, got ${result?.type ?? 'nothing'}`);
  return result.body;
}

/** The codes of refused messages. */
function refusalCodes(harness: Harness): string[] {
  return harness.cluster.outcomes.flatMap((o) => (o.outcome.status === 'refused' ? [o.outcome.code] : []));
}

describe('duplicate deliveries', () => {
  it('every message delivered twice: one key, one signature, duplicates refused as replays (a share’s changes nothing)', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    // Everything between nodes is duplicated (results to the initiator are left single so
    // that "one result" below counts the coordinator's answers, not the transport's copies).
    harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'initiator' ? [body] : [body, body]);

    const keygenSession = await harness.cluster.initiator.requestKeygen({ keyId: 'k1', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    await harness.cluster.run();
    const keygens = harness.cluster.takeResults().filter((r) => r.session === keygenSession);
    expect(keygens).toHaveLength(1);
    expect(keygens[0]?.body.ok).toBe(true);
    const publicKey = (await harness.cluster.coordinator.getKey('k1'))?.publicKey ?? '';

    const message = encoder.encode('duplicated');
    const results = await signAndCollect(harness, 'k1', message);
    // One signature. The duplicate of the share that finished the session is the very envelope
    // recorded, which sends the outcome again (how a crash before sending is recovered): the same result.
    expect(results.length).toBeGreaterThanOrEqual(1);
    expect(results.length).toBeLessThanOrEqual(2);
    const result = signResult(results[0]);
    for (const again of results) expect(signResult(again)).toEqual(result);
    expect(result.ok).toBe(true);
    expect(opensslVerifies(publicKey, message, result.signature ?? '')).toBe(true);

    // The duplicates really were delivered, and were refused as replays, nothing else; but a
    // sign.share, which keeps no replay mark at the coordinator (replay-exemptions.ts): its
    // duplicate is processed and changes nothing (one result above, one signature).
    const codes = refusalCodes(harness);
    expect(codes.length).toBeGreaterThan(10);
    expect(new Set(codes)).toEqual(new Set(['replayed']));
    const shares = harness.cluster.outcomes.filter((o) => o.node === 'coordinator' && o.outcome.type === MessageType.signShare);
    expect(shares.map((o) => o.outcome.status)).toEqual(['processed', 'processed', 'processed', 'processed']);
    const session = await harness.cluster.coordinator.getSession(shares[0]?.outcome.session ?? '');
    expect(session?.kind === 'sign' ? Object.keys(session.shares).sort() : []).toEqual([...(result.signers ?? [])].sort());
    // Each signer produced exactly one share; no package was signed twice.
    const processedPackages = harness.cluster.outcomes.filter((o) => o.outcome.status === 'processed' && o.outcome.type === 'sign.package');
    expect(processedPackages).toHaveLength(2);
  });

  it('a repeated request id returns the existing result, never a second signing', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const message = encoder.encode('once only');
    const first = await harness.cluster.sign({ keyId: fixture.keyId, message, requestId: 'pay-42' });
    expect(first.ok).toBe(true);
    const packagesBefore = harness.sent.filter((m) => typeOf(m.body) === 'sign.package').length;

    const again = await harness.cluster.sign({ keyId: fixture.keyId, message, requestId: 'pay-42' });
    expect(again.ok).toBe(true);
    expect(again.duplicate).toBe(true);
    expect(again.signature).toBe(first.signature);
    expect(harness.sent.filter((m) => typeOf(m.body) === 'sign.package')).toHaveLength(packagesBefore);
    expect(harness.sent.filter((m) => typeOf(m.body) === 'sign.commit')).toHaveLength(3);
  });
});

describe('reordered and delayed deliveries', () => {
  it('messages held back and released after later ones: one result, valid signature', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    const held: Array<{ destination: Destination; body: string }> = [];
    let count = 0;
    // Every third message is held and released only after the next two went out: each
    // inbox sees some messages after ones that were sent later.
    const reorder: Interceptor = ({ destination, body }) => {
      if (destination.kind === 'initiator') return [body];
      count += 1;
      if (count % 3 === 0) {
        held.push({ destination, body });
        return [];
      }
      if (count % 3 === 2) {
        for (const late of held.splice(0)) queueFor(harness, late.destination).send(late.body);
      }
      return [body];
    };
    harness.hooks.intercept = reorder;
    const flush = () => {
      if (held.length === 0) return false;
      for (const late of held.splice(0)) queueFor(harness, late.destination).send(late.body);
      return true;
    };

    const keygenSession = await harness.cluster.initiator.requestKeygen({ keyId: 'k1', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    await harness.cluster.run();
    while (flush()) await harness.cluster.run();
    const keygens = harness.cluster.takeResults().filter((r) => r.session === keygenSession);
    expect(keygens).toHaveLength(1);
    const keygen = keygens[0]?.body;
    expect(keygen?.ok, JSON.stringify(keygen?.error)).toBe(true);
    const publicKey = (await harness.cluster.coordinator.getKey('k1'))?.publicKey ?? '';

    const message = encoder.encode('reordered');
    const results = await signAndCollect(harness, 'k1', message, flush);
    expect(results).toHaveLength(1);
    const result = signResult(results[0]);
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(opensslVerifies(publicKey, message, result.signature ?? '')).toBe(true);
    expect(count).toBeGreaterThan(20);
  });

  it('a party whose answers arrive after the signature was made changes nothing', async () => {
    const fixture = await fixture23();
    // Pools off: this holds back a two-round commitment (the one-round counterpart is below).
    const harness = await openFromFixture(scratch, fixture, { limits: { ...DEFAULT_LIMITS, noncePool: false } });
    const late: string[] = [];
    harness.hooks.intercept = ({ from, body }) => {
      if (from === 'p1') {
        late.push(body);
        return [];
      }
      return [body];
    };
    const message = encoder.encode('p1 is slow');
    const session = await harness.cluster.initiator.requestSignature({ keyId: fixture.keyId, message });
    await harness.cluster.run();
    expect(late.map(typeOf)).toEqual(['sign.commitment']);

    // p1's commitment finally arrives, twice, after p2 and p3 finished.
    for (const body of [...late, ...late]) harness.cluster.inboxes.get('coordinator')?.queue.send(body);
    await harness.cluster.run();

    const results = harness.cluster.takeResults().filter((r) => r.session === session);
    expect(results).toHaveLength(1);
    const result = signResult(results[0]);
    expect(result.ok).toBe(true);
    expect(result.signers).toEqual(['p2', 'p3']);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    const session_ = await harness.cluster.coordinator.getSession(session);
    expect(session_?.phase).toBe('done');
    // No second signing package went out because of the late commitment.
    expect(harness.sent.filter((m) => typeOf(m.body) === 'sign.package')).toHaveLength(2);
  });

  it('one round: a signer whose share arrives after the signature was made (by the two-round fallback) changes nothing', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const primed = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('fills the pools') });
    expect(primed.ok, JSON.stringify(primed.error)).toBe(true);

    const from = harness.sent.length;
    const late: string[] = [];
    harness.hooks.intercept = ({ from: sender, body }) => {
      if (sender === 'p1') {
        late.push(body);
        return [];
      }
      return [body];
    };
    const message = encoder.encode('p1 is slow, one round');
    const session = await harness.cluster.initiator.requestSignature({ keyId: fixture.keyId, message });
    await harness.cluster.run();
    // p1 was one of the two one-round signers; its share is held back, so nothing is signed yet.
    expect(harness.sent.slice(from).filter((m) => typeOf(m.body) === MessageType.signPooled).map((m) => parseRaw(m.body).to)).toContain('p1');
    expect(late.map(typeOf)).toEqual([MessageType.signShare]);
    expect(harness.cluster.takeResults().filter((r) => r.session === session)).toEqual([]);

    // The sweeper's fallback (no wait): attempt 2 runs two rounds, p1 still silent, p2 and p3 sign.
    expect(await harness.cluster.coordinator.fallBackPooled(0)).toBe(1);
    await harness.cluster.run();
    const signed = harness.cluster.takeResults().filter((r) => r.session === session);
    expect(signed).toHaveLength(1);
    const result = signResult(signed[0]);
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.signers).toEqual(['p2', 'p3']);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);

    // p1's one-round share and its attempt-2 commitment finally arrive, twice each.
    expect(late.map(typeOf)).toEqual([MessageType.signShare, MessageType.signCommitment]);
    const sentBefore = harness.sent.length;
    const stored = await harness.cluster.coordinator.getSession(session);
    for (const body of [...late, ...late]) harness.cluster.inboxes.get('coordinator')?.queue.send(body);
    await harness.cluster.run();
    expect(harness.cluster.takeResults().filter((r) => r.session === session)).toEqual([]);
    expect(await harness.cluster.coordinator.getSession(session)).toEqual(stored);
    expect(stored?.phase).toBe('done');
    // Nothing went out because of the late answers: no package, no second result.
    expect(harness.sent.slice(sentBefore)).toEqual([]);
  });
});

describe('crashed rounds are retried by redelivery', () => {
  it('a handler that crashes on its first dkg.round2 and sign.package delivery completes on redelivery', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    const crashed = new Set<string>();
    harness.hooks.wrap = async (node, body, context, handler) => {
      const type = typeOf(body);
      if (node === 'p2' && (type === 'dkg.round2' || type === 'sign.package') && !crashed.has(type)) {
        crashed.add(type);
        throw new Error(`p2 crashed in ${type}`);
      }
      return handler(body, context);
    };
    const keygen = await harness.cluster.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    const message = encoder.encode('after a crash');
    const signed = await harness.cluster.sign({ keyId: 'k1', message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(signed.signers).toContain('p2');
    expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
    expect(crashed).toEqual(new Set(['dkg.round2', 'sign.package']));
    const p2 = harness.cluster.outcomes.filter((o) => o.node === 'p2');
    expect(p2.filter((o) => o.outcome.type === 'dkg.round2').map((o) => o.outcome.status)).toEqual(['processed']);
    expect(p2.filter((o) => o.outcome.type === 'sign.package').map((o) => o.outcome.status)).toEqual(['processed']);
  });

  it('a crash after the work but before the answer is sent: the retry answers from stored state, not fresh randomness', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    const failedOnce = new Set<string>();
    harness.hooks.intercept = ({ from, body }) => {
      const type = typeOf(body);
      // The transport fails the first time p2 sends its round-2 shares and its signature
      // share: by then the round state is stored and the nonce is spent.
      if (from === 'p2' && (type === 'dkg.shares' || type === 'sign.share') && !failedOnce.has(type)) {
        failedOnce.add(type);
        throw new Error('queue unavailable');
      }
      return [body];
    };
    const keygen = await harness.cluster.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    const message = encoder.encode('after a lost answer');
    const signed = await harness.cluster.sign({ keyId: 'k1', message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(signed.signers).toContain('p2');
    expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
    expect(failedOnce).toEqual(new Set(['dkg.shares', 'sign.share']));

    // The round-2 answer that finally went out is the one computed the first time (both
    // attempts were sent through the interceptor, so both are in `sent`).
    const shares = harness.sent.filter((m) => m.from === 'p2' && typeOf(m.body) === 'dkg.shares').map((m) => parseRaw(m.body).body);
    expect(shares).toHaveLength(2);
    expect(shares[1]).toEqual(shares[0]);
    const signatureShares = harness.sent.filter((m) => m.from === 'p2' && typeOf(m.body) === 'sign.share').map((m) => parseRaw(m.body).body);
    expect(signatureShares).toHaveLength(2);
    expect(signatureShares[1]).toEqual(signatureShares[0]);
  });
});
