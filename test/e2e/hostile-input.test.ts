/**
 * Hostile input that reaches the coordinator and the parties (issue 8, items 4, 5, 6, 11):
 * malformed nonce commitments, a non-canonical signature share, poison JSON, and a
 * commitment offered a second time. Each is pinned on its signed sender or refused as
 * malformed; none stalls a session or ends in a dead-letter queue.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { RefusalCode } from '../../lib/ports/errors.js';
import type { StoredItem } from '../../lib/ports/store.js';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL } from '../../lib/protocol/directory.js';
import { newMessageId } from '../../lib/protocol/envelope.js';
import { MessageType, type Envelope, type SignResultBody } from '../../lib/protocol/messages.js';
import {
  bodyOf,
  encoder,
  freshCopy,
  makeFixture,
  openFromFixture,
  opensslVerifies,
  parseRaw,
  requiredParty,
  requiredVault,
  resign,
  Scratch,
  storeItems,
  typeOf,
  type Fixture,
  type Harness,
} from '../support/harness.js';
import { refusal } from '../support/refusal.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixturePromise: Promise<Fixture> | undefined;
const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));
const PARTIES = ['p1', 'p2', 'p3'];
const NODES = ['coordinator', ...PARTIES];

interface Commitment {
  identifier: string;
  hiding: string;
  binding: string;
}

const commitmentOf = (raw: string) => bodyOf(parseRaw(raw)).commitment as Commitment;
const attemptOf = (raw: string) => bodyOf(parseRaw(raw)).attempt;

/** A party re-signing its own `sign.commitment` with a changed body: what a malicious party can do. */
async function resignCommitment(harness: Harness, party: string, raw: string, commitment: Commitment): Promise<string> {
  const envelope = parseRaw(raw);
  return resign(requiredVault(harness.cluster, party), envelope, { body: { ...bodyOf(envelope), commitment } });
}

async function signAndCollect(harness: Harness, keyId: string, message: Uint8Array): Promise<{ session: string; result: SignResultBody }> {
  const session = await harness.cluster.initiator.requestSignature({ keyId, message });
  await harness.cluster.run();
  const results = harness.cluster.takeResults().filter((r) => r.session === session);
  const first = results[0];
  if (results.length !== 1 || first?.type !== 'sign.result') throw new Error(`expected one sign.result, got ${results.length}`);
  return { session, result: first.body };
}

/** The pooled entries (batch/index) of p3 that sign.pooled packages to p3 carried since `from`. */
function p3Entries(harness: Harness, from: number): string[] {
  return harness.sent.slice(from).filter((m) => typeOf(m.body) === MessageType.signPooled).flatMap(({ body }) => {
    const envelope = parseRaw(body);
    if (envelope.to !== 'p3') return [];
    return (bodyOf(envelope).commitments as { batch: Envelope; index: number }[]).filter((e) => e.batch.from === 'p3').map((e) => `${e.batch.session}/${e.index}`);
  });
}

async function signSession(harness: Harness, session: string) {
  const stored = await harness.cluster.coordinator.getSession(session);
  if (stored?.kind !== 'sign') throw new Error(`no signing session ${session}`);
  return stored;
}

function expectNoDeadLetters(harness: Harness): void {
  for (const [node, inbox] of harness.cluster.inboxes) expect(inbox.deadLetters.peekAll(), `dead letters of ${node}`).toEqual([]);
}

function coordinatorRefusals(harness: Harness, type: string) {
  return harness.cluster.outcomes.filter((o) => o.node === 'coordinator' && o.outcome.status === 'refused' && o.outcome.type === type);
}

async function nonceItems(dir: string, party: string) {
  const items = await storeItems(dir, party, 'nonce#');
  return { unused: items.filter((i) => i.sk === 'nonce'), consumed: items.filter((i) => i.sk === 'consumed') };
}

/** The coordinator's records of commitments it used (RFC 9591 §7.3). */
async function commitmentClaims(dir: string) {
  return (await storeItems(dir, 'coordinator', 'commitment#')).map((item) => ({ pk: item.pk, ...(item.data as { session: string; attempt: number; party: string }) }));
}

/** Every item of every node's store (by key, data and version): to show a refusal changed nothing. */
async function snapshot(dir: string): Promise<Record<string, StoredItem[]>> {
  const all: Record<string, StoredItem[]> = {};
  for (const node of NODES) all[node] = await storeItems(dir, node, '');
  return all;
}

// A 32-byte string that is no point: y = 2 has no x on edwards25519 (checked below).
const NOT_ON_CURVE = `02${'00'.repeat(31)}`;
const IDENTITY = ED25519_TORSION_SUBGROUP[0] ?? '';
const ORDER_8 = ED25519_TORSION_SUBGROUP[1] ?? '';
/** A valid prime-order element plus an order-8 component: on the curve, not the identity, not torsion-free. */
const withTorsion = (hiding: string) => ed25519.Point.fromHex(hiding).add(ed25519.Point.fromHex(ORDER_8)).toHex();

const BAD_HIDING: readonly [string, (honest: string) => string][] = [
  ['the identity', () => IDENTITY],
  ['32 bytes that are not a curve point', () => NOT_ON_CURVE],
  ['a small-order point', () => ORDER_8],
  ['a point with a torsion component', withTorsion],
];

describe('the bad elements used below', () => {
  it('are what they claim to be (so the tests test the right check)', () => {
    expect(() => ed25519.Point.fromHex(NOT_ON_CURVE)).toThrow();
    expect(ed25519.Point.fromHex(IDENTITY).is0()).toBe(true);
    expect(ed25519.Point.fromHex(ORDER_8).isSmallOrder()).toBe(true);
    const mixed = ed25519.Point.fromHex(withTorsion(ed25519.Point.BASE.toHex()));
    expect(mixed.isSmallOrder() || mixed.isTorsionFree()).toBe(false);
  });
});

describe('a party that sends an invalid nonce commitment', () => {
  /**
   * p3 replaces the hiding element of every commitment it sends. p1's commitment is held back
   * until p3's is sent, so p3's arrives while the signers are still being chosen.
   */
  function cheatWith(harness: Harness, cheaters: readonly string[], bad: (honest: string) => string): void {
    let heldFromP1: string | undefined;
    harness.hooks.intercept = async ({ from, body }) => {
      if (typeOf(body) !== MessageType.signCommitment) return [body];
      if (from === 'p1' && !cheaters.includes('p1') && attemptOf(body) === 1 && heldFromP1 === undefined) {
        heldFromP1 = body;
        return [];
      }
      if (!cheaters.includes(from)) return [body];
      const honest = commitmentOf(body);
      const forged = await resignCommitment(harness, from, body, { ...honest, hiding: bad(honest.hiding) });
      const release = from === 'p3' && heldFromP1 !== undefined ? [heldFromP1] : [];
      return [forged, ...release];
    };
  }

  it.each(BAD_HIDING)('(%s) is refused and its sender excluded and named; the two honest parties sign', async (_what, bad) => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    cheatWith(harness, ['p3'], bad);
    const message = encoder.encode('one cheater among three');
    const { session, result } = await signAndCollect(harness, fixture.keyId, message);

    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.signers).toEqual(['p1', 'p2']);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);

    // Named: the coordinator refused the commitment with the code and blamed p3 (not the honest signers).
    const stored = await signSession(harness, session);
    expect(stored.excluded).toEqual(['p3']);
    expect(stored.attempt).toBe(1);
    expect(stored.refused).toEqual({});
    expect(coordinatorRefusals(harness, MessageType.signCommitment).map((o) => o.outcome)).toEqual([
      expect.objectContaining({ status: 'refused', code: RefusalCode.invalidCommitment }),
    ]);
    expect(harness.logs.filter((l) => l.message === 'message refused' && l.fields.code === RefusalCode.invalidCommitment).map((l) => l.fields.blame)).toEqual(['p3']);

    // Stored state: no claim was recorded for the refused commitment, p3's nonce was never
    // spent, and nothing went to a dead-letter queue.
    expect((await commitmentClaims(harness.dir)).map((c) => c.party).sort()).toEqual(['p1', 'p2']);
    expect(await nonceItems(harness.dir, 'p3')).toMatchObject({ unused: [expect.anything()], consumed: [] });
    expectNoDeadLetters(harness);
  });

  it('fails with cheater-detected naming both cheaters when too few honest parties remain', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    cheatWith(harness, ['p2', 'p3'], () => IDENTITY);
    const { session, result } = await signAndCollect(harness, fixture.keyId, encoder.encode('two cheaters'));

    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('cheater-detected');
    expect([...(result.error?.blame ?? [])].sort()).toEqual(['p2', 'p3']);
    expect(result.signature).toBeUndefined();
    const stored = await signSession(harness, session);
    expect(stored.phase).toBe('failed');
    expect(stored.signers).toEqual([]);
    // The honest party was never asked to sign, so it spent nothing.
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signPackage)).toEqual([]);
    for (const party of PARTIES) expect((await nonceItems(harness.dir, party)).consumed).toEqual([]);
    expectNoDeadLetters(harness);
  });

  it('relayed by a coordinator that did not check it, is refused by the signer naming its sender; no nonce is spent', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    // Hold every signing package: each signer keeps an unused nonce.
    harness.hooks.intercept = ({ from, body }) => (from === 'coordinator' && typeOf(body) === MessageType.signPackage ? [] : [body]);
    const session = await harness.cluster.initiator.requestSignature({ keyId: fixture.keyId, message: encoder.encode('held') });
    await harness.cluster.run();
    const stored = await signSession(harness, session);
    const [victim, accomplice] = stored.signers;
    if (victim === undefined || accomplice === undefined) throw new Error('expected two signers');

    // A malicious coordinator swaps in the accomplice's commitment with the identity as hiding,
    // signed by the accomplice itself, and re-signs the package.
    const held = harness.sent.find((m) => m.destination.kind === 'party' && m.destination.id === victim && typeOf(m.body) === MessageType.signPackage);
    if (held === undefined) throw new Error('no package held for the victim');
    const pkg = parseRaw(held.body);
    const commitments = await Promise.all(
      (bodyOf(pkg).commitments as Envelope[]).map(async (c) =>
        c.from === accomplice ? parseRaw(await resignCommitment(harness, accomplice, JSON.stringify(c), { ...commitmentOf(JSON.stringify(c)), hiding: IDENTITY })) : c,
      ),
    );
    const forged = await freshCopy(requiredVault(harness.cluster, 'coordinator'), pkg, Date.now(), { ...bodyOf(pkg), commitments });
    const mark = harness.sent.length;
    const outcome = await requiredParty(harness.cluster, victim).handle(forged);

    expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.invalidCommitment });
    const reports = harness.sent.slice(mark).filter((m) => m.from === victim);
    expect(reports.map((m) => typeOf(m.body))).toEqual([MessageType.partyRefused]);
    expect(bodyOf(parseRaw(reports[0]?.body ?? ''))).toMatchObject({ code: RefusalCode.invalidCommitment, accusation: { accused: accomplice } });
    expect(harness.sent.slice(mark).filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);
    // The victim's nonce is untouched: still unused, nothing consumed.
    expect(await nonceItems(harness.dir, victim)).toMatchObject({ unused: [expect.anything()], consumed: [] });
  });
});

describe('a party that sends a non-canonical signature share', () => {
  it('(≥ L) is an invalid share: sender excluded, signing retried and completed, nothing dead-lettered', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    harness.hooks.intercept = async ({ from, body }) => {
      const type = typeOf(body);
      // p3's first commitment is lost, so attempt 1 is signed by p1 and p2.
      if (from === 'p3' && type === MessageType.signCommitment && attemptOf(body) === 1) return [];
      if (from !== 'p2' || type !== MessageType.signShare) return [body];
      const envelope = parseRaw(body);
      return [await resign(requiredVault(harness.cluster, 'p2'), envelope, { body: { ...bodyOf(envelope), share: 'ff'.repeat(32) } })];
    };
    const message = encoder.encode('share out of range');
    const { session, result } = await signAndCollect(harness, fixture.keyId, message);

    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.signers).toEqual(['p1', 'p3']);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    const stored = await signSession(harness, session);
    expect(stored.excluded).toEqual(['p2']);
    expect(stored.attempt).toBe(2);
    expect(harness.logs.filter((l) => l.message === 'invalid signature share').map((l) => l.fields.blame)).toEqual(['p2']);
    expectNoDeadLetters(harness);
  });
});

describe('poison JSON in an envelope', () => {
  const deepArrays = '['.repeat(100_000) + ']'.repeat(100_000);
  const deepObjects = '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000);
  const wide = `[${'0,'.repeat(110_000)}0]`;
  const BODIES: readonly [string, string][] = [
    ['200 KB of nested arrays', deepArrays],
    ['200 KB of nested objects', deepObjects],
    ['more than 100 000 values', wide],
    ['a number JSON cannot canonicalise (1e400)', '{"attempt":1e400}'],
  ];

  /** A raw envelope around `body`, as text: it cannot be signed (that is the point). */
  function rawEnvelope(fields: { type: string; from: string; to: string }, body: string): string {
    const head = JSON.stringify({ v: 1, type: fields.type, session: 'ab'.repeat(16), id: newMessageId(), from: fields.from, to: fields.to, ts: Date.now() });
    return `${head.slice(0, -1)},"body":${body},"sig":"${'00'.repeat(64)}"}`;
  }

  it.each(BODIES)('(%s) is refused as malformed by a party and by the coordinator, not thrown; state unchanged', async (_what, body) => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const before = await snapshot(harness.dir);
    const toParty = rawEnvelope({ type: MessageType.signCommit, from: 'coordinator', to: 'p1' }, body);
    const toCoordinator = rawEnvelope({ type: MessageType.signCommitment, from: 'p1', to: 'coordinator' }, body);
    expect(toParty.length).toBeLessThan(240 * 1024);
    harness.cluster.inboxes.get('p1')?.queue.send(toParty);
    harness.cluster.inboxes.get('coordinator')?.queue.send(toCoordinator);
    await harness.cluster.run();

    expect(harness.cluster.outcomes.map((o) => o.node).sort()).toEqual(['coordinator', 'p1']);
    for (const { outcome } of harness.cluster.outcomes) expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.malformed });
    expectNoDeadLetters(harness);
    expect(harness.sent).toEqual([]);
    expect(await snapshot(harness.dir)).toEqual(before);

    // The initiator's result inbox applies the same checks.
    const toInitiator = rawEnvelope({ type: MessageType.signResult, from: 'coordinator', to: 'cli' }, body);
    expect(refusal(() => harness.cluster.initiator.openResult(toInitiator)).code).toBe(RefusalCode.malformed);
  });
});

describe('a nonce commitment offered again (a rolled-back party)', () => {
  it('is refused by the coordinator (commitment-reused), its sender excluded; the honest parties sign', async () => {
    const fixture = await fixture23();
    // Pools off: both signatures run two rounds, so p3 offers the commitment in a sign.commitment (one round: below).
    const harness = await openFromFixture(scratch, fixture, { limits: { ...DEFAULT_LIMITS, noncePool: false } });

    // Session 1: p1's first commitment is lost, so p2 and p3 sign; p3's commitment is used.
    harness.hooks.intercept = ({ from, body }) =>
      from === 'p1' && typeOf(body) === MessageType.signCommitment && attemptOf(body) === 1 ? [] : [body];
    const first = await signAndCollect(harness, fixture.keyId, encoder.encode('first'));
    expect(first.result.signers).toEqual(['p2', 'p3']);
    const used = harness.sent.find((m) => m.from === 'p3' && typeOf(m.body) === MessageType.signCommitment);
    if (used === undefined) throw new Error('no commitment from p3');
    const usedCommitment = commitmentOf(used.body);

    // Session 2: p3 (restored from a backup, say) offers the same commitment again, properly signed.
    let replaced = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== 'p3' || typeOf(body) !== MessageType.signCommitment) return [body];
      replaced += 1;
      return [await resignCommitment(harness, 'p3', body, usedCommitment)];
    };
    const message = encoder.encode('second');
    const second = await signAndCollect(harness, fixture.keyId, message);

    expect(replaced).toBe(1);
    expect(second.result.ok, JSON.stringify(second.result.error)).toBe(true);
    expect(second.result.signers).toEqual(['p1', 'p2']);
    expect(opensslVerifies(fixture.publicKey, message, second.result.signature ?? '')).toBe(true);
    expect((await signSession(harness, second.session)).excluded).toEqual(['p3']);
    expect(coordinatorRefusals(harness, MessageType.signCommitment).map((o) => o.outcome)).toEqual([
      expect.objectContaining({ status: 'refused', code: RefusalCode.commitmentReused, session: second.session }),
    ]);
    expect(harness.logs.filter((l) => l.message === 'message refused' && l.fields.code === RefusalCode.commitmentReused).map((l) => l.fields.blame)).toEqual(['p3']);

    // Stored: one claim per used commitment; p3's still names session 1. p3's fresh nonce for session 2 was never spent.
    const claims = await commitmentClaims(harness.dir);
    expect(claims).toHaveLength(4);
    expect(claims.filter((c) => c.pk.endsWith(usedCommitment.hiding))).toEqual([
      expect.objectContaining({ session: first.session, attempt: 1, party: 'p3' }),
    ]);
    const p3Nonces = await nonceItems(harness.dir, 'p3');
    expect(p3Nonces.consumed.map((i) => i.pk)).toEqual([expect.stringContaining(first.session)]);
    expect(p3Nonces.unused.map((i) => i.pk)).toEqual([expect.stringContaining(second.session)]);
    expectNoDeadLetters(harness);

    // The same commitment delivered again for its own session and attempt (a new copy) is no reuse.
    harness.hooks.intercept = undefined;
    const fromP1 = harness.sent.filter((m) => m.from === 'p1' && typeOf(m.body) === MessageType.signCommitment).at(-1);
    if (fromP1 === undefined) throw new Error('no commitment from p1');
    const again = await freshCopy(requiredVault(harness.cluster, 'p1'), parseRaw(fromP1.body), Date.now());
    expect(await harness.cluster.coordinator.handle(again)).toMatchObject({ status: 'processed' });
  });

  it('as a pool batch sent again (same batch id) after its entries were all handed out: ignored, and none of its entries is offered again', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture, { limits: { ...DEFAULT_LIMITS, noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 2, lowWater: 0 } } });
    // Session 1 (two rounds) fills the pools: 2 entries per party. p1's batch is lost, so p2
    // and p3 sign sessions 2 and 3 in one round and hand out both of p3's first entries.
    harness.hooks.intercept = ({ from, body }) => (from === 'p1' && typeOf(body) === MessageType.poolBatch ? [] : [body]);
    await signAndCollect(harness, fixture.keyId, encoder.encode('fills the pools'));
    const firstBatch = harness.sent.find((m) => m.from === 'p3' && typeOf(m.body) === MessageType.poolBatch);
    if (firstBatch === undefined) throw new Error('p3 sent no batch');
    const old = parseRaw(firstBatch.body);
    const from = harness.sent.length;
    for (const text of ['second', 'third']) expect((await signAndCollect(harness, fixture.keyId, encoder.encode(text))).result.signers).toEqual(['p2', 'p3']);
    expect(p3Entries(harness, from)).toEqual([`${old.session}/0`, `${old.session}/1`]);

    // p3 (rolled back, or broken) sends that batch again: the very envelope (a replay), and
    // re-signed as new messages, once as it was and once with fresh commitments under the old id.
    const vault = requiredVault(harness.cluster, 'p3');
    const before = await snapshot(harness.dir);
    expect(await harness.cluster.coordinator.handle(firstBatch.body)).toMatchObject({ status: 'refused', code: RefusalCode.replayed });
    const newest = parseRaw(harness.sent.filter((m) => m.from === 'p3' && typeOf(m.body) === MessageType.poolBatch).at(-1)?.body ?? firstBatch.body);
    expect(newest.session).not.toBe(old.session);
    const reused = { ...bodyOf(old), commitments: bodyOf(newest).commitments };
    for (const copy of [await freshCopy(vault, old, Date.now()), await freshCopy(vault, old, Date.now(), reused)]) {
      expect(await harness.cluster.coordinator.handle(copy)).toMatchObject({ status: 'processed', type: MessageType.poolBatch });
    }
    // Nothing stored changed but the copies' replay marks.
    const without = (all: Record<string, StoredItem[]>) => Object.fromEntries(Object.entries(all).map(([node, items]) => [node, items.filter((i) => !i.pk.startsWith('seen#'))]));
    expect(without(await snapshot(harness.dir))).toEqual(without(before));

    // The next signature runs in one round from the new batches; no package carries the old one.
    harness.hooks.intercept = undefined;
    const next = harness.sent.length;
    const fourth = await signAndCollect(harness, fixture.keyId, encoder.encode('fourth'));
    expect(fourth.result.ok, JSON.stringify(fourth.result.error)).toBe(true);
    const packages = harness.sent.slice(next).filter((m) => typeOf(m.body) === MessageType.signPooled);
    expect(packages.length).toBeGreaterThan(0);
    for (const { body } of packages) expect((bodyOf(parseRaw(body)).commitments as { batch: Envelope }[]).map((e) => e.batch.session)).not.toContain(old.session);
    expect(harness.cluster.outcomes.filter((o) => o.outcome.status === 'refused' && o.outcome.code !== RefusalCode.replayed)).toEqual([]);
    expectNoDeadLetters(harness);
  });
});
