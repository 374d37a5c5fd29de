/** Nonce pools, party side: `pool.refill` → one signed `pool.batch` per batch id (sign/party-pool-refill.ts), through a real Party. */
import { afterEach, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { DEFAULT_NONCE_POOL } from '../../../../lib/protocol/directory.js';
import { parseBody, verifyRelayed } from '../../../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType, type Envelope } from '../../../../lib/protocol/messages.js';
import { partyKeys, PoolBatchRecord, PoolNonceRecord } from '../../../../lib/protocol/party-state.js';
import { openDerived, openSecretAndKey, secretContext } from '../../../../lib/protocol/sealed-item.js';
import { makePoolBatch, unusedPoolNonces } from '../../../../lib/protocol/sign/party-pool-refill.js';
import { SecretScope } from '../../../../lib/protocol/secret-scope.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
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
const refusedWith = (sent: readonly Envelope[]) => sent.filter((e) => e.type === MessageType.partyRefused).map((e) => parseBody(e, MessageType.partyRefused));

describe('pool.refill', () => {
  it('makes the batch in one invocation: nonces sealed under the share\'s data key (one Decrypt, no GenerateDataKey), the batch signed by the identity key', async () => {
    const b = await open();
    const { vault, storeCalls } = b.member('p1');
    Object.assign(vault.calls, { generateDataKey: 0, decryptDataKey: 0, signIdentity: 0 });
    Object.assign(storeCalls, { get: 0, getMany: 0, query: 0, write: 0 });
    const { outcome, batch, batchId } = await b.refill('p1', { count: 5 });
    expect(outcome.status).toBe('processed');
    expect(vault.calls).toEqual({ generateDataKey: 0, decryptDataKey: 1, signIdentity: 1 });
    // One batch read (replay mark, share, batch record, audit head), the count of unused nonces, one transaction, the replay mark.
    expect(storeCalls).toEqual({ get: 0, getMany: 1, query: 1, write: 2 });

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
    const items = await poolItems(b, 'p1');
    expect(items).toHaveLength(5);
    const published = parseBody(required(batches[0], 'batch'), MessageType.poolBatch).commitments;
    for (const item of items.filter((i) => i.sk.startsWith('nonce#'))) expect(published).toContainEqual(PoolNonceRecord.parse(item.data).commitment);
  });

  it('concurrent refills of one key with different batch ids never take it past maxUnused: one stores its batch, the others lose the refill mark or are refused', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 8, maxUnused: 8 } } });
    const envelopes = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => b.signed('coordinator', MessageType.poolRefill, i.toString(16).padStart(32, '0'), { keyId: KEY_ID, epoch: 0, count: 8 }, 'p1')));
    const outcomes = await Promise.allSettled(envelopes.map((e) => b.deliver('p1', e)));
    // Redeliveries of the losers (SQS would redeliver a thrown one) are refused: the pool is full.
    for (const [i, outcome] of outcomes.entries()) if (outcome.status === 'rejected') await b.deliver('p1', required(envelopes[i], 'refill'));
    const nonces = (await poolItems(b, 'p1')).filter((i) => i.sk.startsWith('nonce#'));
    expect(nonces).toHaveLength(8);
    expect(b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch)).toHaveLength(1);
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
