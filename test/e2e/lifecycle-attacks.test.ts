/**
 * Attacks on the key lifecycle found by review, driven through the real interfaces:
 * - an accusation's evidence must not open any honest dealer's share (one secret that opened
 *   every dealer's share to the accuser would let a malicious new party interpolate each
 *   dealer's λ_j·s_j and so the group secret);
 * - a coordinator cannot turn a dealer that has dealt into one that abandons, and so cannot
 *   confirm some parties and abort the others (old and new shares split, key unusable);
 * - a participant publishing a low-order X25519 key is refused on receipt and named.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { bytesToHex, decodeHex } from '../../lib/protocol/encoding.js';
import { newMessageId } from '../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType, type Envelope } from '../../lib/protocol/messages.js';
import { partyKeys, ReshareStateRecord } from '../../lib/protocol/party-state.js';
import { judgeDealingAccusation } from '../../lib/protocol/reshare/blame.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { openShare } from '../../lib/protocol/share-sealing.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';
import { bodyOf, makeFixture, openFromFixture, parseRaw, requiredParty, requiredVault, resign, Scratch, typeOf, type Fixture, type Harness } from '../support/harness.js';
import { expectStillSigns, keyState, lifecyclePolicy } from '../support/lifecycle.js';

const scratch = new Scratch();
let fixture: Fixture;
beforeAll(async () => {
  fixture = await makeFixture(scratch, 3, 2, 'k');
});
afterAll(() => scratch.cleanup());

/** Every envelope of `type` sent by `from` (as sent, before any interception). */
function sentBy(harness: Harness, from: string, type: string): Envelope[] {
  return harness.sent.filter((m) => m.from === from && typeOf(m.body) === type).map((m) => parseRaw(m.body));
}

function only<T>(list: readonly T[], what: string): T {
  const [first] = list;
  if (list.length !== 1 || first === undefined) throw new Error(`expected exactly one ${what}, got ${list.length}`);
  return first;
}

test('a bad share from a dealer that is also a new party: the accuser\'s evidence opens only the accused\'s share to it, no honest dealer\'s', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const p3 = requiredVault(cluster, 'p3');
  // p3 (a dealer and a new party) garbles its sealed share to the honest p1, re-signed with its own identity key.
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== 'p3' || typeOf(body) !== MessageType.reshareDealing) return [body];
    const envelope = parseRaw(body);
    const shares = { ...(bodyOf(envelope).shares as Record<string, { iv: string; ct: string }>) };
    const toP1 = shares.p1;
    if (toP1 === undefined) return [body];
    shares.p1 = { iv: toP1.iv, ct: `${toP1.ct.slice(0, -2)}${toP1.ct.endsWith('00') ? '01' : '00'}` };
    return [await resign(p3, envelope, { body: { ...bodyOf(envelope), shares } })];
  };
  const before = await keyState(cluster, 'k');
  const result = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2 });
  expect(result.ok).toBe(false);
  expect(result.error).toMatchObject({ code: 'bad-dealing', blame: ['p3'] });
  expect(result.error?.message).toContain('the coordinator checked the evidence');
  expect(await keyState(cluster, 'k')).toBe(before);

  const refusal = only(sentBy(harness, 'p1', MessageType.partyRefused), 'refusal of p1');
  const accusation = bodyOf(refusal).accusation as { accused: string; evidence: Record<string, string> };
  expect(accusation.accused).toBe('p3');
  // Whatever secret the evidence reveals (old code: the session secret), it must open p3's share to p1 and nothing else.
  const revealed = accusation.evidence.receiveSecret ?? accusation.evidence.ephemeralSecret;
  expect(revealed).toBeDefined();
  const session = refusal.session;
  const opens = (dealer: string): boolean => {
    const dealing = only(sentBy(harness, dealer, MessageType.reshareDealing), `dealing of ${dealer}`);
    const round1 = only(sentBy(harness, dealer, MessageType.reshareRound1), `round 1 of ${dealer}`);
    const sealed = (bodyOf(dealing).shares as Record<string, { iv: string; ct: string }>).p1;
    if (sealed === undefined) throw new Error(`no share of ${dealer} to p1`);
    const scope = new SecretScope();
    try {
      const secret = scope.track(decodeHex(revealed ?? '', 'secret', 32));
      const binding = { session, keyId: 'k', sender: dealer, recipient: 'p1' };
      return openShare(secret, decodeHex(bodyOf(round1).ephemeralKey as string, 'key', 32), binding, sealed, scope, 'frostline/reshare-share/v1') !== undefined;
    } finally {
      scope.wipe();
    }
  };
  // p3's share to p1 as p3 sealed it (before its garbling) opens with the evidence: what the accusation is about.
  expect(opens('p3')).toBe(true);
  // No honest dealer's share to p1 opens with it (neither p2's nor p1's own).
  expect(opens('p2')).toBe(false);
  expect(opens('p1')).toBe(false);
  // Nor can that secret be passed off as evidence against an honest dealer: p1 (re-signing its refusal) accusing p2 with it is judged against p1.
  const stored = await cluster.getSession(session);
  if (stored?.kind !== 'reshare') throw new Error('no reshare session at the coordinator');
  const misused = parseRaw(await resign(requiredVault(cluster, 'p1'), refusal, { body: { ...bodyOf(refusal), accusation: { accused: 'p2', evidence: accusation.evidence } } }));
  expect(judgeDealingAccusation(misused, stored, { suite: ed25519Suite, directory: cluster.directory })).toMatchObject({ holds: false, faulty: 'p1' });
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a coordinator cannot make a dealer that has dealt abandon, nor abort the others with such an abandonment: the key never splits', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const coordinator = requiredVault(cluster, COORDINATOR);
  const fresh = (envelope: Envelope, changes: Partial<Envelope>) => resign(coordinator, envelope, { id: newMessageId(), ts: Date.now(), ...changes });
  // Reshare from dealers {p1, p2} to {p2, p3}: p1 deals and leaves (its state stays `started` after dealing).
  // The coordinator holds back the confirmations of p1 and p3 (p2 switches).
  let shares: Envelope | undefined;
  const heldBack: Envelope[] = [];
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== COORDINATOR) return [body];
    if (typeOf(body) === MessageType.reshareShares) shares ??= parseRaw(body);
    if (typeOf(body) === MessageType.reshareConfirm && parseRaw(body).to !== 'p2') {
      heldBack.push(parseRaw(body));
      return [];
    }
    return [body];
  };
  const result = await cluster.reshare({ keyId: 'k', parties: ['p2', 'p3'], threshold: 2, dealers: ['p1', 'p2'] });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  if (shares === undefined) throw new Error('no reshare.shares seen');
  const session = shares.session;
  harness.sent.length = 0;
  // Sent the shares (not a new party's message), p1 refuses: having dealt, it must not promise to abandon.
  await requiredParty(cluster, 'p1').handle(await fresh(shares, { to: 'p1' }));
  const refusal = only(sentBy(harness, 'p1', MessageType.partyRefused), 'refusal of p1');
  expect(bodyOf(refusal).abandoned).not.toBe(true);
  // Even p1's own signature on an abandonment (its refusal re-signed so) does not abort p3, which holds p1's signed dealing.
  const forged = parseRaw(await resign(requiredVault(cluster, 'p1'), refusal, { body: { ...bodyOf(refusal), abandoned: true } }));
  const p3State = async () => JSON.stringify([await cluster.stores.get('p3')?.get(partyKeys.reshareState(session)), await cluster.stores.get('p3')?.get(partyKeys.pendingShare('k', session))]);
  const before = await p3State();
  const outcome = await requiredParty(cluster, 'p3').handle(await fresh(shares, { type: MessageType.reshareAbort, to: 'p3', body: { request: bodyOf(shares).request, refusal: forged } }));
  expect(outcome).toMatchObject({ status: 'refused', code: 'unproven-abort' });
  expect(await p3State()).toBe(before);
  // The held-back confirmations still switch p1 and p3: one key, at epoch 1, that signs.
  for (const confirm of heldBack) expect(await requiredParty(cluster, confirm.to).handle(await fresh(confirm, {}))).toMatchObject({ status: 'processed' });
  for (const p of ['p2', 'p3']) expect((await cluster.stores.get(p)?.get(partyKeys.keyShare('k')))?.data).toMatchObject({ epoch: 1 });
  expect(await cluster.stores.get('p1')?.get(partyKeys.keyShare('k'))).toBeUndefined();
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('after confirm no party\'s reshare state holds a secret or a dealing', async () => {
  const { cluster } = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const result = await cluster.reshare({ keyId: 'k', parties: ['p2', 'p3'], threshold: 2, dealers: ['p1', 'p2', 'p3'] });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  for (const party of ['p1', 'p2', 'p3']) {
    const states = ((await cluster.stores.get(party)?.scanPrefix('reshare#')) ?? []).filter((item) => item.sk === 'state').map((item) => ReshareStateRecord.parse(item.data));
    expect(states.length).toBe(1);
    for (const state of states) {
      expect(state.status).toBe('confirmed');
      expect(state.secret).toBeUndefined();
      expect(state.dealing).toBeUndefined();
    }
  }
});

test('a participant publishing a low-order X25519 key is refused on receipt and named; no redelivery loop', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const p2 = requiredVault(cluster, 'p2');
  // u = 0: a point of order 2, so every shared secret with it is zero.
  const lowOrder = bytesToHex(new Uint8Array(32));
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== 'p2' || typeOf(body) !== MessageType.reshareRound1) return [body];
    const envelope = parseRaw(body);
    return [await resign(p2, envelope, { body: { ...bodyOf(envelope), ephemeralKey: lowOrder } })];
  };
  const before = await keyState(cluster, 'k');
  // Refused on receipt, naming p2 (as a bad DKG round 1 is): the session cannot go on and no result comes.
  await expect(cluster.reshare({ keyId: 'k' })).rejects.toThrow(/no reshare.result/);
  const refused = harness.logs.filter((l) => l.message === 'message refused' && l.fields.type === MessageType.reshareRound1);
  expect(refused).toHaveLength(1);
  expect(refused[0]?.fields).toMatchObject({ from: 'p2', blame: 'p2', code: 'inconsistent-package' });
  // Refused once, never delivered again; nothing else failed as a plain error.
  expect(harness.logs.filter((l) => l.level === 'error')).toEqual([]);
  expect(await keyState(cluster, 'k')).toBe(before);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a dealing signed on another round-1 transcript: refused on receipt naming its dealer; relayed anyway by the coordinator, refused by the new parties', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const p2 = requiredVault(cluster, 'p2');
  const otherTranscript = (envelope: Envelope) => resign(p2, envelope, { body: { ...bodyOf(envelope), round1Hash: 'ab'.repeat(32) } });
  // 1. p2 signs its dealing on another transcript: the coordinator refuses it on receipt and names p2.
  harness.hooks.intercept = async ({ from, body }) => (from === 'p2' && typeOf(body) === MessageType.reshareDealing ? [await otherTranscript(parseRaw(body))] : [body]);
  const before = await keyState(cluster, 'k');
  await expect(cluster.reshare({ keyId: 'k' })).rejects.toThrow(/no reshare.result/);
  const refused = harness.logs.filter((l) => l.message === 'message refused' && l.fields.type === MessageType.reshareDealing);
  expect(refused.map((l) => l.fields)).toMatchObject([{ from: 'p2', blame: 'p2', code: 'inconsistent-package' }]);
  expect(await keyState(cluster, 'k')).toBe(before);

  // 2. A coordinator that relays such a dealing anyway (in the shares it re-signs): every new party refuses it as another transcript.
  // (A fresh cluster: the stalled session above holds the key's reshare locks until it times out.)
  const second = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  await relayAnyway(second, 'p2');
});

async function relayAnyway(harness: Harness, dealer: string): Promise<void> {
  const { cluster } = harness;
  const dealerVault = requiredVault(cluster, dealer);
  const coordinator = requiredVault(cluster, COORDINATOR);
  const otherTranscript = (envelope: Envelope) => resign(dealerVault, envelope, { body: { ...bodyOf(envelope), round1Hash: 'ab'.repeat(32) } });
  const before = await keyState(cluster, 'k');
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== COORDINATOR || typeOf(body) !== MessageType.reshareShares) return [body];
    const envelope = parseRaw(body);
    const dealings = await Promise.all((bodyOf(envelope).dealings as Envelope[]).map(async (d) => (d.from === dealer ? parseRaw(await otherTranscript(d)) : d)));
    return [await resign(coordinator, envelope, { body: { ...bodyOf(envelope), dealings } })];
  };
  const result = await cluster.reshare({ keyId: 'k' });
  expect(result.ok).toBe(false);
  const sharesRefusals = cluster.outcomes.filter((o) => o.outcome.status === 'refused' && o.outcome.type === MessageType.reshareShares);
  expect(sharesRefusals.length).toBeGreaterThan(0);
  for (const o of sharesRefusals) expect(o.outcome).toMatchObject({ code: 'transcript-mismatch' });
  expect(await keyState(cluster, 'k')).toBe(before);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
}
