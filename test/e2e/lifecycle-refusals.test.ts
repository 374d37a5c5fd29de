/**
 * Refresh/reshare refusals: each leaves the key exactly as it was (coordinator record and
 * every party's share item, versions included) and usable at its old epoch.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signApproval, signLifecycleApproval } from '../../lib/protocol/approvals.js';
import { MessageType, type Envelope } from '../../lib/protocol/messages.js';
import { bodyOf, freshCopy, makeFixture, openFromFixture, parseRaw, requiredVault, resign, Scratch, typeOf, type Fixture } from '../support/harness.js';
import { expectStillSigns, keyState, lifecyclePolicy } from '../support/lifecycle.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../lib/protocol/requests.js';
import { COORDINATOR } from '../../lib/protocol/messages.js';
import { createEnvelope, deriveSessionId } from '../../lib/protocol/envelope.js';
import { coordinatorKeys } from '../../lib/protocol/coordinator-state.js';
import { partyKeys } from '../../lib/protocol/party-state.js';

const scratch = new Scratch();
let fixture: Fixture;
beforeAll(async () => {
  fixture = await makeFixture(scratch, 4, 2, 'k');
});
afterAll(() => scratch.cleanup());

/** The fixture's key is 2-of-{p1..p4}; reshares below go to {p1,p2,p3} or refresh it. */
test('an initiator without the reshare grant is refused by every party; nothing changes', async () => {
  const { cluster } = await openFromFixture(scratch, fixture, { policy: { maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, initiators: { cli: { keygen: true, keys: ['*'] } } } });
  const before = await keyState(cluster, 'k');
  const result = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2 });
  expect(result.ok).toBe(false);
  expect(result.error?.code).toBe('unauthorised-initiator');
  expect(await keyState(cluster, 'k')).toBe(before);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
  // Every party audited its refusal.
  const refused = cluster.outcomes.filter((o) => o.outcome.status === 'refused' && o.outcome.type === MessageType.reshareStart);
  expect(refused.length).toBeGreaterThan(0);
});

test('a key whose rules require a lifecycle approval quorum: refused without it and with a signing approval; accepted with it', async () => {
  const policy = lifecyclePolicy({ keys: { k: { reshareApprovals: { quorum: 1, approvers: ['boss'] } } } });
  const { cluster } = await openFromFixture(scratch, fixture, { policy, approvers: ['boss'] });
  const before = await keyState(cluster, 'k');
  const refused = await cluster.reshare({ keyId: 'k', requestId: 'r1' });
  expect(refused.ok).toBe(false);
  expect(refused.error?.code).toBe('policy');
  const boss = requiredVault(cluster, 'boss');
  // An approval of a signature (another domain) never counts for a refresh.
  const wrongKind = await signApproval(boss, 'boss', { initiator: 'cli', requestId: 'r2', keyId: 'k', message: '' });
  const alsoRefused = await cluster.reshare({ keyId: 'k', requestId: 'r2', approvals: [wrongKind] });
  expect(alsoRefused.error?.code).toBe('policy');
  expect(await keyState(cluster, 'k')).toBe(before);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
  const approval = await signLifecycleApproval(boss, 'boss', { initiator: 'cli', requestId: 'r3', keyId: 'k', operation: 'refresh' });
  const accepted = await cluster.reshare({ keyId: 'k', requestId: 'r3', approvals: [approval] });
  expect(accepted.ok, JSON.stringify(accepted.error)).toBe(true);
  expect(accepted.epoch).toBe(1);
});

test('a reshare to a party missing from one dealer\'s own directory is refused by that dealer; nothing changes', async () => {
  const fiveFixture = await makeFixture(scratch, 3, 2, 'k5');
  const { cluster } = await openFromFixture(scratch, fiveFixture, {
    parties: 4,
    policy: lifecyclePolicy(),
    // p1 never pinned p4: it deals to nobody it does not know, whatever the coordinator and the others say.
    directoryFor: (party, directory) => (party === 'p1' ? { ...directory, parties: Object.fromEntries(Object.entries(directory.parties).filter(([id]) => id !== 'p4')) } : undefined),
  });
  const before = await keyState(cluster, 'k5');
  const result = await cluster.reshare({ keyId: 'k5', parties: ['p1', 'p2', 'p3', 'p4'], threshold: 2 });
  expect(result.ok).toBe(false);
  expect(result.error?.code).toBe('unknown-sender');
  expect(result.error?.message).toContain('"p1" refused');
  expect(await keyState(cluster, 'k5')).toBe(before);
  await expectStillSigns(cluster, 'k5', fiveFixture.publicKey);
  // The abort released every participant's lock: a reshare the directory allows goes through now.
  const retry = await cluster.reshare({ keyId: 'k5', parties: ['p1', 'p2', 'p3'], threshold: 3 });
  expect(retry.ok, JSON.stringify(retry.error)).toBe(true);
});

test('a coordinator that relays another epoch\'s attestations, another key\'s, or not exactly one per current party, is refused; nothing changes', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const epoch0 = (await cluster.coordinator.getKey('k'))?.attestations ?? [];
  const other = await cluster.keygen({ keyId: 'other', threshold: 2 });
  const otherAttestations = other.attestations ?? [];
  expect((await cluster.reshare({ keyId: 'k' })).ok).toBe(true);
  const epoch1 = (await cluster.coordinator.getKey('k'))?.attestations ?? [];
  const coordinatorVault = requiredVault(cluster, COORDINATOR);
  const variants = [
    ['epoch 0', epoch0],
    ['key "other"', otherAttestations],
    ['p1\'s attestation left out', epoch1.filter((e) => e.from !== 'p1')],
    ['p2\'s attestation in place of p1\'s', epoch1.map((e) => (e.from === 'p1' ? (epoch1.find((x) => x.from === 'p2') ?? e) : e))],
  ] as const;
  for (const [label, relayed] of variants) {
    const before = await keyState(cluster, 'k');
    let rewritten = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== COORDINATOR || typeOf(body) !== MessageType.reshareStart) return [body];
      rewritten += 1;
      const envelope = parseRaw(body);
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), current: relayed as Envelope[] } })];
    };
    const result = await cluster.reshare({ keyId: 'k' });
    harness.hooks.intercept = undefined;
    expect(rewritten, label).toBeGreaterThan(0);
    expect(result.ok, label).toBe(false);
    expect(['stale-epoch', 'inconsistent-package'], label).toContain(result.error?.code);
    expect(await keyState(cluster, 'k'), label).toBe(before);
    await expectStillSigns(cluster, 'k', fixture.publicKey);
  }
});

test('a second refresh or reshare of a key while one is in flight is refused; the first completes', async () => {
  const { cluster } = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const first = await cluster.initiator.requestLifecycle({ keyId: 'k', requestId: 'first' });
  const second = await cluster.initiator.requestLifecycle({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, requestId: 'second' });
  await cluster.run();
  const results = cluster.takeResults();
  const of = (session: string) => results.find((r) => r.session === session)?.body as { ok: boolean; error?: { code: string }; epoch?: number } | undefined;
  expect(of(first)).toMatchObject({ ok: true, epoch: 1 });
  expect(of(second)).toMatchObject({ ok: false, error: { code: 'conflict' } });
  expect((await cluster.coordinator.getKey('k'))?.epoch).toBe(1);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a coordinator that drops its own reshare lock: the parties\' own locks refuse the second session; the first completes', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  // A compromised coordinator table: its lock of the key is gone whenever a request arrives.
  harness.hooks.wrap = async (node, body, context, handler) => {
    if (node === COORDINATOR && (typeOf(body) === MessageType.reshareRequest || typeOf(body) === MessageType.refreshRequest)) {
      await cluster.stores.get(COORDINATOR)?.write([{ op: 'delete', key: coordinatorKeys.reshareLock('k'), condition: { kind: 'none' } }], Math.floor(Date.now() / 1000));
    }
    return handler(body, context);
  };
  const first = await cluster.initiator.requestLifecycle({ keyId: 'k', requestId: 'first' });
  const second = await cluster.initiator.requestLifecycle({ keyId: 'k', requestId: 'second' });
  await cluster.run();
  const results = cluster.takeResults();
  const of = (session: string) => results.find((r) => r.session === session)?.body as { ok: boolean; error?: { code: string } } | undefined;
  expect(of(first)).toMatchObject({ ok: true });
  expect(of(second)).toMatchObject({ ok: false, error: { code: 'conflict' } });
  // Refused at start by the parties themselves, before any dealing of the second session.
  const refusals = cluster.outcomes.filter((o) => o.outcome.status === 'refused' && o.outcome.type === MessageType.reshareStart && o.outcome.session === second);
  expect(refusals.length).toBeGreaterThan(0);
  expect(refusals.every((o) => o.outcome.status === 'refused' && o.outcome.reason.includes('in flight at this party'))).toBe(true);
  expect(cluster.outcomes.filter((o) => o.outcome.session === second && o.outcome.type === MessageType.reshareDeal)).toEqual([]);
  expect((await cluster.coordinator.getKey('k'))?.epoch).toBe(1);
  harness.hooks.wrap = undefined;
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a coordinator that confirms with one new party\'s attestation missing: nobody switches; the honest confirmation then switches everyone', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const coordinatorVault = requiredVault(cluster, COORDINATOR);
  const honest: string[] = [];
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== COORDINATOR || typeOf(body) !== MessageType.reshareConfirm) return [body];
    honest.push(body);
    const envelope = parseRaw(body);
    const done = (bodyOf(envelope).done as Envelope[]).slice(1);
    return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), done } })];
  };
  const shareItems = async () => Promise.all(['p1', 'p2', 'p3', 'p4'].map(async (p) => (await cluster.stores.get(p)?.get(partyKeys.keyShare('k'))) ?? null));
  const before = JSON.stringify(await shareItems());
  const result = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2 });
  expect(result.ok).toBe(true); // the coordinator's own word; the parties did not switch
  expect(JSON.stringify(await shareItems())).toBe(before);
  const refused = cluster.outcomes.filter((o) => o.outcome.status === 'refused' && o.outcome.type === MessageType.reshareConfirm);
  expect(refused.length).toBe(4);
  harness.hooks.intercept = undefined;
  // The same confirmation unaltered (a fresh message: the altered one's id is spent).
  for (const body of honest) {
    const envelope = parseRaw(body);
    const party = cluster.parties.get(envelope.to);
    expect(await party?.handle(await freshCopy(coordinatorVault, envelope, Date.now()))).toMatchObject({ status: 'processed' });
  }
  for (const p of ['p1', 'p2', 'p3']) expect((await cluster.stores.get(p)?.get(partyKeys.keyShare('k')))?.data).toMatchObject({ epoch: 1 });
  expect(await cluster.stores.get('p4')?.get(partyKeys.keyShare('k'))).toBeUndefined();
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a current party being removed cannot veto its removal: its refusal is audited and ignored, the others switch', async () => {
  const { cluster } = await openFromFixture(scratch, fixture, {
    policy: lifecyclePolicy(),
    // Only p4's own policy lacks the grant: it is told of the reshare but neither deals nor receives.
    policyFor: (party, policy) => (party === 'p4' ? { ...policy, initiators: { cli: { keygen: true, keys: ['*'] } } } : undefined),
  });
  const result = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, dealers: ['p1', 'p2', 'p3'] });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  expect(cluster.outcomes.filter((o) => o.node === 'p4' && o.outcome.status === 'refused').map((o) => o.outcome.type)).toContain(MessageType.reshareStart);
  expect((await cluster.coordinator.getKey('k'))?.parties).toEqual(['p1', 'p2', 'p3']);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a request planned against an older epoch is refused by every party, even relayed by a coordinator that let it through; nothing changes', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  expect((await cluster.refresh({ keyId: 'k' })).ok).toBe(true);
  const key = await cluster.coordinator.getKey('k');
  const epoch = key?.epoch ?? 0;
  expect(epoch).toBeGreaterThan(0);
  // The coordinator's own intake refuses it...
  const refused = await cluster.refresh({ keyId: 'k', epoch: epoch - 1 });
  expect(refused.error?.code).toBe('stale-epoch');
  // ...and a coordinator that relays it anyway, with the genuine current attestations, gets the same from each party.
  const requestId = 'planned-on-an-old-epoch';
  const session = deriveSessionId('cli', requestId);
  const request = await createEnvelope(requiredVault(cluster, 'cli'), Date.now(), { type: MessageType.refreshRequest, session, from: 'cli', to: COORDINATOR, body: { requestId, keyId: 'k', epoch: epoch - 1 } });
  const before = await keyState(cluster, 'k');
  for (const party of key?.parties ?? []) {
    const start = await createEnvelope(requiredVault(cluster, COORDINATOR), Date.now(), { type: MessageType.reshareStart, session, from: COORDINATOR, to: party, body: { request, current: key?.attestations ?? [] } });
    expect(await cluster.parties.get(party)?.handle(JSON.stringify(start)), party).toMatchObject({ status: 'refused', code: 'stale-epoch' });
  }
  expect(await keyState(cluster, 'k')).toBe(before);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});
