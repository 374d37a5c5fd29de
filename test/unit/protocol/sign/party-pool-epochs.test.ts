/** Pool items at an epoch switch (sign/party-pool-epochs.ts): older epochs' nonces and batches go, the current epoch's stay. */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NONCE_POOL } from '../../../../lib/protocol/directory.js';
import { COORDINATOR, MessageType } from '../../../../lib/protocol/messages.js';
import { createPartyContext, type PartyContext } from '../../../../lib/protocol/party-context.js';
import { partyKeys } from '../../../../lib/protocol/party-state.js';
import { deleteOverflow, POOL_DELETIONS_PER_WRITE, stalePoolDeletions } from '../../../../lib/protocol/sign/party-pool-epochs.js';
import { KEY_ID, POLICY, PoolBench } from '../../../support/pool-bench.js';

let bench: PoolBench | undefined;
afterEach(() => {
  bench?.close();
  bench = undefined;
});

/** p1 as its steps see it, on the bench's store. */
function contextOf(b: PoolBench): PartyContext {
  const { store, vault } = b.member('p1');
  return createPartyContext({ id: 'p1', vault, store, transport: { send: () => Promise.resolve() }, clock: { now: () => b.now() }, directory: b.cast.directory, policy: POLICY });
}

/** The key's pool items but its refill mark (one per key, no epoch, nothing secret: it stays). */
const poolKeys = async (b: PoolBench) => (await b.member('p1').store.query(partyKeys.poolPartition(KEY_ID))).map((i) => i.sk).filter((sk) => sk !== 'refill').sort();

describe('stalePoolDeletions', () => {
  it('deletes the nonces and batch records of epochs before the new one, and keeps the new epoch\'s and every spent record', async () => {
    bench = await PoolBench.open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 3 } } });
    const b = bench;
    const old = await b.refill('p1', { epoch: 0 });
    // Spend one epoch-0 nonce: its spent record is evidence, kept until its TTL.
    const request = await b.request();
    const p2 = await b.refill('p2', { epoch: 0 });
    if (old.batch === undefined || p2.batch === undefined) throw new Error('no batches');
    const entries = [{ batch: old.batch, index: 0 }, { batch: p2.batch, index: 0 }];
    expect((await b.deliver('p1', await b.signed(COORDINATOR, MessageType.signPooled, request.session, { request: request.request, attempt: 1, epoch: 0, commitments: entries }, 'p1'))).status).toBe('processed');
    await b.storeShare('p1', 1);
    const fresh = await b.refill('p1', { epoch: 1 });

    const ctx = contextOf(b);
    const deletions = await stalePoolDeletions(ctx, KEY_ID, 1);
    expect(deletions.map((d) => (d.op === 'delete' ? d.key.sk : '')).sort()).toEqual([`batch#${old.batchId}`, `nonce#${old.batchId}#1`, `nonce#${old.batchId}#2`]);
    expect(await stalePoolDeletions(ctx, 'k2', 1)).toEqual([]);
    await ctx.tables.backend.write(deletions, ctx.nowSeconds());
    // The spent nonce's item (now the record of what it was spent on) stays, as the unused ones of its epoch go.
    expect(await poolKeys(b)).toEqual([`batch#${fresh.batchId}`, ...[0, 1, 2].map((i) => `nonce#${fresh.batchId}#${i}`), `nonce#${old.batchId}#0`].sort());
    expect((await b.member('p1').store.get(partyKeys.poolNonce(KEY_ID, old.batchId, 0)))?.data).toMatchObject({ state: 'spent', keyId: KEY_ID, batchId: old.batchId, index: 0 });
  });

  it('leaves at most POOL_DELETIONS_PER_WRITE for the switch transaction and deletes the rest before it', async () => {
    bench = await PoolBench.open({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, batchSize: 64, maxUnused: 1000 } } });
    const b = bench;
    for (let i = 0; i < 2; i++) expect((await b.refill('p1', { count: 64 })).outcome.status).toBe('processed');
    const ctx = contextOf(b);
    const deletions = await stalePoolDeletions(ctx, KEY_ID, 1);
    expect(deletions).toHaveLength(130);
    const left = await deleteOverflow(ctx, deletions);
    expect(left).toEqual(deletions.slice(130 - POOL_DELETIONS_PER_WRITE));
    expect(await poolKeys(b)).toHaveLength(POOL_DELETIONS_PER_WRITE);
    await ctx.tables.backend.write(left, ctx.nowSeconds());
    expect(await poolKeys(b)).toEqual([]);
    // Fewer than the limit: all go into the switch transaction.
    expect(await deleteOverflow(ctx, deletions.slice(0, 3))).toEqual(deletions.slice(0, 3));
  });
});
