/**
 * Pool items at an epoch switch, party side: once a refresh or reshare makes a new epoch of a
 * key active here, its unused pool nonces and published batches of older epochs are deleted.
 * They could sign nothing anyway (a pooled package names the share's epoch, and the re-sealed
 * share's data key no longer opens them); deleting them keeps unusable nonces from waiting
 * out their TTL in the table.
 */
import { isExpired, type WriteOperation } from '../../ports/store.js';
import type { PartyContext } from '../party-context.js';
import { partyKeys, PoolBatchRecord, PoolNonceRecord } from '../party-state.js';

/**
 * At most this many pool deletions go into the confirm transaction (DynamoDB takes 100 items
 * per transaction, and the switch has its own); the rest are deleted just before it.
 */
export const POOL_DELETIONS_PER_WRITE = 40;

/** Deletes of every pool nonce and batch record of `keyId` made at an epoch before `epoch` (one query of the key's pool partition). */
export async function stalePoolDeletions(ctx: PartyContext, keyId: string, epoch: number): Promise<WriteOperation[]> {
  const operations: WriteOperation[] = [];
  for (const item of await ctx.tables.backend.query(partyKeys.poolPartition(keyId))) {
    // An expired item counts as absent (and a version condition on it would fail the switch): TTL reaps it.
    if (isExpired(item, ctx.nowSeconds())) continue;
    // PoolNonceRecord is the unused state only: a spent nonce's item (what it was spent on) is
    // left to its TTL, as the spent records kept apart from their nonces were.
    const schema = item.sk.startsWith('nonce#') ? PoolNonceRecord : item.sk.startsWith('batch#') ? PoolBatchRecord : undefined;
    const parsed = schema?.safeParse(item.data);
    if (parsed?.success !== true || parsed.data.keyId !== keyId || parsed.data.epoch >= epoch) continue;
    operations.push({ op: 'delete', key: { pk: item.pk, sk: item.sk }, condition: { kind: 'version', version: item.version } });
  }
  return operations;
}

/**
 * Deletes all but the last POOL_DELETIONS_PER_WRITE of `deletions` at once, in writes of their
 * own, and returns those left for the caller's transaction. Called only once every check of
 * the switch has passed: an item deleted early belongs to an epoch being left for good, and a
 * redelivery after a failed switch write finds (and deletes) whatever is left.
 */
export async function deleteOverflow(ctx: PartyContext, deletions: readonly WriteOperation[]): Promise<WriteOperation[]> {
  const overflow = deletions.length - POOL_DELETIONS_PER_WRITE;
  for (let start = 0; start < overflow; start += POOL_DELETIONS_PER_WRITE) {
    const chunk = deletions.slice(start, Math.min(start + POOL_DELETIONS_PER_WRITE, overflow));
    // Unconditional: an old-epoch item deleted meanwhile is gone either way. One spent meanwhile
    // (its item now the record of what it was spent on) is deleted too: a redelivery of that
    // package is then refused as not held, and the nonce signs nothing again (its scalars left
    // with the unused record). Safe; it only refuses more.
    await ctx.tables.backend.write(
      chunk.map((operation) => (operation.op === 'delete' ? { ...operation, condition: { kind: 'none' } } : operation)),
      ctx.nowSeconds(),
    );
  }
  return deletions.slice(Math.max(0, overflow));
}
