/**
 * Refresh/reshare under at-least-once delivery: every message duplicated, a handler that
 * throws once on each reshare round, messages held back and released late. Each run ends in
 * exactly one new epoch, the key signing all along, and no old share deleted before the
 * coordinator confirmed the new epoch. Also: repair of a party that lost its share.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Interceptor } from '../../lib/dev/cluster.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { partyKeys } from '../../lib/protocol/party-state.js';
import type { Destination } from '../../lib/ports/transport.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { encoder, makeFixture, openFromFixture, Scratch, typeOf, type Fixture, type Harness } from '../support/harness.js';
import { expectStillSigns, keyState, lifecyclePolicy, openStoredShare, shareRecordOf, signWithShares } from '../support/lifecycle.js';

const scratch = new Scratch();
let fixture: Fixture;
beforeAll(async () => {
  fixture = await makeFixture(scratch, 3, 2, 'k');
});
afterAll(() => scratch.cleanup());

const RESHARE_TYPES = new Set<string>([MessageType.reshareStart, MessageType.reshareDeal, MessageType.reshareShares, MessageType.reshareConfirm, MessageType.reshareAbort]);

/** Before every party delivery that is not a confirmation: every old party still holds its old-epoch share. */
function watchOldShares(harness: Harness, oldParties: readonly string[]): { violations: string[] } {
  const watch = { violations: [] as string[] };
  const previous = harness.hooks.wrap;
  harness.hooks.wrap = async (node, body, context, handler) => {
    if (typeOf(body) !== MessageType.reshareConfirm && node !== COORDINATOR) {
      for (const party of oldParties) {
        const share = await harness.cluster.stores.get(party)?.get(partyKeys.keyShare('k'));
        if (share === undefined || ((share.data as { epoch?: number }).epoch ?? 0) !== 0) watch.violations.push(`${party} before ${typeOf(body)} to ${node}`);
      }
    }
    return previous !== undefined ? previous(node, body, context, handler) : handler(body, context);
  };
  return watch;
}

async function expectOneNewEpoch(harness: Harness, parties: readonly string[]): Promise<void> {
  const record = await harness.cluster.coordinator.getKey('k');
  expect(record?.epoch).toBe(1);
  for (const party of parties) {
    const share = await shareRecordOf(harness.cluster, party, 'k');
    expect(share?.epoch, party).toBe(1);
    expect(share?.publicPackageHash, party).toBe(record?.publicPackageHash);
  }
  await expectStillSigns(harness.cluster, 'k', fixture.publicKey);
}

test('every message delivered twice: one new epoch', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'initiator' ? [body] : [body, body]);
  const watch = watchOldShares(harness, ['p1', 'p2', 'p3']);
  const result = await harness.cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 3 });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  expect(watch.violations).toEqual([]);
  harness.hooks.intercept = undefined;
  harness.hooks.wrap = undefined;
  await expectOneNewEpoch(harness, ['p1', 'p2', 'p3']);
});

test('a handler that throws once on each reshare round: completes on redelivery, one new epoch', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const crashed = new Set<string>();
  harness.hooks.wrap = async (node, body, context, handler) => {
    const type = typeOf(body);
    if (RESHARE_TYPES.has(type) && !crashed.has(`${node}#${type}`)) {
      crashed.add(`${node}#${type}`);
      throw new Error(`${node} crashed in ${type}`);
    }
    return handler(body, context);
  };
  const watch = watchOldShares(harness, ['p1', 'p2', 'p3']);
  const result = await harness.cluster.reshare({ keyId: 'k' });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  expect(crashed.size).toBeGreaterThanOrEqual(12);
  expect(watch.violations).toEqual([]);
  harness.hooks.wrap = undefined;
  await expectOneNewEpoch(harness, ['p1', 'p2', 'p3']);
});

test('messages held back and released after later ones: one new epoch', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy(), deliveryConcurrency: 4 });
  const held: { destination: Destination; body: string }[] = [];
  const queueFor = (destination: Destination) => {
    const id = destination.kind === 'coordinator' ? COORDINATOR : destination.kind === 'party' ? destination.id : undefined;
    const inbox = id === undefined ? undefined : harness.cluster.inboxes.get(id);
    if (inbox === undefined) throw new Error('no inbox');
    return inbox.queue;
  };
  let count = 0;
  const reorder: Interceptor = ({ destination, body }) => {
    if (destination.kind === 'initiator') return [body];
    count += 1;
    if (count % 3 === 0) {
      held.push({ destination, body });
      return [];
    }
    if (count % 3 === 2) for (const late of held.splice(0)) queueFor(late.destination).send(late.body);
    return [body];
  };
  harness.hooks.intercept = reorder;
  const session = await harness.cluster.initiator.requestLifecycle({ keyId: 'k' });
  await harness.cluster.run();
  while (held.length > 0) {
    for (const late of held.splice(0)) queueFor(late.destination).send(late.body);
    await harness.cluster.run();
  }
  const results = harness.cluster.takeResults().filter((r) => r.session === session);
  expect(results).toHaveLength(1);
  expect(results[0]?.body.ok, JSON.stringify(results[0]?.body.error)).toBe(true);
  harness.hooks.intercept = undefined;
  await expectOneNewEpoch(harness, ['p1', 'p2', 'p3']);
});

test('repair: a party that lost its share gets a new one from the others and signs again', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const store = cluster.stores.get('p2');
  await store?.write([{ op: 'delete', key: partyKeys.keyShare('k'), condition: { kind: 'none' } }], Math.floor(Date.now() / 1000));
  expect(await shareRecordOf(cluster, 'p2', 'k')).toBeUndefined();
  const result = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, dealers: ['p1', 'p3'] });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  const p2 = await openStoredShare(cluster, 'p2', 'k');
  const p1 = await openStoredShare(cluster, 'p1', 'k');
  expect(p2.record.epoch).toBe(1);
  const message = encoder.encode('repaired');
  const signature = signWithShares([p1, p2], p2.record.publicPackage, message);
  expect(signature !== undefined && verifyWithNodeCrypto(fixture.publicKey, message, signature)).toBe(true);
  // Through the cluster, with p1 silent: p2 and p3 sign.
  harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'party' && destination.id === 'p1' && typeOf(body) === MessageType.signCommit ? [] : [body]);
  const signed = await cluster.sign({ keyId: 'k', message });
  expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
  expect(signed.signers).toEqual(['p2', 'p3']);
  expect(verifyWithNodeCrypto(fixture.publicKey, message, signed.signature ?? '')).toBe(true);
});

test('a reshare that stalls (a new party never gets its shares) times out: the key stays exactly as it was and signs', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'party' && destination.id === 'p3' && typeOf(body) === MessageType.reshareShares ? [] : [body]);
  const before = await keyState(cluster, 'k');
  const session = await cluster.initiator.requestLifecycle({ keyId: 'k' });
  await cluster.run();
  harness.hooks.intercept = undefined;
  const expired = await cluster.coordinator.expireStalled(0);
  expect(expired.map((e) => e.stalledIn)).toEqual(['shares']);
  const result = cluster.takeResults().find((r) => r.session === session);
  expect(result?.body).toMatchObject({ ok: false, error: { code: 'timeout' } });
  expect(result?.body.error?.message).toContain('no answer from p3');
  expect(await keyState(cluster, 'k')).toBe(before);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a party removed while it missed the confirmation keeps a stale share; added back later, it takes part and the stale share is replaced', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'party' && destination.id === 'p3' && typeOf(body) === MessageType.reshareConfirm ? [] : [body]);
  expect((await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2'], threshold: 2 })).ok).toBe(true);
  harness.hooks.intercept = undefined;
  expect((await shareRecordOf(cluster, 'p3', 'k'))?.epoch ?? 0).toBe(0);
  const back = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, dealers: ['p1', 'p2'] });
  expect(back.ok, JSON.stringify(back.error)).toBe(true);
  const p3 = await openStoredShare(cluster, 'p3', 'k');
  const p1 = await openStoredShare(cluster, 'p1', 'k');
  expect(p3.record.epoch).toBe(2);
  const message = encoder.encode('back again');
  const signature = signWithShares([p1, p3], p3.record.publicPackage, message);
  expect(signature !== undefined && verifyWithNodeCrypto(fixture.publicKey, message, signature)).toBe(true);
});
