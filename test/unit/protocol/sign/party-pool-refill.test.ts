/** Nonce pools, party side: `pool.refill` → one signed `pool.batch` per batch id (sign/party-pool-refill.ts), through a real Party. */
import { afterEach, describe, expect, it } from 'vitest';
import { ConditionFailedError, InfrastructureError, RefusalCode } from '../../../../lib/ports/errors.js';
import type { StoredItem, WriteOperation } from '../../../../lib/ports/store.js';
import { DEFAULT_NONCE_POOL } from '../../../../lib/protocol/directory.js';
import { parseBody, verifyRelayed } from '../../../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType, type Envelope } from '../../../../lib/protocol/messages.js';
import { partyKeys, PoolBatchRecord, PoolNonceRecord } from '../../../../lib/protocol/party-state.js';
import { openDerived, openSecretAndKey, secretContext } from '../../../../lib/protocol/sealed-item.js';
import { makePoolBatch, nonceConditions, repeatedNonce, unusedPoolNonces } from '../../../../lib/protocol/sign/party-pool-refill.js';
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
    const writes: (readonly WriteOperation[])[] = [];
    b.member('p1').hooks.onWrite = (operations) => void writes.push(operations);
    const { outcome, batch, batchId } = await b.refill('p1', { count: 5 });
    expect(outcome.status).toBe('processed');
    expect(vault.calls).toEqual({ generateDataKey: 0, decryptDataKey: 1, signIdentity: 1 });
    // One batch read (replay mark, share, batch record, audit head), the count of unused nonces,
    // one conditional put per nonce, one transaction (batch record and refill mark), the replay mark.
    expect(storeCalls).toEqual({ get: 0, getMany: 1, query: 1, write: 5 + 1 + 1 });
    const shape = (operations: readonly WriteOperation[]) => operations.map((o) => (o.op === 'put' ? [o.item.sk, o.condition.kind] : [o.key.sk, 'delete']));
    // Each nonce alone and only on an absent slot (nothing was there), all before the commit.
    expect(writes.slice(0, 5).map(shape).sort()).toEqual([0, 1, 2, 3, 4].map((i) => [[`nonce#${batchId}#${i}`, 'absent']]).sort());
    expect(shape(required(writes[5], 'commit'))).toEqual([
      [`batch#${batchId}`, 'absent'],
      ['refill', 'absent'],
    ]);

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

  it('two concurrent deliveries of one refill: each that gives up throws (retryable), a redelivery completes; one batch is published, every entry matches its stored nonce', async () => {
    const b = await open();
    const batchId = 'ef'.repeat(16);
    const envelopes = await Promise.all([0, 1].map(() => b.signed('coordinator', MessageType.poolRefill, batchId, { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1')));
    const outcomes = await Promise.allSettled(envelopes.map((e) => b.deliver('p1', e)));
    // What really happens here: both read an empty pool and put on absent slots; the puts of the
    // first to write take all four slots (the in-memory SQLite store applies each put at once),
    // so the other loses every condition and gives up before its batch exists. The interleaving
    // where each takes some slots (both give up) is allowed too; a refused delivery is not.
    const gaveUp = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConditionFailedError);
      else expect(o.value.status).toBe('processed');
    }
    expect(gaveUp.length).toBeGreaterThanOrEqual(1);
    // SQS redelivers what threw (a throw leaves no replay mark): it completes, sending the batch committed (or committing one now).
    for (const i of gaveUp) expect((await b.deliver('p1', required(envelopes[i], 'refill'))).status).toBe('processed');

    const batches = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch);
    expect(batches.length).toBeGreaterThanOrEqual(1);
    for (const sent of batches) expect(sent).toEqual(batches[0]);
    const items = await poolItems(b, 'p1');
    expect(items.filter((i) => i.sk.startsWith('batch#')).map((i) => PoolBatchRecord.parse(i.data).batch)).toEqual([batches[0]]);
    // Every published entry is the nonce stored at its slot: signing with any of them works in one round.
    const published = parseBody(required(batches[0], 'batch'), MessageType.poolBatch).commitments;
    const nonces = items.filter((i) => i.sk.startsWith('nonce#'));
    expect(nonces.map((i) => i.sk).sort()).toEqual([0, 1, 2, 3].map((i) => `nonce#${batchId}#${i}`));
    for (const item of nonces) {
      const record = PoolNonceRecord.parse(item.data);
      expect(record.commitment).toEqual(published[record.index]);
    }
  });

  it('two deliveries of one refill that both get through their puts (the later replaces the earlier\'s nonces): the batch committed first is the only one sent, the other takes its nonces back, and the entries are refused at signing, never signed', async () => {
    const b = await open();
    const batchId = '4d'.repeat(16);
    const envelopes = await Promise.all([0, 1].map(() => b.signed(COORDINATOR, MessageType.poolRefill, batchId, { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1')));
    // Forced interleaving: A stores its nonces and is held at its commit; B then reads A's
    // nonces as an earlier attempt's, replaces them (version conditions) and is held at its
    // commit; A commits; B's commit fails (the batch record exists) and B adopts A's batch.
    const gate = () => {
      let open = (): void => undefined;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { open: () => open(), opened };
    };
    const [aAtCommit, releaseA, bAtCommit, releaseB] = [gate(), gate(), gate(), gate()];
    let commits = 0;
    b.member('p1').hooks.onWrite = async (operations) => {
      if (!operations.some((o) => o.op === 'put' && o.item.sk === `batch#${batchId}`)) return;
      commits += 1;
      const [reached, release] = commits === 1 ? [aAtCommit, releaseA] : [bAtCommit, releaseB];
      reached.open();
      await release.opened;
    };
    const a = b.deliver('p1', required(envelopes[0], 'refill A'));
    await aAtCommit.opened;
    const afterA = (await poolItems(b, 'p1')).map((i) => PoolNonceRecord.parse(i.data).commitment);
    const deliveredB = b.deliver('p1', required(envelopes[1], 'refill B'));
    await bAtCommit.opened;
    releaseA.open();
    expect((await a).status).toBe('processed');
    releaseB.open();
    expect((await deliveredB).status).toBe('processed');
    b.member('p1').hooks.onWrite = undefined;

    const batches = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch);
    expect(batches).toHaveLength(2);
    expect(batches[1]).toEqual(batches[0]);
    const published = parseBody(required(batches[0], 'batch'), MessageType.poolBatch).commitments;
    expect(published).toEqual(afterA);
    // A's nonces were replaced by B's before A committed, and B, having adopted A's batch, took
    // its own back (never published): nothing is left to count against the pool, and no
    // published entry has a nonce behind it.
    expect((await poolItems(b, 'p1')).filter((i) => i.sk.startsWith('nonce#'))).toEqual([]);

    // Signing with a published entry: refused (no unused nonce for it), no share, nothing changes; the fallback is two rounds.
    const own = required(batches[0], 'batch');
    const other = required((await b.refill('p2')).batch, 'batch of p2');
    const request = await b.request();
    const before = await b.snapshot('p1');
    const sent = b.member('p1').sent.length;
    const pooled = await b.signed(COORDINATOR, MessageType.signPooled, request.session, { request: request.request, attempt: 1, epoch: 0, commitments: [{ batch: own, index: 0 }, { batch: other, index: 0 }] }, 'p1');
    expect(await b.deliver('p1', pooled)).toMatchObject({ status: 'refused', code: RefusalCode.wrongRound });
    expect(b.sharesOf('p1', sent)).toEqual([]);
    expect(await b.snapshot('p1')).toEqual(before);
  });

  it('concurrent refills of one key with different batch ids never take its published nonces past maxUnused: one batch is committed, the others give up, lose the refill mark or are refused', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 8, maxUnused: 8 } } });
    const envelopes = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => b.signed('coordinator', MessageType.poolRefill, i.toString(16).padStart(32, '0'), { keyId: KEY_ID, epoch: 0, count: 8 }, 'p1')));
    const outcomes = await Promise.allSettled(envelopes.map((e) => b.deliver('p1', e)));
    // Redeliveries of the losers (SQS would redeliver a thrown one) are refused: the pool is full.
    for (const [i, outcome] of outcomes.entries()) if (outcome.status === 'rejected') await b.deliver('p1', required(envelopes[i], 'refill'));
    // Published nonces (of a batch that was committed: it has a batch record) never exceed
    // maxUnused, and an attempt that gave up took back what it had stored: no orphan is left
    // to count against the pool until its TTL (a coordinator racing refills cannot starve it).
    const items = await poolItems(b, 'p1');
    const orphans = items.filter((i) => i.sk.startsWith('nonce#') && !items.some((r) => r.sk === `batch#${PoolNonceRecord.parse(i.data).batchId}`));
    expect(orphans).toEqual([]);
    const committed = new Set(items.filter((i) => i.sk.startsWith('batch#')).map((i) => PoolBatchRecord.parse(i.data).batch.session));
    expect(committed.size).toBe(1);
    const published = items.filter((i) => i.sk.startsWith('nonce#') && committed.has(PoolNonceRecord.parse(i.data).batchId));
    expect(published).toHaveLength(8);
    const batches = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch);
    expect(new Set(batches.map((e) => e.session))).toEqual(committed);
    // And what was published is what is stored.
    const commitments = parseBody(required(batches[0], 'batch'), MessageType.poolBatch).commitments;
    for (const item of published) expect(PoolNonceRecord.parse(item.data).commitment).toEqual(commitments[PoolNonceRecord.parse(item.data).index]);
  });

  it('a nonce put landing late (an SDK retry\'s original, a slow duplicate) cannot bring a spent nonce back: it fails its condition, and the nonce still signs only its one package', async () => {
    const b = await open();
    const batchId = '1a'.repeat(16);
    const slot = partyKeys.poolNonce(KEY_ID, batchId, 0);
    let captured: WriteOperation | undefined;
    b.member('p1').hooks.onWrite = (operations) => {
      const op = operations.length === 1 ? operations[0] : undefined;
      if (op?.op === 'put' && op.item.sk === slot.sk) captured = op;
    };
    const own = required((await b.refill('p1', {}, batchId)).batch, 'batch of p1');
    b.member('p1').hooks.onWrite = undefined;
    const late = required(captured, 'captured nonce put');
    const other = required((await b.refill('p2')).batch, 'batch of p2');

    // Spend entry 0 of p1's batch: a share is sent, the item becomes the record of that package.
    const request = await b.request();
    const pooled = (req: { request: Envelope; session: string }, index: number) =>
      b.signed(COORDINATOR, MessageType.signPooled, req.session, { request: req.request, attempt: 1, epoch: 0, commitments: [{ batch: own, index: 0 }, { batch: other, index }] }, 'p1');
    expect((await b.deliver('p1', await pooled(request, 0))).status).toBe('processed');
    expect(b.sharesOf('p1')).toHaveLength(1);
    const spent = required(await b.member('p1').store.get(slot), 'spent item');
    expect(spent.data.state).toBe('spent');

    // The captured put lands again, straight on the party's table, as a delayed duplicate would.
    const write = b.member('p1').store.write([late], Math.floor(b.now() / 1000));
    await expect(write).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await b.member('p1').store.get(slot)).toEqual(spent);

    // Another package for the same entry: refused as nonce reuse, no share, nothing stored changes.
    const before = await b.snapshot('p1');
    const sent = b.member('p1').sent.length;
    expect(await b.deliver('p1', await pooled(request, 1))).toMatchObject({ status: 'refused', code: RefusalCode.nonceReuse });
    expect(b.sharesOf('p1', sent)).toEqual([]);
    expect(await b.snapshot('p1')).toEqual(before);
  });

  it('a refill that stored its nonces but failed to commit is redelivered near the cap: its own orphans do not count, it replaces them, and what it publishes is what is stored', async () => {
    const b = await open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 4, maxUnused: 8 } } });
    expect((await b.refill('p1')).outcome.status).toBe('processed');
    const batchId = '2b'.repeat(16);
    const envelope = await b.signed(COORDINATOR, MessageType.poolRefill, batchId, { keyId: KEY_ID, epoch: 0, count: 4 }, 'p1');
    // The commit transaction (the one writing the batch record) fails once, after every nonce put landed.
    let failures = 0;
    b.member('p1').hooks.onWrite = (operations) => {
      if (failures === 0 && operations.some((o) => o.op === 'put' && o.item.sk === `batch#${batchId}`)) {
        failures += 1;
        throw new InfrastructureError('dynamodb:TransactWriteItems', 'injected failure');
      }
    };
    await expect(b.deliver('p1', envelope)).rejects.toBeInstanceOf(InfrastructureError);
    expect(failures).toBe(1);
    expect(b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch)).toHaveLength(1);
    const nonceItems = async () => (await poolItems(b, 'p1')).filter((i) => i.sk.startsWith(`nonce#${batchId}#`));
    const orphans = await nonceItems();
    expect(orphans).toHaveLength(4);
    expect(await b.member('p1').store.get(partyKeys.poolBatch(KEY_ID, batchId))).toBeUndefined();
    // Four published and four orphans: at the cap if the orphans were counted.
    expect(unusedPoolNonces(await poolItems(b, 'p1'), 0, b.now())).toBe(8);

    const redelivered = await b.deliver('p1', envelope);
    expect(redelivered.status).toBe('processed');
    const batch = required(b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch)[1], 'batch');
    expect(batch.session).toBe(batchId);
    const published = parseBody(batch, MessageType.poolBatch).commitments;
    const stored = await nonceItems();
    expect(stored).toHaveLength(4);
    for (const item of stored) {
      const record = PoolNonceRecord.parse(item.data);
      const orphan = required(orphans.find((o) => o.sk === item.sk), 'orphan');
      // Replaced over the orphan's version, with the nonce now published.
      expect(item.version).not.toBe(orphan.version);
      expect(record.commitment).not.toEqual(PoolNonceRecord.parse(orphan.data).commitment);
      expect(record.commitment).toEqual(published[record.index]);
    }

    // Now eight published nonces: a different refill is refused, nothing changes.
    const before = await b.snapshot('p1');
    expect((await b.refill('p1')).outcome).toMatchObject({ status: 'refused', code: RefusalCode.poolFull });
    expect(await b.snapshot('p1')).toEqual(before);
  });

  it('a refill whose batch id already holds a spent nonce (its batch record expired) is refused as a conflict; nothing stored changes', async () => {
    const b = await open();
    const batchId = '3c'.repeat(16);
    const own = required((await b.refill('p1', {}, batchId)).batch, 'batch of p1');
    const other = required((await b.refill('p2')).batch, 'batch of p2');
    const request = await b.request();
    const pooled = await b.signed(COORDINATOR, MessageType.signPooled, request.session, { request: request.request, attempt: 1, epoch: 0, commitments: [{ batch: own, index: 0 }, { batch: other, index: 0 }] }, 'p1');
    expect((await b.deliver('p1', pooled)).status).toBe('processed');
    // The batch record is gone (its TTL), the spent record of entry 0 is not.
    const { store } = b.member('p1');
    await store.write([{ op: 'delete', key: partyKeys.poolBatch(KEY_ID, batchId), condition: { kind: 'exists' } }], Math.floor(b.now() / 1000));
    expect((await store.get(partyKeys.poolNonce(KEY_ID, batchId, 0)))?.data.state).toBe('spent');

    // The same batch id in a fresh refill envelope (signed later, so not a replay of the first).
    b.offsetMs += 1_000;
    const before = await b.snapshot('p1');
    const batches = b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch).length;
    const again = await b.refill('p1', {}, batchId);
    expect(again.outcome).toMatchObject({ status: 'refused', code: RefusalCode.conflict });
    expect(again.batch).toBeUndefined();
    expect(b.member('p1').sent.filter((e) => e.type === MessageType.poolBatch)).toHaveLength(batches);
    expect(refusedWith(b.member('p1').sent).at(-1)).toMatchObject({ inResponseTo: MessageType.poolRefill, code: RefusalCode.conflict });
    expect(await b.snapshot('p1')).toEqual(before);
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

describe('nonceConditions and unusedPoolNonces with the refill\'s own batch id (pure)', () => {
  const NOW_SECONDS = 1_000;
  const batchId = 'aa'.repeat(16);
  const keys = [0, 1, 2].map((i) => partyKeys.poolNonce(KEY_ID, batchId, i));
  const unused = (id: string, index: number, version = 1, fields: Record<string, unknown> = {}): StoredItem => ({
    ...partyKeys.poolNonce(KEY_ID, id, index),
    data: { keyId: KEY_ID, epoch: 0, batchId: id, index, expires: 10_000, commitment: { identifier: 'aa'.repeat(32), hiding: 'bb'.repeat(32), binding: 'cc'.repeat(32) }, nonces: { iv: 'dd'.repeat(12), ciphertext: 'ee'.repeat(80) }, ...fields },
    version,
  });
  const spent = (id: string, index: number): StoredItem => ({
    ...partyKeys.poolNonce(KEY_ID, id, index),
    data: { state: 'spent', keyId: KEY_ID, epoch: 0, batchId: id, index, requestFingerprint: 'aa'.repeat(32), packageHash: 'bb'.repeat(32), share: 'cc'.repeat(32) },
    version: 2,
  });

  it('fixture: the unused item parses as a pool nonce', () => {
    expect(PoolNonceRecord.safeParse(unused(batchId, 0).data).success).toBe(true);
  });

  it('absent on an empty slot; over an unspent nonce of this batch id, at the version read', () => {
    expect(nonceConditions([], keys, batchId, NOW_SECONDS)).toEqual(new Map(keys.map((k) => [k.sk, { kind: 'absent' }])));
    const conditions = nonceConditions([unused(batchId, 1, 3), unused('bb'.repeat(16), 0, 5)], keys, batchId, NOW_SECONDS);
    expect(conditions).toEqual(
      new Map([
        [keys[0]?.sk, { kind: 'absent' }],
        [keys[1]?.sk, { kind: 'version', version: 3 }],
        [keys[2]?.sk, { kind: 'absent' }],
      ]),
    );
  });

  it('repeatedNonce: a new hiding element already held (unused, or spent with its commitment kept) or repeated in the batch; none otherwise', () => {
    const commitment = (hiding: string) => ({ identifier: 'aa'.repeat(32), hiding, binding: 'cc'.repeat(32) });
    const spentWith = (hiding?: string): StoredItem => ({ ...spent(batchId, 2), data: { ...spent(batchId, 2).data, ...(hiding !== undefined ? { hiding } : {}) } });
    expect(repeatedNonce([], [commitment('01'.repeat(32)), commitment('02'.repeat(32))])).toBeUndefined();
    expect(repeatedNonce([], [commitment('01'.repeat(32)), commitment('01'.repeat(32))])).toBe(1);
    expect(repeatedNonce([unused(batchId, 0)], [commitment('01'.repeat(32)), commitment('bb'.repeat(32))])).toBe(1);
    expect(repeatedNonce([spentWith('03'.repeat(32))], [commitment('03'.repeat(32))])).toBe(0);
    // A spent record from before the commitment was kept says nothing either way.
    expect(repeatedNonce([spentWith()], [commitment('03'.repeat(32))])).toBeUndefined();
  });

  it('an expired item the table has not reaped yet is absent to a condition: absent, not a version no live item has', () => {
    const expired = { ...unused(batchId, 1, 3), expiresAt: NOW_SECONDS };
    expect(nonceConditions([expired], keys, batchId, NOW_SECONDS)).toEqual(new Map(keys.map((k) => [k.sk, { kind: 'absent' }])));
    expect(nonceConditions([{ ...expired, expiresAt: NOW_SECONDS + 1 }], keys, batchId, NOW_SECONDS)?.get(keys[1]?.sk ?? '')).toEqual({ kind: 'version', version: 3 });
  });

  it('undefined (the batch id was used) when a slot holds a spent record, anything that is not a pool nonce, or a nonce of another batch id', () => {
    expect(nonceConditions([unused(batchId, 0), spent(batchId, 1)], keys, batchId, NOW_SECONDS)).toBeUndefined();
    expect(nonceConditions([{ ...partyKeys.poolNonce(KEY_ID, batchId, 2), data: { junk: true }, version: 1 }], keys, batchId, NOW_SECONDS)).toBeUndefined();
    expect(nonceConditions([{ ...unused('bb'.repeat(16), 0), sk: keys[0]?.sk ?? '' }], keys, batchId, NOW_SECONDS)).toBeUndefined();
    // A spent record of another batch id, at its own slot, is no concern of this one.
    expect(nonceConditions([spent('bb'.repeat(16), 0)], keys, batchId, NOW_SECONDS)).toEqual(new Map(keys.map((k) => [k.sk, { kind: 'absent' }])));
  });

  it('unusedPoolNonces leaves out the refill\'s own batch id, and only it', () => {
    const items = [unused(batchId, 0), unused(batchId, 1), unused('bb'.repeat(16), 0), unused('cc'.repeat(16), 0), spent('cc'.repeat(16), 1)];
    expect(unusedPoolNonces(items, 0, 1_000)).toBe(4);
    expect(unusedPoolNonces(items, 0, 1_000, batchId)).toBe(2);
    expect(unusedPoolNonces(items, 0, 1_000, 'bb'.repeat(16))).toBe(3);
    expect(unusedPoolNonces(items, 0, 1_000, 'dd'.repeat(16))).toBe(4);
  });
});
