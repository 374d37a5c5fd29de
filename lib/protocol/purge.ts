/**
 * The purge that follows a restore of a party's table.
 *
 * A backup (or anyone who can write the table without KMS access) can put back items the
 * party has since moved past. Most of them are harmless to have back; two kinds are not,
 * because the party acts on them as if they were still true:
 *
 * - an unused nonce that was spent after the backup point comes back unused, and the next
 *   signing package for its session and attempt is signed with it again. Each package
 *   signed with one nonce is one more linear equation in that nonce and the party's share;
 *   RFC 9591 §7.3: nonce reuse allows complete key recovery.
 * - DKG round state can come back behind the party's real progress (round 1 when round 2
 *   was already dealt), and the party would then deal round 2 of that session a second time;
 *   refresh/reshare state likewise (a dealer would deal its session again).
 *
 * `purgeVolatileState` deletes exactly those item kinds, whatever their age, through the
 * ItemBackend port only. Deleting one is always safe: a session that needed it fails and is
 * retried under a new session, with fresh randomness.
 */
import type { ItemBackend, StoredItem, WriteOperation } from '../ports/store.js';
import { isExpired } from '../ports/store.js';
import { NAME_PATTERN } from './messages.js';

export const VolatileKind = {
  nonce: 'nonce',
  poolNonce: 'poolNonce',
  dkgState: 'dkgState',
  reshareState: 'reshareState',
} as const;
export type VolatileKind = (typeof VolatileKind)[keyof typeof VolatileKind];

export interface VolatileItemKind {
  readonly kind: VolatileKind;
  /** Partition-key prefix of the kind (lib/protocol/party-state.ts `partyKeys`). */
  readonly pkPrefix: string;
  /** The sort key that marks the kind (or, with `skPrefix`, its start): other items under the same prefix are kept. */
  readonly sk: string;
  readonly skPrefix?: true;
  /** Items of the kind that are kept all the same, by what they hold (anything else of the kind is purged, whatever it holds). */
  readonly keeps?: (data: StoredItem['data']) => boolean;
}

/**
 * The item kinds a restore must remove, and only these. Kept on purpose:
 * - key shares (`key#…` / `share`): what the backup exists for.
 * - consumed-nonce markers (`nonce#…` / `consumed`, and a pool nonce's own item once spent,
 *   `pool#…` / `nonce#…` with `state: 'spent'`): proof that a nonce was spent and on which
 *   package; with one the party answers only that package, so keeping it can only make the
 *   party refuse more.
 * - published pool batches (`pool#…` / `batch#…`): a redelivered refill only sends the
 *   batch again; its nonces, once purged, sign nothing (the party refuses "no unused pool
 *   nonce").
 * - the audit trail (`audit`, `auditmark#…`): a hash chain of the party's decisions; the
 *   restore already took it back to the backup point, and deleting records would break it.
 * - seen message ids (`seen#…`) and rate-limit windows (`rate#…`): each can only make the
 *   party refuse more.
 * - any other item, including kinds added later (e.g. a DKG round marker under `dkg#…` with
 *   another sort key): a kind is purged only by adding it here, with the reason.
 */
export const VOLATILE_ITEM_KINDS: readonly VolatileItemKind[] = [
  // partyKeys.nonce: a revived unused nonce would be signed with twice (share extraction).
  { kind: VolatileKind.nonce, pkPrefix: 'nonce#', sk: 'nonce' },
  // partyKeys.poolNonce: the same, for a nonce of a pool (one-round signing). The same item
  // holds the record of what the nonce was spent on once it is (party-state.ts PoolNonceItem):
  // that one is kept, as the two-round `consumed` marker is; anything else there is purged.
  { kind: VolatileKind.poolNonce, pkPrefix: 'pool#', sk: 'nonce#', skPrefix: true, keeps: (data) => data.state === 'spent' },
  // partyKeys.dkgState: revived round state could make the party deal a session's round 2 again.
  { kind: VolatileKind.dkgState, pkPrefix: 'dkg#', sk: 'state' },
  // partyKeys.reshareState: revived refresh/reshare state from before its dealing was stored
  // could make the party deal that session again, with a fresh polynomial.
  { kind: VolatileKind.reshareState, pkPrefix: 'reshare#', sk: 'state' },
];

export interface PurgedItem {
  readonly kind: VolatileKind;
  readonly pk: string;
  readonly sk: string;
  /** The key the item was for, when it names one in the expected form (for the operator). */
  readonly keyId?: string;
  /** Already past its TTL: the handler ignores it, but it was still in the table. */
  readonly expired: boolean;
}

export interface PurgeReport {
  /** Every item deleted, in deletion order. */
  readonly purged: readonly PurgedItem[];
  readonly counts: Readonly<Record<VolatileKind, number>>;
}

export interface PurgeOptions {
  /** Epoch seconds; decides only which purged items are reported as already expired. */
  readonly nowSeconds: number;
  /** Called after each batch of deletions with how many of `total` are gone. */
  readonly onProgress?: (deleted: number, total: number) => void;
  /** Deletions per write (one transaction). @default 25 */
  readonly batchSize?: number;
}

const DEFAULT_BATCH_SIZE = 25;

function describe(kind: VolatileKind, item: StoredItem, nowSeconds: number): PurgedItem {
  const keyId = item.data.keyId;
  return {
    kind,
    pk: item.pk,
    sk: item.sk,
    ...(typeof keyId === 'string' && NAME_PATTERN.test(keyId) ? { keyId } : {}),
    expired: isExpired(item, nowSeconds),
  };
}

/** The items of the volatile kinds now in the table. */
export async function findVolatileItems(backend: ItemBackend, nowSeconds: number): Promise<PurgedItem[]> {
  const found: PurgedItem[] = [];
  for (const kind of VOLATILE_ITEM_KINDS) {
    for (const item of await backend.scanPrefix(kind.pkPrefix)) {
      if (!(kind.skPrefix === true ? item.sk.startsWith(kind.sk) : item.sk === kind.sk) || kind.keeps?.(item.data) === true) continue;
      found.push(describe(kind.kind, item, nowSeconds));
    }
  }
  return found;
}

/**
 * Deletes every item of the kinds in `VOLATILE_ITEM_KINDS`, expired or not. Idempotent: a
 * second run finds nothing. Meant to run while the party's handler is stopped; if it is
 * not, an invocation that loses its nonce mid-round fails safe ("no unused nonce").
 */
export async function purgeVolatileState(backend: ItemBackend, options: PurgeOptions): Promise<PurgeReport> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  const items = await findVolatileItems(backend, options.nowSeconds);
  const purged: PurgedItem[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    // Unconditional: an item deleted meanwhile (a concurrent purge) is simply gone.
    const operations: WriteOperation[] = batch.map((item) => ({ op: 'delete', key: { pk: item.pk, sk: item.sk }, condition: { kind: 'none' } }));
    await backend.write(operations, options.nowSeconds);
    purged.push(...batch);
    options.onProgress?.(purged.length, items.length);
  }
  const counts: Record<VolatileKind, number> = { nonce: 0, poolNonce: 0, dkgState: 0, reshareState: 0 };
  for (const item of purged) counts[item.kind] += 1;
  return { purged, counts };
}
