/**
 * One-round signing from nonce pools, coordinator side, through a real Coordinator on an
 * in-memory store: batches received (and every refusal leaving the table as it was), pooled
 * commitments claimed at intake exactly once however requests race, refills asked of
 * parties running low, and the fallbacks to two rounds (a refusing signer, a silent one).
 */
import { poolsFit } from '../../../../lib/protocol/coordinator-requests.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { coordinatorKeys, type SignSession } from '../../../../lib/protocol/coordinator-state.js';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL } from '../../../../lib/protocol/directory.js';
import { createEnvelope, deriveSessionId, envelopeSigningInput, parseBody } from '../../../../lib/protocol/envelope.js';
import { commitmentFromWire, commitmentToWire, publicFromWire, signingPackageHash, sortCommitments } from '../../../../lib/protocol/frost-wire.js';
import { Delegation } from '../../../../lib/protocol/delegation.js';
import { COORDINATOR, MessageType, type Envelope, type NonceCommitment } from '../../../../lib/protocol/messages.js';
import { acceptPoolBatch } from '../../../../lib/protocol/sign/coordinator-pool-batch.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { AUDIT, Cast, NOW, identifierOf } from '../../../support/coordinator-fixtures.js';
import { HOUR, PoolRig, batchOf, signRequest, type Batch } from '../../../support/pool-fixtures.js';
import { refusal } from '../../../support/refusal.js';
import { seenKey } from '../../../../lib/protocol/replay-guard.js';
import { signSetup, type SignSetup } from '../../../support/sign-fixtures.js';
import { bytesToHex } from '../../../../lib/protocol/encoding.js';

const { frost } = ed25519Suite;
const cast = new Cast(['p1', 'p2', 'p3', 'p4']);
/** k1: 2-of-3 among p1..p3 (p4 is pinned but holds no share of it). */
let setup: SignSetup;
let rig: PoolRig | undefined;
beforeAll(async () => {
  setup = await signSetup(new Cast(['p1', 'p2', 'p3']));
});
afterEach(() => {
  rig?.close();
  rig = undefined;
});

async function newRig(pool: Parameters<typeof PoolRig.create>[2] = {}): Promise<PoolRig> {
  rig = await PoolRig.create(cast, setup.key, pool);
  return rig;
}

const IDENTITY = ed25519.Point.ZERO.toHex();
const MARGIN = DEFAULT_LIMITS.maxMessageAgeMs;

/** `party`'s batch of k1, signed by its own identity key. */
const batch = (party: string, options: Parameters<typeof batchOf>[3] = {}) => batchOf(cast, setup, party, options);

/** Delivers batches, each of which must be processed. */
async function deliver(r: PoolRig, ...batches: Batch[]): Promise<void> {
  for (const b of batches) expect(await r.handle(b.envelope)).toMatchObject({ status: 'processed' });
}

function pooledOf(session: SignSession) {
  if (session.pooled === undefined) throw new Error('not a one-round session');
  return session.pooled;
}

/** `party`'s signature share for a one-round session, with the nonces behind its pooled commitment. */
async function pooledShare(session: SignSession, party: string, nonces: Batch['nonces'][number]): Promise<Envelope> {
  const commitments = session.signers.map((p) => pooledOf(session)[p]?.commitment).filter((c): c is NonceCommitment => c !== undefined);
  const message = parseBody(session.request, MessageType.signRequest).message;
  const packageHash = signingPackageHash({ session: session.request.session, attempt: session.attempt, keyId: 'k1', message, commitments });
  const secret = setup.secrets[party];
  if (secret === undefined) throw new Error(`no share for ${party}`);
  const share = frost.signShare(
    secret,
    publicFromWire(ed25519Suite, setup.key.publicPackage),
    nonces,
    sortCommitments(commitments).map((c) => commitmentFromWire(ed25519Suite, c)),
    new Uint8Array(Buffer.from(message, 'hex')),
  );
  return cast.envelope(party, MessageType.signShare, session.request.session, { attempt: session.attempt, packageHash, share: bytesToHex(share), audit: AUDIT });
}

describe('pool.batch intake (coordinator)', () => {
  it('stores the signed batch and adds it to the key’s cursor, with the sender’s audit anchor, in one write', async () => {
    const r = await newRig();
    r.takeCalls();
    const b = await batchOf(cast, setup, 'p1', { count: 5 });
    const anchored = await cast.envelope('p1', MessageType.poolBatch, b.batchId, { ...parseBody(b.envelope, MessageType.poolBatch), audit: { seq: 4, hash: 'ab'.repeat(32) } });
    expect(await r.handle(anchored)).toMatchObject({ status: 'processed', type: MessageType.poolBatch });
    // One batch read (both anchor items, seen, key, cursor, batch item), the transaction (batch, cursor, anchor), the replay mark.
    expect(r.takeCalls()).toEqual({ get: 0, getMany: 1, write: 2, items: 4 });
    expect(await r.tables.poolBatches.get(coordinatorKeys.poolBatch('k1', 'p1', b.batchId))).toMatchObject({ value: { party: 'p1', epoch: 0, batch: anchored } });
    expect(await r.cursor()).toEqual({ keyId: 'k1', epoch: 0, parties: { p1: { batches: [{ batchId: b.batchId, expires: NOW + 24 * HOUR, count: 5, next: 0 }] } } });
    expect((await r.coordinator.auditAnchor('p1'))?.seq).toBe(4);
    expect(r.take()).toEqual([]);
  });

  it('a batch answers its party’s pending refill; a second batch is added beside the first', async () => {
    const r = await newRig();
    expect(await r.handle(await signRequest(cast, setup, 'first'))).toMatchObject({ status: 'processed' });
    expect((await r.cursor())?.parties.p1?.refillRequestedAt).toBe(NOW);
    const [one, two] = [await batch('p1'), await batch('p1', { count: 2 })];
    await deliver(r, one, two);
    expect((await r.cursor())?.parties.p1).toEqual({ batches: [expect.objectContaining({ batchId: one.batchId, count: 4 }), expect.objectContaining({ batchId: two.batchId, count: 2 })] });
  });

  it('the same batch again (another delivery of it) adds nothing', async () => {
    const r = await newRig();
    const b = await batch('p2');
    await deliver(r, b);
    const before = await r.snapshot();
    // The very envelope: a replay. A copy with a new message id (a crash before the id was remembered): a no-op.
    expect(await r.handle(b.envelope)).toMatchObject({ status: 'refused', code: RefusalCode.replayed });
    const again = await cast.envelope('p2', MessageType.poolBatch, b.batchId, parseBody(b.envelope, MessageType.poolBatch));
    expect(await r.handle(again)).toMatchObject({ status: 'processed' });
    expect(await r.snapshot()).toEqual(before);
  });

  describe('refusals leave the table as it was', () => {
    const cases: [string, () => Promise<Envelope>, string, string[]][] = [
      ['a key the coordinator does not hold (unknown-key)', async () => (await batch('p1', { keyId: 'nokey' })).envelope, RefusalCode.unknownKey, []],
      ['a sender holding no share of the key (unexpected-sender)', async () => (await batchOf(cast, { ...setup, secrets: { ...setup.secrets, p4: setup.secrets.p1 ?? fail() } }, 'p4')).envelope, RefusalCode.unexpectedSender, []],
      ['another epoch (stale-epoch)', async () => (await batch('p1', { epoch: 1 })).envelope, RefusalCode.staleEpoch, []],
      ['an expired batch (stale)', async () => (await batch('p1', { expires: NOW })).envelope, RefusalCode.stale, []],
      ['an expiry beyond the pool lifetime, naming its sender', async () => (await batch('p1', { expires: NOW + 24 * HOUR + DEFAULT_LIMITS.maxClockSkewMs + 1 })).envelope, RefusalCode.malformed, ['p1']],
      [
        'a commitment under another party’s identifier (wrong-identifier), naming its sender',
        async () => (await batch('p2', { change: (cs) => cs.map((c, i) => (i === 1 ? { ...c, identifier: identifierOf('p1') } : c)) })).envelope,
        RefusalCode.wrongIdentifier,
        ['p2'],
      ],
      ['an invalid element (the identity), naming its sender', async () => (await batch('p3', { change: (cs) => cs.map((c, i) => (i === 2 ? { ...c, binding: IDENTITY } : c)) })).envelope, RefusalCode.invalidCommitment, ['p3']],
      [
        'a hiding commitment twice in one batch, naming its sender',
        async () => (await batch('p1', { change: (cs) => cs.map((c, i) => (i === 3 ? { ...c, hiding: cs[0]?.hiding ?? '' } : c)) })).envelope,
        RefusalCode.commitmentReused,
        ['p1'],
      ],
    ];
    it.each(cases)('%s', async (_name, make, code, blame) => {
      const r = await newRig();
      await deliver(r, await batch('p1', { count: 2 }));
      const before = await r.snapshot();
      const envelope = await make();
      expect(await r.handle(envelope)).toMatchObject({ status: 'refused', code });
      expect(await r.snapshot()).toEqual(before);
      const logged = r.logs.find((l) => l.message === 'message refused' && l.fields.type === MessageType.poolBatch);
      expect(logged?.fields.blame).toEqual(blame.length > 0 ? blame.join(', ') : undefined);
    });

    it('a batch signed by a delegated key: refused on receipt (bad-signature), and by the batch checks themselves, naming its sender', async () => {
      const r = await newRig();
      const b = await batch('p1');
      const delegated = await new Delegation(cast.signer('p1'), { holder: 'p1', role: 'party' }).keyAt(NOW);
      const { sig: _sig, ...unsigned } = b.envelope;
      const certified = { ...unsigned, cert: delegated.certificate };
      const envelope: Envelope = { ...certified, sig: bytesToHex(delegated.sign(envelopeSigningInput(certified))) };
      const before = await r.snapshot();
      expect(await r.handle(envelope)).toMatchObject({ status: 'refused', code: RefusalCode.badSignature });
      expect(await r.snapshot()).toEqual(before);
      const error = refusal(() =>
        acceptPoolBatch(envelope, parseBody(envelope, MessageType.poolBatch), { key: setup.key, suite: ed25519Suite }, { now: NOW, settings: DEFAULT_NONCE_POOL, limits: DEFAULT_LIMITS }),
      );
      expect(error).toMatchObject({ code: RefusalCode.badSignature, blame: ['p1'] });
    });

    it('a batch while pools are off (wrong-round)', async () => {
      const r = await newRig(false);
      expect(await r.handle((await batch('p1')).envelope)).toMatchObject({ status: 'refused', code: RefusalCode.wrongRound });
      expect(await r.snapshot()).toEqual([expect.objectContaining({ pk: 'key#k1' })]);
    });

    it('a batch from a party already holding maxUnused unclaimed commitments (pool-full)', async () => {
      const r = await newRig({ maxUnused: 6 });
      await deliver(r, await batch('p1', { count: 6 }));
      const before = await r.snapshot();
      expect(await r.handle((await batch('p1', { count: 1 })).envelope)).toMatchObject({ status: 'refused', code: RefusalCode.poolFull });
      expect(await r.snapshot()).toEqual(before);
    });
  });

  it('a party.refused in no stored session (a refused refill) is refused as wrong-session and changes nothing', async () => {
    const r = await newRig();
    await deliver(r, await batch('p1'));
    const before = await r.snapshot();
    const refused = await cast.envelope('p2', MessageType.partyRefused, 'cd'.repeat(16), { inResponseTo: MessageType.poolRefill, code: RefusalCode.poolFull, reason: 'full', audit: AUDIT });
    expect(await r.handle(refused)).toMatchObject({ status: 'refused', code: RefusalCode.wrongSession });
    expect(await r.snapshot()).toEqual(before);
  });
});

describe('sign intake with pools (coordinator)', () => {
  it('empty pools: a two-round session, and every party asked for a batch (fresh batch ids) in the same write', async () => {
    const r = await newRig();
    const request = await signRequest(cast, setup, 'r1');
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    const session = await r.session(request.session);
    expect(session).toMatchObject({ phase: 'commit', attempt: 1, signers: [] });
    expect(session.pooled).toBeUndefined();
    expect(await r.cursor()).toEqual({ keyId: 'k1', epoch: 0, parties: { p1: { batches: [], refillRequestedAt: NOW }, p2: { batches: [], refillRequestedAt: NOW }, p3: { batches: [], refillRequestedAt: NOW } } });
    const sent = r.take();
    expect(sent.filter((e) => e.type === MessageType.signCommit).map((e) => e.to)).toEqual(['p1', 'p2', 'p3']);
    const refills = sent.filter((e) => e.type === MessageType.poolRefill);
    expect(refills.map((e) => e.to).sort()).toEqual(['p1', 'p2', 'p3']);
    for (const e of refills) expect(e.body).toEqual({ keyId: 'k1', epoch: 0, count: DEFAULT_NONCE_POOL.batchSize });
    expect(new Set(refills.map((e) => e.session)).size).toBe(3);
    for (const e of refills) expect(e.session).toMatch(/^[0-9a-f]{32}$/);
  });

  it('pools off: two rounds, no cursor, no refill', async () => {
    const r = await newRig(false);
    const request = await signRequest(cast, setup, 'r1');
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    expect((await r.session(request.session)).phase).toBe('commit');
    expect(await r.cursor()).toBeUndefined();
    expect(r.take().map((e) => e.type)).toEqual([MessageType.signCommit, MessageType.signCommit, MessageType.signCommit]);
  });

  it('batches from t parties: a one-round session; sign.pooled to exactly the t signers with their signed batches; claimed in the cursor alone; refills only where low', async () => {
    const r = await newRig({ lowWater: 3 });
    const [b1, b3] = [await batch('p1', { count: 5 }), await batch('p3', { count: 4 })];
    await deliver(r, b1, b3);
    const request = await signRequest(cast, setup, 'r1');
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    const session = await r.session(request.session);
    expect(session).toMatchObject({ phase: 'sign', attempt: 1, signers: ['p1', 'p3'], commitments: {} });
    expect(session.pooled).toEqual({ p1: { batchId: b1.batchId, index: 0, commitment: b1.commitments[0] }, p3: { batchId: b3.batchId, index: 0, commitment: b3.commitments[0] } });
    const sent = r.take();
    const pooled = sent.filter((e) => e.type === MessageType.signPooled);
    expect(pooled.map((e) => e.to)).toEqual(['p1', 'p3']);
    for (const e of pooled) {
      expect(e.session).toBe(request.session);
      expect(e.body).toEqual({ request, attempt: 1, commitments: [{ batch: b1.envelope, index: 0 }, { batch: b3.envelope, index: 0 }] });
    }
    expect(sent.filter((e) => e.type === MessageType.signCommit)).toEqual([]);
    // p1 has 4 left (> lowWater 3), p3 has 3 and p2 none: those two are asked.
    expect(sent.filter((e) => e.type === MessageType.poolRefill).map((e) => e.to).sort()).toEqual(['p2', 'p3']);
    // The cursor's write is the claim: no record per pooled commitment.
    expect(await r.commitmentClaimCount()).toBe(0);
    const cursor = await r.cursor();
    expect(cursor?.parties.p1?.batches[0]?.next).toBe(1);
    expect(cursor?.parties.p3).toMatchObject({ batches: [{ next: 1 }], refillRequestedAt: NOW });
  });

  it('one-round intake costs 2 batch reads and 2 single-item puts (cursor, session; no replay mark once processed): no transaction, no single reads', async () => {
    const r = await newRig({ lowWater: 2 });
    await deliver(r, await batch('p1'), await batch('p2'), await batch('p3'));
    r.takeCalls();
    expect(await r.handle(await signRequest(cast, setup, 'cost'))).toMatchObject({ status: 'processed' });
    // (seen, session, key, cursor) + (2 batch items); the cursor (the claim), the session.
    expect(r.takeCalls()).toEqual({ get: 0, getMany: 2, write: 2, items: 2 });
    expect(r.take().map((e) => e.type)).toEqual([MessageType.signPooled, MessageType.signPooled]);
  });

  it('the very sign.request delivered again sends its round again only until a party answered: replays cannot make the coordinator send it over and over', async () => {
    const r = await newRig({ lowWater: 0 });
    const [b1, b3] = [await batch('p1', { count: 5 }), await batch('p3', { count: 5 })];
    await deliver(r, b1, b3);
    const request = await signRequest(cast, setup, 'replayed-request');
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    const first = r.take().filter((e) => e.type === MessageType.signPooled);
    expect(first).toHaveLength(2);
    // Nobody answered yet: a redelivery (the first may have crashed before sending) sends the round again.
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    expect(r.take().filter((e) => e.type === MessageType.signPooled).map((e) => e.to).sort()).toEqual(['p1', 'p3']);
    // p1 answers: from then on a repeat of the request changes nothing and sends nothing.
    const session = await r.session(request.session);
    const nonces = b1.nonces[pooledOf(session).p1?.index ?? -1];
    if (nonces === undefined) throw new Error('no nonces for p1');
    expect(await r.handle(await pooledShare(session, 'p1', nonces))).toMatchObject({ status: 'processed' });
    r.take();
    const stored = await r.session(request.session);
    for (let i = 0; i < 3; i++) expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    expect(r.take()).toEqual([]);
    expect(await r.session(request.session)).toEqual(stored);
  });

  it('a one-round session signs with the signers’ shares alone (the pooled commitments make the package)', async () => {
    const r = await newRig();
    const [b1, b2] = [await batch('p1'), await batch('p2')];
    await deliver(r, b1, b2);
    const request = await signRequest(cast, setup, 'r1');
    await r.handle(request);
    const session = await r.session(request.session);
    for (const [party, b] of [['p1', b1], ['p2', b2]] as const) {
      const nonces = b.nonces[0];
      if (nonces === undefined) throw new Error('no nonces');
      expect(await r.handle(await pooledShare(session, party, nonces))).toMatchObject({ status: 'processed' });
    }
    const done = await r.session(request.session);
    expect(done.phase).toBe('done');
    const message = Buffer.from(parseBody(request, MessageType.signRequest).message, 'hex');
    expect(ed25519.verify(Buffer.from(done.signature ?? '', 'hex'), message, Buffer.from(setup.key.publicKey, 'hex'))).toBe(true);
    expect(r.take().filter((e) => e.type === MessageType.signResult)).toEqual([expect.objectContaining({ body: expect.objectContaining({ ok: true, signers: ['p1', 'p2'] }) })]);
  });

  it('concurrent requests claim different commitments: the cursor’s version condition hands each entry out once', async () => {
    const r = await newRig();
    const bs = [await batch('p1', { count: 3 }), await batch('p2', { count: 3 }), await batch('p3', { count: 3 })];
    await deliver(r, ...bs);
    const requests = await Promise.all(['a', 'b', 'c', 'd'].map((id) => signRequest(cast, setup, id)));
    const outcomes = await Promise.all(requests.map((q) => r.handle(q)));
    expect(outcomes.map((o) => o.status)).toEqual(['processed', 'processed', 'processed', 'processed']);
    const sessions = await Promise.all(requests.map((q) => r.session(q.session)));
    const claimed = sessions.flatMap((s) => Object.values(pooledOf(s)).map((e) => e.commitment.hiding));
    expect(claimed).toHaveLength(8);
    expect(new Set(claimed).size).toBe(8);
    // Also by (party, batch, index), as the cursor counts them, and the packages sent say the same.
    const entries = sessions.flatMap((s) => Object.entries(pooledOf(s)).map(([party, e]) => `${party}/${e.batchId}/${e.index}`));
    expect(new Set(entries).size).toBe(8);
    const sentOwn = r.take(MessageType.signPooled).map((e) => {
      const own = parseBody(e, MessageType.signPooled).commitments.find((c) => c.batch.from === e.to);
      return `${e.to}/${own?.batch.session}/${own?.index}`;
    });
    expect(sentOwn.sort()).toEqual([...entries].sort());
    // 9 entries, 8 claimed: one left in the cursor (used-up batches are dropped from it).
    const left = Object.values((await r.cursor())?.parties ?? {}).flatMap((p) => p.batches.map((b) => b.count - b.next));
    expect(left.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('the same request delivered twice at once: one session, packages for it alone; a different request under the same id is a conflict and changes nothing', async () => {
    const r = await newRig();
    await deliver(r, await batch('p1'), await batch('p2'));
    const request = await signRequest(cast, setup, 'dup');
    const again = await cast.envelope('cli', MessageType.signRequest, request.session, parseBody(request, MessageType.signRequest));
    await Promise.all([r.handle(request), r.handle(again)]);
    const session = await r.session(request.session);
    expect(Object.keys(pooledOf(session))).toEqual(['p1', 'p2']);
    // Every sign.pooled sent carries the stored session's entries (a delivery that lost the
    // session race wasted the entries it claimed, and said so, but sent nothing with them).
    const stored = Object.entries(pooledOf(session)).map(([party, e]) => `${party}/${e.batchId}/${e.index}`);
    for (const e of r.take(MessageType.signPooled)) {
      const own = parseBody(e, MessageType.signPooled).commitments.find((c) => c.batch.from === e.to);
      expect(stored).toContain(`${e.to}/${own?.batch.session}/${own?.index}`);
    }
    const wasted = r.logs.filter((l) => l.level === 'error' && /wasted/.test(l.message));
    expect(wasted.length).toBeLessThanOrEqual(1);
    const before = await r.snapshot();
    const other = await signRequest(cast, setup, 'dup', 'ffff');
    expect(await r.handle(other)).toMatchObject({ status: 'refused', code: RefusalCode.conflict });
    expect(await r.snapshot()).toEqual(before);
  });

  it('a duplicate that stores the session between this delivery’s cursor claim and its session put: the claimed entries are wasted (logged), never sent, never offered again', async () => {
    const r = await newRig({ lowWater: 0 });
    const [b1, b2] = [await batch('p1', { count: 3 }), await batch('p2', { count: 3 })];
    await deliver(r, b1, b2);
    const request = await signRequest(cast, setup, 'raced');
    const duplicate = await cast.envelope('cli', MessageType.signRequest, request.session, parseBody(request, MessageType.signRequest));
    let raced = false;
    r.beforeWrite = async (operations) => {
      if (raced || !operations.some((o) => o.op === 'put' && o.item.pk === coordinatorKeys.session(request.session).pk)) return;
      raced = true;
      // The duplicate runs whole here: it claims the next entries and stores the session first.
      expect(await r.handle(duplicate)).toMatchObject({ status: 'processed' });
    };
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    r.beforeWrite = undefined;
    expect(raced).toBe(true);
    const session = await r.session(request.session);
    expect(session.request.id).toBe(duplicate.id);
    const stored = Object.entries(pooledOf(session)).map(([party, e]) => `${party}/${e.batchId}/${e.index}`);
    expect(stored).toEqual([`p1/${b1.batchId}/1`, `p2/${b2.batchId}/1`]);
    // The first delivery claimed index 0 of each, then lost: logged, and never sent.
    const wasted = r.logs.filter((l) => l.level === 'error' && /wasted/.test(l.message));
    expect(wasted.map((l) => l.fields.entries)).toEqual([[{ party: 'p1', batch: b1.batchId, index: 0 }, { party: 'p2', batch: b2.batchId, index: 0 }]]);
    const sent = r.take(MessageType.signPooled).map((e) => {
      const own = parseBody(e, MessageType.signPooled).commitments.find((c) => c.batch.from === e.to);
      return `${e.to}/${own?.batch.session}/${own?.index}`;
    });
    expect(sent).toEqual(stored);
    // Nor offered to the next request: it gets index 2.
    const next = await signRequest(cast, setup, 'after-race');
    expect(await r.handle(next)).toMatchObject({ status: 'processed' });
    expect(Object.values(pooledOf(await r.session(next.session))).map((e) => e.index)).toEqual([2, 2]);
  });

  it('a party whose batch copies another party\'s published hiding elements cannot make a request fail: both are claimed, each in its own party’s pool', async () => {
    const r = await newRig();
    const honest = await batch('p2');
    // p1 signs, as itself, a batch whose hiding elements are p2's (it saw them in a one-round package).
    const copier = await batch('p1', { change: (mine) => mine.map((c, i) => ({ ...c, hiding: honest.commitments[i]?.hiding ?? c.hiding })) });
    await deliver(r, copier, honest);
    const request = await signRequest(cast, setup, 'copied-hiding');
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    const session = await r.session(request.session);
    expect(Object.keys(pooledOf(session)).sort()).toEqual(['p1', 'p2']);
    expect(pooledOf(session).p1?.commitment.hiding).toBe(pooledOf(session).p2?.commitment.hiding);
  });

  it('a key too large for one package signs in two rounds', () => {
    const limits = { maxEnvelopeBytes: 240 * 1024 };
    expect(poolsFit({ threshold: 2 }, DEFAULT_NONCE_POOL, limits)).toBe(true);
    expect(poolsFit({ threshold: 8 }, DEFAULT_NONCE_POOL, limits)).toBe(true);
    expect(poolsFit({ threshold: 12 }, DEFAULT_NONCE_POOL, limits)).toBe(false);
    // No transaction holds a claim per signer any more: only the package bounds the threshold.
    expect(poolsFit({ threshold: 99 }, { batchSize: 1 }, { maxEnvelopeBytes: 100 * 1024 * 1024 })).toBe(true);
  });

  it('an entry expiring within the message margin is never claimed', async () => {
    const r = await newRig();
    const soon = await batch('p1', { expires: NOW + MARGIN + 5_000 });
    await deliver(r, soon, await batch('p2'));
    r.now = NOW + 10_000;
    const request = await signRequest(cast, setup, 'late');
    await r.handle(request);
    const session = await r.session(request.session);
    expect(session.phase).toBe('commit');
    expect(session.pooled).toBeUndefined();
    // With a third party's batch the signers are p2 and p3, never p1's expiring entry.
    await deliver(r, await batch('p3'));
    const second = await signRequest(cast, setup, 'late-2');
    await r.handle(second);
    expect(Object.keys(pooledOf(await r.session(second.session)))).toEqual(['p2', 'p3']);
  });

  it('after the key’s epoch moved, the old cursor and batches are not used; refills name the new epoch; old-epoch batches are refused', async () => {
    const r = await newRig();
    const old = [await batch('p1'), await batch('p2')];
    await deliver(r, ...old);
    const stored = await r.tables.keys.get(coordinatorKeys.key('k1'));
    if (stored === undefined) throw new Error('no key');
    await r.tables.keys.replace(coordinatorKeys.key('k1'), { ...stored.value, epoch: 1 }, stored.version);
    const request = await signRequest(cast, setup, 'moved');
    await r.handle(request);
    const session = await r.session(request.session);
    expect(session).toMatchObject({ phase: 'commit', epoch: 1 });
    expect(session.pooled).toBeUndefined();
    expect(await r.cursor()).toMatchObject({ epoch: 1, parties: { p1: { batches: [] }, p2: { batches: [] }, p3: { batches: [] } } });
    const refills = r.take(MessageType.poolRefill);
    expect(refills.map((e) => e.body)).toEqual([1, 2, 3].map(() => ({ keyId: 'k1', epoch: 1, count: DEFAULT_NONCE_POOL.batchSize })));
    const before = await r.snapshot();
    expect(await r.handle((await batch('p3', { epoch: 0 })).envelope)).toMatchObject({ status: 'refused', code: RefusalCode.staleEpoch });
    expect(await r.snapshot()).toEqual(before);
    await deliver(r, await batch('p3', { epoch: 1 }));
    expect((await r.cursor())?.parties.p3?.batches).toHaveLength(1);
  });

  describe('a batch id is accepted once for as long as it could be used: a used-up batch sent again is never offered again', () => {
    // Expiring off a second boundary, and delivered 999 ms past one: a batch item whose TTL
    // were only rounded from the delivery time would count as absent 1 ms before the batch expires.
    const EXPIRES = NOW + 2 * HOUR + 1;
    const AT = NOW + 999;

    /** `from`'s message signed at `at` (its own clock). */
    const signedAt = <T extends MessageType>(at: number, from: string, type: T, session: string, body: Parameters<typeof cast.envelope<T>>[3]) =>
      createEnvelope(cast.signer(from), at, { type, session, from, to: COORDINATOR, body });
    const requestAt = (at: number, requestId: string) =>
      signedAt(at, 'cli', MessageType.signRequest, deriveSessionId('cli', requestId), { requestId, keyId: 'k1', message: bytesToHex(new TextEncoder().encode(requestId)) });

    /** p1's and p2's 2-entry batches, both handed out whole to two one-round requests (the used-up refs pruned from the cursor). */
    async function usedUp(): Promise<{ r: PoolRig; b1: Batch; entries: string[] }> {
      const r = await newRig({ lowWater: 0 });
      r.now = AT;
      const b1 = await batch('p1', { count: 2, expires: EXPIRES });
      await deliver(r, b1, await batch('p2', { count: 2, expires: EXPIRES }));
      for (const id of ['u1', 'u2']) expect(await r.handle(await requestAt(AT, id))).toMatchObject({ status: 'processed' });
      const entries = offered(r, 'p1');
      expect(entries).toEqual([`${b1.batchId}/0`, `${b1.batchId}/1`]);
      expect((await r.cursor())?.parties.p1?.batches ?? []).toEqual([]);
      return { r, b1, entries };
    }

    /** The p1 entries (batch/index) the sign.pooled packages sent since the last call carry. */
    function offered(r: PoolRig, party: string): string[] {
      return r.take(MessageType.signPooled).flatMap((e) => parseBody(e, MessageType.signPooled).commitments.filter((c) => c.batch.from === party && e.to === party).map((c) => `${c.batch.session}/${c.index}`));
    }

    /** The same batch again at `at`: the very envelope (a replay), a re-signed copy, and one with fresh commitments under the old id. */
    async function again(b: Batch, at: number): Promise<Envelope[]> {
      const body = parseBody(b.envelope, MessageType.poolBatch);
      const fresh = await batch('p1', { count: 2, expires: EXPIRES, batchId: b.batchId });
      return [b.envelope, await signedAt(at, 'p1', MessageType.poolBatch, b.batchId, body), await signedAt(at, 'p1', MessageType.poolBatch, b.batchId, parseBody(fresh.envelope, MessageType.poolBatch))];
    }

    it('at once: ignored, nothing stored changes, and the next one-round request gets only a fresh batch’s entries', async () => {
      const { r, b1 } = await usedUp();
      const before = await r.snapshot();
      const [same, copy, reused] = await again(b1, AT);
      expect(await r.handle(same ?? fail())).toMatchObject({ status: 'refused', code: RefusalCode.replayed });
      for (const e of [copy, reused]) expect(await r.handle(e ?? fail())).toMatchObject({ status: 'processed' });
      expect(await r.snapshot()).toEqual(before);
      const [f1, f2] = [await batch('p1', { count: 2, expires: EXPIRES }), await batch('p2', { count: 2, expires: EXPIRES })];
      await deliver(r, f1, f2);
      expect(await r.handle(await requestAt(AT, 'u3'))).toMatchObject({ status: 'processed' });
      expect(offered(r, 'p1')).toEqual([`${f1.batchId}/0`]);
    });

    it('up to its expiry (the last millisecond included): ignored, nothing stored changes', async () => {
      const { r, b1 } = await usedUp();
      for (const at of [NOW + HOUR, EXPIRES - 1]) {
        r.now = at;
        const before = await r.snapshot();
        const [, copy, reused] = await again(b1, at);
        for (const e of [copy, reused]) expect(await r.handle(e ?? fail())).toMatchObject({ status: 'processed' });
        expect(await r.snapshot()).toEqual(before);
        expect(await r.handle(await requestAt(at, `late-${at}`))).toMatchObject({ status: 'processed' });
        expect(offered(r, 'p1')).toEqual([]);
      }
    });

    it('after its expiry: refused as stale, nothing stored changes', async () => {
      const { r, b1 } = await usedUp();
      for (const at of [EXPIRES, EXPIRES + DEFAULT_LIMITS.maxClockSkewMs + 1000, EXPIRES + 2 * HOUR]) {
        r.now = at;
        const before = await r.snapshot();
        const [, copy, reused] = await again(b1, at);
        for (const e of [copy, reused]) expect(await r.handle(e ?? fail())).toMatchObject({ status: 'refused', code: RefusalCode.stale });
        expect(await r.snapshot()).toEqual(before);
      }
    });
  });

  it('a batch whose stored item is gone is dropped from the cursor (logged naming the party), never sent', async () => {
    const r = await newRig();
    const [b1, b2] = [await batch('p1'), await batch('p2')];
    await deliver(r, b1, b2);
    await r.store.write([{ op: 'delete', key: coordinatorKeys.poolBatch('k1', 'p1', b1.batchId), condition: { kind: 'exists' } }], Math.floor(NOW / 1000));
    const request = await signRequest(cast, setup, 'gone');
    expect(await r.handle(request)).toMatchObject({ status: 'processed' });
    expect((await r.session(request.session)).phase).toBe('commit');
    expect(r.logs).toContainEqual(expect.objectContaining({ level: 'error', fields: expect.objectContaining({ party: 'p1', batch: b1.batchId, index: 0 }) }));
    // Dropped, so p1 has nothing left and is asked for a batch.
    expect((await r.cursor())?.parties.p1).toEqual({ batches: [], refillRequestedAt: NOW });
    expect(r.take(MessageType.signPooled)).toEqual([]);
  });

  it('a refill is not asked again within refillRetrySeconds, and is after', async () => {
    const r = await newRig();
    await r.handle(await signRequest(cast, setup, 'r1'));
    expect(r.take(MessageType.poolRefill)).toHaveLength(3);
    r.now = NOW + 59_000;
    await r.handle(await signRequest(cast, setup, 'r2'));
    expect(r.take(MessageType.poolRefill)).toEqual([]);
    r.now = NOW + 60_000;
    await r.handle(await signRequest(cast, setup, 'r3'));
    expect(r.take(MessageType.poolRefill).map((e) => e.to).sort()).toEqual(['p1', 'p2', 'p3']);
    expect((await r.cursor())?.parties.p1?.refillRequestedAt).toBe(NOW + 60_000);
  });
});

describe('one-round sessions falling back to two rounds (coordinator)', () => {
  async function oneRound(r: PoolRig): Promise<{ request: Envelope; b1: Batch; b2: Batch }> {
    const [b1, b2] = [await batch('p1'), await batch('p2')];
    await deliver(r, b1, b2);
    const request = await signRequest(cast, setup, 'fallback');
    await r.handle(request);
    expect((await r.session(request.session)).pooled).toBeDefined();
    r.take();
    return { request, b1, b2 };
  }

  it('a signer refusing only its pooled entry: attempt 2 in two rounds, sign.commit to every party (it would sign in two rounds)', async () => {
    const r = await newRig();
    const { request } = await oneRound(r);
    const refused = await cast.envelope('p1', MessageType.partyRefused, request.session, { inResponseTo: MessageType.signPooled, attempt: 1, code: RefusalCode.missingCommitment, reason: 'no unused pool nonce', audit: AUDIT });
    expect(await r.handle(refused)).toMatchObject({ status: 'processed' });
    const session = await r.session(request.session);
    expect(session).toMatchObject({ phase: 'commit', attempt: 2, signers: [], commitments: {}, shares: {}, refused: {} });
    expect(session.pooled).toBeUndefined();
    expect(r.take().map((e) => [e.type, e.to, (e.body as { attempt: number }).attempt])).toEqual([
      [MessageType.signCommit, 'p1', 2],
      [MessageType.signCommit, 'p2', 2],
      [MessageType.signCommit, 'p3', 2],
    ]);
    // Its other entries are as suspect: p1 leaves the pools until it publishes a new batch; p2 keeps its own.
    const cursor = await r.cursor();
    expect(cursor?.parties.p1?.batches).toEqual([]);
    expect(cursor?.parties.p2?.batches.length).toBeGreaterThan(0);
  });

  it('a signer refusing the request itself: attempt 2 in two rounds without it', async () => {
    const r = await newRig();
    const { request } = await oneRound(r);
    const refused = await cast.envelope('p1', MessageType.partyRefused, request.session, { inResponseTo: MessageType.signPooled, attempt: 1, code: RefusalCode.policy, reason: 'initiator not allowed', audit: AUDIT });
    expect(await r.handle(refused)).toMatchObject({ status: 'processed' });
    const session = await r.session(request.session);
    expect(session).toMatchObject({ phase: 'commit', attempt: 2, signers: [], commitments: {}, shares: {} });
    expect(session.pooled).toBeUndefined();
    expect(r.take().map((e) => [e.type, e.to, (e.body as { attempt: number }).attempt])).toEqual([
      [MessageType.signCommit, 'p2', 2],
      [MessageType.signCommit, 'p3', 2],
    ]);
  });

  it('a sign.commitment while the attempt is one-round changes nothing', async () => {
    const r = await newRig();
    const { request } = await oneRound(r);
    const secret = setup.secrets.p3;
    if (secret === undefined) throw new Error('no share');
    const { commitments } = frost.commit(secret);
    const before = await r.snapshot();
    const stray = await cast.envelope('p3', MessageType.signCommitment, request.session, { attempt: 1, commitment: commitmentToWire(commitments), audit: AUDIT });
    expect(await r.handle(stray)).toMatchObject({ status: 'processed' });
    expect(await r.snapshot()).toEqual(before);
    expect(r.take()).toEqual([]);
  });

  it('the sweeper moves a one-round attempt still waiting after fallbackAfterMs to two rounds (nobody excluded), not before', async () => {
    const r = await newRig();
    const { request, b1 } = await oneRound(r);
    // p1 answered; p2 is silent.
    const nonces = b1.nonces[0];
    if (nonces === undefined) throw new Error('no nonces');
    expect(await r.handle(await pooledShare(await r.session(request.session), 'p1', nonces))).toMatchObject({ status: 'processed' });
    r.now = NOW + DEFAULT_NONCE_POOL.fallbackAfterMs - 1;
    expect(await r.coordinator.expireStalled(15 * 60_000)).toEqual([]);
    expect((await r.session(request.session)).attempt).toBe(1);
    expect(r.take()).toEqual([]);
    r.now = NOW + DEFAULT_NONCE_POOL.fallbackAfterMs;
    expect(await r.coordinator.expireStalled(15 * 60_000)).toEqual([]);
    const session = await r.session(request.session);
    expect(session).toMatchObject({ phase: 'commit', attempt: 2, excluded: [], refused: {}, signers: [], shares: {} });
    expect(session.pooled).toBeUndefined();
    expect(r.take().map((e) => [e.type, e.to])).toEqual([
      [MessageType.signCommit, 'p1'],
      [MessageType.signCommit, 'p2'],
      [MessageType.signCommit, 'p3'],
    ]);
    // The silent signer left the pools (no batches, no refill asked for refillRetrySeconds); p1 answered and keeps its own.
    const cursor = await r.cursor();
    expect(cursor?.parties.p2).toEqual({ batches: [], refillRequestedAt: NOW + DEFAULT_NONCE_POOL.fallbackAfterMs });
    expect(cursor?.parties.p1?.batches.length).toBeGreaterThan(0);
    // The next sweep leaves the two-round attempt alone.
    r.now = NOW + DEFAULT_NONCE_POOL.fallbackAfterMs + 1;
    expect(await r.coordinator.expireStalled(15 * 60_000)).toEqual([]);
    expect((await r.session(request.session)).attempt).toBe(2);
    expect(r.take()).toEqual([]);
    // Still unanswered a fallback interval later (its sign.commit may have been lost with a failed send): sent again, not moved.
    r.now = NOW + 2 * DEFAULT_NONCE_POOL.fallbackAfterMs;
    expect(await r.coordinator.expireStalled(15 * 60_000)).toEqual([]);
    expect((await r.session(request.session)).attempt).toBe(2);
    expect(r.take().map((e) => [e.type, e.to])).toEqual([
      [MessageType.signCommit, 'p1'],
      [MessageType.signCommit, 'p2'],
      [MessageType.signCommit, 'p3'],
    ]);
  });

  it('a one-round session past stalledAfterMs still fails for a timeout', async () => {
    const r = await newRig();
    const { request } = await oneRound(r);
    r.now = NOW + 60_000;
    const expired = await r.coordinator.expireStalled(60_000);
    expect(expired.map((e) => e.stalledIn)).toEqual(['sign']);
    expect(await r.session(request.session)).toMatchObject({ phase: 'failed', error: { code: 'timeout' } });
  });
});

describe('a sign.share delivered again: no replay mark at the coordinator, and nothing changes', () => {
  /** A one-round session of p1 and p2, with each one's share (not yet delivered). */
  async function twoShares(r: PoolRig): Promise<{ request: Envelope; shares: Record<'p1' | 'p2', Envelope> }> {
    const [b1, b2] = [await batch('p1'), await batch('p2')];
    await deliver(r, b1, b2);
    const request = await signRequest(cast, setup, 'shares');
    await r.handle(request);
    const session = await r.session(request.session);
    expect(session.signers).toEqual(['p1', 'p2']);
    const share = (party: string, b: Batch) => pooledShare(session, party, b.nonces[0] ?? fail());
    r.take();
    return { request, shares: { p1: await share('p1', b1), p2: await share('p2', b2) } };
  }

  /** The stored session item as bytes: data, version and expiry. */
  async function storedSession(r: PoolRig, session: string): Promise<string> {
    return JSON.stringify(await r.store.get(coordinatorKeys.session(session)));
  }

  it('the share just recorded, again: processed, no replay mark, the session byte-identical, nothing sent', async () => {
    const r = await newRig();
    const { request, shares } = await twoShares(r);
    r.takeCalls();
    expect(await r.handle(shares.p1)).toMatchObject({ status: 'processed' });
    // (anchor, session), the key; the session put. No replay mark read or written.
    expect(r.takeCalls()).toEqual({ get: 1, getMany: 1, write: 1, items: 1 });
    expect(await r.store.get(seenKey(shares.p1.id))).toBeUndefined();
    expect(r.take()).toEqual([]);
    const before = await storedSession(r, request.session);
    const snapshot = await r.snapshot();
    expect(await r.handle(shares.p1)).toMatchObject({ status: 'processed' });
    expect(await storedSession(r, request.session)).toBe(before);
    expect(await r.snapshot()).toEqual(snapshot);
    // Recording it sent nothing (the attempt still waits for p2), so its duplicate sends nothing either.
    expect(r.take()).toEqual([]);
  });

  it('the first share again after the session finished: the session byte-identical, at most the same result again', async () => {
    const r = await newRig();
    const { request, shares } = await twoShares(r);
    for (const e of [shares.p1, shares.p2]) expect(await r.handle(e)).toMatchObject({ status: 'processed' });
    const done = await r.session(request.session);
    expect(done.phase).toBe('done');
    const results = r.take(MessageType.signResult);
    expect(results).toHaveLength(1);
    const before = await storedSession(r, request.session);
    const snapshot = await r.snapshot();
    for (const e of [shares.p1, shares.p2, shares.p1]) {
      expect(await r.handle(e)).toMatchObject({ status: 'processed' });
      expect(await storedSession(r, request.session)).toBe(before);
      for (const sent of r.take()) {
        expect(sent.type).toBe(MessageType.signResult);
        expect(sent.body).toEqual(results[0]?.body);
      }
    }
    expect(await r.snapshot()).toEqual(snapshot);
  });

  it('the first share again after the session moved to another attempt (a co-signer refused its entry): the session byte-identical, nothing sent', async () => {
    const r = await newRig();
    const { request, shares } = await twoShares(r);
    expect(await r.handle(shares.p1)).toMatchObject({ status: 'processed' });
    const refused = await cast.envelope('p2', MessageType.partyRefused, request.session, { inResponseTo: MessageType.signPooled, attempt: 1, code: RefusalCode.missingCommitment, reason: 'no unused pool nonce', audit: AUDIT });
    expect(await r.handle(refused)).toMatchObject({ status: 'processed' });
    expect(await r.session(request.session)).toMatchObject({ phase: 'commit', attempt: 2, shares: {} });
    r.take();
    const before = await r.snapshot();
    for (const e of [shares.p1, shares.p2]) expect(await r.handle(e)).toMatchObject({ status: 'processed' });
    expect(await r.snapshot()).toEqual(before);
    expect(r.take()).toEqual([]);
  });

  it('an invalid share again after it excluded its sender: not excluded twice, no further attempt, the session byte-identical', async () => {
    const r = await newRig();
    const { request, shares } = await twoShares(r);
    const body = parseBody(shares.p1, MessageType.signShare);
    const bad = await cast.envelope('p1', MessageType.signShare, request.session, { ...body, packageHash: 'ab'.repeat(32) });
    expect(await r.handle(bad)).toMatchObject({ status: 'processed' });
    expect(await r.session(request.session)).toMatchObject({ phase: 'commit', attempt: 2, excluded: ['p1'] });
    r.take();
    const before = await r.snapshot();
    expect(await r.handle(bad)).toMatchObject({ status: 'processed' });
    expect(await r.snapshot()).toEqual(before);
    expect(r.take()).toEqual([]);
  });
});

function fail(): never {
  throw new Error('missing fixture');
}
