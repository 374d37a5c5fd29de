/** Nonce pools, party side: `pool.refill` → one signed `pool.batch` per batch id (sign/party-pool-refill.ts), through a real Party. */
import { afterEach, describe, expect, it } from 'vitest';
import { InfrastructureError, RefusalCode } from '../../../../lib/ports/errors.js';
import { DEFAULT_NONCE_POOL } from '../../../../lib/protocol/directory.js';
import { parseBody, verifyRelayed } from '../../../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType, type Envelope } from '../../../../lib/protocol/messages.js';
import { partyKeys, PoolBatchRecord, PoolNonceRecord } from '../../../../lib/protocol/party-state.js';
import { openDerived, openSecretAndKey, secretContext } from '../../../../lib/protocol/sealed-item.js';
import { makePoolBatch, unusedPoolNonces } from '../../../../lib/protocol/sign/party-pool-refill.js';
import { SecretScope } from '../../../../lib/protocol/secret-scope.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { hex } from '../../../support/coordinator-fixtures.js';
import { KEY_ID, PoolBench } from '../../../support/pool-bench.js';

const { frost, Point } = ed25519Suite;
let bench: PoolBench | undefined;
afterEach(() => {
  bench?.close();
  bench = undefined;
});

async function open(...args: Parameters<typeof PoolBench.open>): Promise<PoolBench> {
  bench = await PoolBench.open(...args);
  return bench;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what}`);
  return value;
}

/** Nonces (unused and spent) and batch records: the key's refill mark (one item, rewritten by every refill) left out. */
const poolItems = async (b: PoolBench, party: string) => (await b.member(party).store.query(partyKeys.poolPartition(KEY_ID))).filter((i) => i.sk !== 'refill');
/** A point a held delivery reaches (`arrived`) and waits at until `release()`. */
function gate() {
  let reached = () => {};
  let release = () => {};
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { arrived, released, reached: () => reached(), release: () => release() };
}
const refusedWith = (sent: readonly Envelope[]) => sent.filter((e) => e.type === MessageType.partyRefused).map((e) => parseBody(e, MessageType.partyRefused));

describe('pool.refill', () => {
  it('makes the batch in one invocation: nonces sealed under the share\'s data key (one Decrypt, no GenerateDataKey), the batch signed by the identity key', async () => {
    const b = await open();
    const { vault, storeCalls } = b.member('p1');
    Object.assign(vault.calls, { generateDataKey: 0, decryptDataKey: 0, signIdentity: 0 });
    Object.assign(storeCalls, { get: 0, getMany: 0, query: 0, write: 0, putMany: 0 });
    const { outcome, batch, batchId } = await b.refill('p1', { count: 5 });
    expect(outcome.status).toBe('processed');
    expect(vault.calls).toEqual({ generateDataKey: 0, decryptDataKey: 1, signIdentity: 1 });
    // One batch read (replay mark, share, batch record, audit head), the count of unused nonces, the nonces in one batch put, one transaction, the replay mark.
    expect(storeCalls).toEqual({ get: 0, getMany: 1, query: 1, write: 2, putMany: 1 });

    const signed = required(batch, 'batch');
    expect(signed.cert).toBeUndefined();
    expect(signed.session).toBe(batchId);
    // Verifiable as the coordinator and every signer will: identity-signed, no certificates accepted.
    const body = verifyRelayed(signed, { type: MessageType.poolBatch, session: batchId, directory: b.cast.directory, role: 'party' });
    expect(body).toMatchObject({ keyId: KEY_ID, epoch: 0, expires: b.now() + DEFAULT_NONCE_POOL.ttlSeconds * 1000 });
    expect(body.commitments).toHaveLength(5);
    for (const c of body.commitments) expect(c.identifier).toBe(frost.Identifier.derive('p1'));
    expect(new Set(body.commitments.map((c) => c.hiding)).size).toBe(5);

    // Stored: one nonce per entry, committed to as published and opening under the share's data key; and the batch as sent.
    const items = await poolItems(b, 'p1');
    expect(items.map((i) => i.sk).sort()).toEqual([`batch#${batchId}`, ...[0, 1, 2, 3, 4].map((i) => `nonce#${batchId}#${i}`)].sort());
    expect(PoolBatchRecord.parse(required(items.find((i) => i.sk.startsWith('batch#')), 'batch record').data).batch).toEqual(signed);
    const share = required(await b.member('p1').store.get(partyKeys.keyShare(KEY_ID)), 'share').data as { share: Parameters<typeof openSecretAndKey>[3] };
    const scope = new SecretScope();
    try {
      const { dataKey } = await openSecretAndKey(vault, secretContext('p1', KEY_ID, 'key-share'), partyKeys.keyShare(KEY_ID), share.share, scope);
      for (let i = 0; i < 5; i++) {
        const key = partyKeys.poolNonce(KEY_ID, batchId, i);
        const record = PoolNonceRecord.parse(required(items.find((item) => item.sk === key.sk), `nonce ${i}`).data);
        expect(record).toMatchObject({ keyId: KEY_ID, epoch: 0, batchId, index: i, expires: body.expires, commitment: body.commitments[i] });
        const nonces = openDerived(dataKey, 'nonce', key, record.nonces, scope);
        const element = (bytes: Uint8Array) => Buffer.from(Point.BASE.multiply(frost.utils.Fn.fromBytes(bytes)).toBytes()).toString('hex');
        expect(element(nonces.subarray(0, 32))).toBe(record.commitment.hiding);
        expect(element(nonces.subarray(32))).toBe(record.commitment.binding);
      }
    } finally {
      scope.wipe();
    }
  });

  it('makes at most batchSize nonces, whatever the count asked for', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 3 } } });
    const { batch } = await b.refill('p1', { count: 10 });
    expect(parseBody(required(batch, 'batch'), MessageType.poolBatch).commitments).toHaveLength(3);
  });

  it('a redelivered refill sends the stored batch again, unchanged, and stores nothing new', async () => {
    const b = await open();
    const first = await b.refill('p1');
    const stored = await b.snapshot('p1');
    const calls = { ...b.member('p1').vault.calls };
    // The same batch id again (SQS redelivery, or the coordinator asking again under that id).
    const again = await b.refill('p1', { count: 7 }, first.batchId);
    expect(again.outcome.status).toBe('processed');
    expect(again.batch).toEqual(first.batch);
    expect(await b.snapshot('p1')).toEqual(stored);
    expect(b.member('p1').vault.calls).toEqual(calls);
  });

  it('two concurrent deliveries of one refill store one batch and both send it', async () => {
    const b = await open();
    const batchId = 'ef'.repeat(16);
    const envelopes = await Promise.all([0, 1].map(() => b.signed('coordinator', MessageType.poolRefill, batchId, { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1')));
    const outcomes = await Promise.all(envelopes.map((e) => b.deliver('p1', e)));
    expect(outcomes.map((o) => o.status)).toEqual(['processed', 'processed']);
    const batches = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch);
    expect(batches).toHaveLength(2);
    expect(batches[1]).toEqual(batches[0]);
    // One batch record and one nonce per entry. Both deliveries put their nonces, so a stored
    // nonce may be the loser's, not committed to in the batch: it signs nothing (next tests).
    const items = await poolItems(b, 'p1');
    expect(items.map((i) => i.sk).sort()).toEqual([`batch#${batchId}`, ...[0, 1, 2, 3].map((i) => `nonce#${batchId}#${i}`)].sort());
  });

  /** p1 and p2 hold one batch each; a delivery of a p1 refill held before its nonce puts, a second one stored and sent meanwhile. */
  async function overwrittenBatch() {
    const b = await open();
    const other = required((await b.refill('p2')).batch, 'batch of p2');
    const batchId = 'cd'.repeat(16);
    const refill = () => b.signed(COORDINATOR, MessageType.poolRefill, batchId, { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1');
    const [first, second] = [await refill(), await refill()];
    const { gates } = b.member('p1');
    const atPuts = gate();
    gates.beforePutMany = async () => {
      gates.beforePutMany = undefined;
      atPuts.reached();
      await atPuts.released;
    };
    // The loser read "no batch yet", made and signed its own, and is held before its puts...
    const loser = b.deliver('p1', first);
    await atPuts.arrived;
    // ...while the winner stores and sends its batch.
    expect((await b.deliver('p1', second)).status).toBe('processed');
    const published = required(b.member('p1').sent.find((e) => e.type === MessageType.poolBatch), 'published batch');
    const publishedNonces = (await poolItems(b, 'p1')).filter((i) => i.sk.startsWith('nonce#'));
    /** Lets the loser put its nonces over the published ones; it loses the batch record and sends the published batch again. */
    const overwrite = async () => {
      atPuts.release();
      expect((await loser).status).toBe('processed');
      const batches = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch);
      expect(batches).toEqual([published, published]);
    };
    const entry = (batch: Envelope, index = 0) => ({ batch, index });
    const pooled = async (request: { request: Envelope; session: string }) =>
      b.signed(COORDINATOR, MessageType.signPooled, request.session, { request: request.request, attempt: 1, epoch: 0, commitments: [entry(published), entry(other)] }, 'p1');
    return { b, published, publishedNonces, overwrite, pooled };
  }

  it('a nonce overwritten by a losing delivery of the same refill after its batch was published signs nothing: refused (wrong commitment), state unchanged', async () => {
    const { b, published, publishedNonces, overwrite, pooled } = await overwrittenBatch();
    await overwrite();
    // Every nonce of the batch is now the loser's: a nonce with its own commitment, never published.
    const commitments = parseBody(published, MessageType.poolBatch).commitments;
    const nonces = (await poolItems(b, 'p1')).filter((i) => i.sk.startsWith('nonce#'));
    expect(nonces.map((i) => i.sk)).toEqual(publishedNonces.map((i) => i.sk));
    for (const item of nonces) {
      const record = PoolNonceRecord.parse(item.data);
      expect(commitments).not.toContainEqual(record.commitment);
      // At another version than the nonce it replaced (see the next test).
      expect(item.version).not.toBe(publishedNonces.find((i) => i.sk === item.sk)?.version);
    }

    const envelope = await pooled(await b.request());
    const before = await b.snapshot('p1');
    expect(await b.deliver('p1', envelope)).toMatchObject({ status: 'refused', code: RefusalCode.incorrectCommitment });
    expect(b.sharesOf('p1')).toEqual([]);
    expect(await b.snapshot('p1')).toEqual(before);
  });

  it('a spend that read the published nonce before the overwrite does not land, even after another package spent it: one nonce never signs two packages', async () => {
    const { b, overwrite, pooled } = await overwrittenBatch();
    const { gates } = b.member('p1');
    // Package B reads the published nonce, computes its share, and is held before its spend...
    const atSpend = gate();
    gates.beforeWrite = async (operations) => {
      if (!operations.some((o) => o.op === 'put' && o.item.data.state === 'spent')) return;
      gates.beforeWrite = undefined;
      atSpend.reached();
      await atSpend.released;
    };
    const second = b.deliver('p1', await pooled(await b.request({ message: hex('pay 99 to mallory') })));
    await atSpend.arrived;
    // ...while package A spends it and gets its share...
    expect((await b.deliver('p1', await pooled(await b.request()))).status).toBe('processed');
    expect(b.sharesOf('p1')).toHaveLength(1);
    // ...and the loser's unused nonce replaces the spent record. B's version condition must fail.
    await overwrite();
    atSpend.release();
    expect(await second).toMatchObject({ status: 'refused', code: RefusalCode.wrongRound });
    expect(b.sharesOf('p1')).toHaveLength(1);
  });

  it('a refill that wrote its nonces and failed before its transaction, redelivered with the pool at its cap counting them, succeeds: its own nonces are not counted', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 4, maxUnused: 8 } } });
    expect((await b.refill('p1')).outcome.status).toBe('processed');
    const envelope = await b.signed(COORDINATOR, MessageType.poolRefill, 'ce'.repeat(16), { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1');
    const { gates } = b.member('p1');
    gates.beforeWrite = (operations) => {
      if (!operations.some((o) => o.op === 'put' && o.item.sk.startsWith('batch#'))) return Promise.resolve();
      gates.beforeWrite = undefined;
      return Promise.reject(new InfrastructureError('dynamodb:TransactWriteItems', 'throttled'));
    };
    await b.deliver('p1', envelope).catch(() => undefined);
    expect(b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch)).toHaveLength(1);
    // 8 unused nonces stored, 4 of them this refill's.
    expect(unusedPoolNonces(await poolItems(b, 'p1'), 0, b.now())).toBe(8);

    const before = b.member('p1').sent.length;
    expect((await b.deliver('p1', envelope)).status).toBe('processed');
    const batch = required(b.member('p1').sent.slice(before).find((e) => e.type === MessageType.poolBatch), 'batch');
    // Its nonces overwritten by the redelivery's: each one committed to as published.
    const commitments = parseBody(batch, MessageType.poolBatch).commitments;
    const own = (await poolItems(b, 'p1')).filter((i) => i.sk.startsWith(`nonce#${batch.session}#`));
    expect(own.map((i) => PoolNonceRecord.parse(i.data).commitment)).toEqual(commitments);
    // The cap still holds for any other batch.
    expect((await b.refill('p1')).outcome).toMatchObject({ status: 'refused', code: RefusalCode.poolFull });
  });

  it('concurrent refills of one key with different batch ids never take it past maxUnused: one stores its batch, the others lose the refill mark or are refused', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 8, maxUnused: 8 } } });
    const envelopes = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => b.signed('coordinator', MessageType.poolRefill, i.toString(16).padStart(32, '0'), { keyId: KEY_ID, epoch: 0, count: 8 }, 'p1')));
    const outcomes = await Promise.allSettled(envelopes.map((e) => b.deliver('p1', e)));
    // Redeliveries of the losers (SQS would redeliver a thrown one) are refused: the pool is full.
    for (const [i, outcome] of outcomes.entries()) if (outcome.status === 'rejected') await b.deliver('p1', required(envelopes[i], 'refill'));
    const sent = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch);
    expect(sent).toHaveLength(1);
    // The published nonces: one batch of 8. A loser may have put its nonces before losing (orphans: never published, gone with their TTL).
    const items = await poolItems(b, 'p1');
    const batchIds = new Set(items.filter((i) => i.sk.startsWith('batch#')).map((i) => i.sk.slice('batch#'.length)));
    expect([...batchIds]).toEqual([required(sent[0], 'batch').session]);
    expect(items.filter((i) => i.sk.startsWith('nonce#') && batchIds.has(PoolNonceRecord.parse(i.data).batchId))).toHaveLength(8);
  });

  it('refuses a refill while maxUnused unexpired nonces of the key at its epoch are held (pool-full); expired ones and other epochs do not count', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 4, maxUnused: 6, ttlSeconds: 600 } } });
    expect((await b.refill('p1')).outcome.status).toBe('processed');
    expect((await b.refill('p1')).outcome.status).toBe('processed');
    const before = await b.snapshot('p1');
    const full = await b.refill('p1');
    expect(full.outcome).toMatchObject({ status: 'refused', code: RefusalCode.poolFull });
    expect(full.batch).toBeUndefined();
    expect(await b.snapshot('p1')).toEqual(before);
    expect(refusedWith(b.member('p1').sent).at(-1)).toMatchObject({ inResponseTo: MessageType.poolRefill, code: RefusalCode.poolFull });

    // Once those expire, the pool takes a batch again.
    b.offsetMs += 601_000;
    expect((await b.refill('p1')).outcome.status).toBe('processed');
    expect((await b.refill('p1')).outcome.status).toBe('processed');
    expect((await b.refill('p1')).outcome).toMatchObject({ status: 'refused', code: RefusalCode.poolFull });
    // And at a new epoch, the old epoch's nonces are not counted.
    await b.storeShare('p1', 1);
    expect((await b.refill('p1', { epoch: 1 })).outcome.status).toBe('processed');
  });

  it('a spent nonce (its item now the record of what it was spent on) is not counted as unused', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 4, maxUnused: 4 } } });
    const own = required((await b.refill('p1')).batch, 'batch of p1');
    const other = required((await b.refill('p2')).batch, 'batch of p2');
    expect((await b.refill('p1')).outcome).toMatchObject({ status: 'refused', code: RefusalCode.poolFull });
    const request = await b.request();
    const pooled = await b.signed(COORDINATOR, MessageType.signPooled, request.session, { request: request.request, attempt: 1, epoch: 0, commitments: [{ batch: own, index: 0 }, { batch: other, index: 0 }] }, 'p1');
    expect((await b.deliver('p1', pooled)).status).toBe('processed');
    // Four items under nonce#, one of them spent: three unused, below the cap.
    expect((await poolItems(b, 'p1')).filter((i) => i.sk.startsWith('nonce#')).map((i) => i.data.state ?? 'unused').sort()).toEqual(['spent', 'unused', 'unused', 'unused']);
    expect((await b.refill('p1')).outcome.status).toBe('processed');
  });

  it('refuses a refill at another epoch, for a key it holds no share of, or with pools off; nothing is stored', async () => {
    const b = await open();
    const before = await b.snapshot('p1');
    expect((await b.refill('p1', { epoch: 1 })).outcome).toMatchObject({ status: 'refused', code: RefusalCode.staleEpoch });
    expect((await b.refill('p1', { keyId: 'k2' })).outcome).toMatchObject({ status: 'refused', code: RefusalCode.unknownKey });
    expect(await b.snapshot('p1')).toEqual(before);
    expect(b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch)).toEqual([]);

    bench?.close();
    const off = await open({ limits: { noncePool: false } });
    const offBefore = await off.snapshot('p1');
    expect((await off.refill('p1')).outcome).toMatchObject({ status: 'refused', code: RefusalCode.policy });
    expect(await off.snapshot('p1')).toEqual(offBefore);
  });

  it('refuses a refill signed by anyone but the coordinator', async () => {
    const b = await open();
    const forged = await b.signed('p2', MessageType.poolRefill, 'ab'.repeat(16), { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1');
    const before = await b.snapshot('p1');
    expect((await b.deliver('p1', forged)).status).toBe('refused');
    expect(await b.snapshot('p1')).toEqual(before);
  });
});

describe('makePoolBatch and unusedPoolNonces (pure)', () => {
  it('commits to fresh nonces per entry; counts only unexpired nonces of the epoch', () => {
    const scope = new SecretScope();
    const secret = required(frost.trustedDealer({ min: 2, max: 3 }, ['p1', 'p2', 'p3'].map((p) => frost.Identifier.derive(p))).secretShares[frost.Identifier.derive('p1')], 'share');
    const view = { id: 'p1', directory: { coordinator: { alg: 'ed25519' as const, spki: '' }, parties: {}, initiators: {} }, suite: ed25519Suite, identifierOf: (p: string) => frost.Identifier.derive(p) };
    const plan = { keyId: KEY_ID, epoch: 2, batchId: 'ab'.repeat(16), count: 3, expires: 2_000 };
    const out = makePoolBatch(view, plan, { identifier: secret.identifier, signingShare: secret.signingShare, dataKey: new Uint8Array(32).fill(7) }, scope);
    expect(out.records.map((r) => r.record.index)).toEqual([0, 1, 2]);
    expect(new Set(out.commitments.map((c) => c.hiding)).size).toBe(3);
    const items = out.records.map(({ key, record }, i) => ({ ...key, data: { ...record, epoch: i === 2 ? 1 : 2 }, version: 1 }));
    expect(unusedPoolNonces(items, 2, 1_000)).toBe(2);
    expect(unusedPoolNonces(items, 2, 2_000)).toBe(0);
    expect(unusedPoolNonces([{ ...required(items[0], 'item'), expiresAt: 1 }], 2, 1_000)).toBe(0);
    // Spent in place: the item no longer counts. Unused is written without a state; with it spelled out it counts too, marked spent it does not.
    const [first, second] = [required(items[0], 'item'), required(items[1], 'item')];
    expect(second.data).not.toHaveProperty('state');
    const spent = { state: 'spent', keyId: KEY_ID, epoch: 2, batchId: plan.batchId, index: 0, requestFingerprint: 'aa'.repeat(32), packageHash: 'bb'.repeat(32), share: 'cc'.repeat(32) };
    expect(unusedPoolNonces([{ ...first, data: spent }, second], 2, 1_000)).toBe(1);
    expect(unusedPoolNonces([{ ...second, data: { ...second.data, state: 'unused' } }], 2, 1_000)).toBe(1);
    expect(unusedPoolNonces([{ ...second, data: { ...second.data, state: 'spent' } }], 2, 1_000)).toBe(0);
    scope.wipe();
  });
});
