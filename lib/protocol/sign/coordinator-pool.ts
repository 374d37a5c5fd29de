/**
 * Nonce pools, coordinator side: where each party's published batches of commitments
 * stand, as pure functions over the key's PoolCursor. Claiming an entry moves its batch's
 * `next` past it; the cursor is written under a version condition with every claim, so two
 * requests can never be handed the same entry. That write is the whole claim: a batch id is
 * accepted once for as long as its entries could be offered (coordinator-pool-batch.ts
 * batchItemExpiresAt), so an entry passed over never comes back.
 *
 * "Usable" is one definition everywhere: an entry below `count`, of a batch that expires
 * more than `marginMs` (the longest a message may travel, limits.maxMessageAgeMs) from now,
 * so a party receiving the package does not find the batch expired. Unusable refs are
 * dropped whenever the cursor is written, which keeps it small.
 */
import type { KeyRecord, PoolBatchRef, PoolCursor } from '../coordinator-state.js';
import type { NoncePoolSettings } from '../directory.js';

/** When pools are judged: the clock reading of the message (epoch ms) and the usability margin. */
export interface PoolClock {
  readonly now: number;
  readonly marginMs: number;
}

/** One claimed entry: `party`'s commitment `index` of its batch `batchId`. */
export interface PoolClaim {
  readonly party: string;
  readonly batchId: string;
  readonly index: number;
}

type PartyPool = PoolCursor['parties'][string];

export function keyEpoch(key: Pick<KeyRecord, 'epoch'>): number {
  return key.epoch ?? 0;
}

/** A key's cursor before any batch arrived (or after its epoch moved on). */
export function emptyCursor(key: Pick<KeyRecord, 'keyId' | 'epoch'>): PoolCursor {
  return { keyId: key.keyId, epoch: keyEpoch(key), parties: {} };
}

/** The stored cursor if it is at the key's epoch; else an empty one: a batch of another epoch cannot be opened by the party any more. */
export function cursorAtEpoch(stored: PoolCursor | undefined, key: Pick<KeyRecord, 'keyId' | 'epoch'>): PoolCursor {
  return stored !== undefined && stored.epoch === keyEpoch(key) ? stored : emptyCursor(key);
}

export function isUsable(ref: PoolBatchRef, clock: PoolClock): boolean {
  return ref.next < ref.count && ref.expires > clock.now + clock.marginMs;
}

function poolOf(cursor: PoolCursor, party: string): PartyPool | undefined {
  return Object.hasOwn(cursor.parties, party) ? cursor.parties[party] : undefined;
}

/** `party`'s usable batches, oldest (soonest to expire) first; ties keep arrival order. */
export function usableBatches(cursor: PoolCursor, party: string, clock: PoolClock): PoolBatchRef[] {
  const refs = poolOf(cursor, party)?.batches ?? [];
  return refs.filter((ref) => isUsable(ref, clock)).sort((a, b) => a.expires - b.expires);
}

/** How many of `party`'s entries can still be claimed. */
export function unclaimed(cursor: PoolCursor, party: string, clock: PoolClock): number {
  return usableBatches(cursor, party, clock).reduce((sum, ref) => sum + (ref.count - ref.next), 0);
}

/** The cursor without unusable refs (expired, or every entry claimed): they can never be claimed again. */
export function pruned(cursor: PoolCursor, clock: PoolClock): PoolCursor {
  const parties: Record<string, PartyPool> = {};
  for (const [party, pool] of Object.entries(cursor.parties)) {
    const batches = pool.batches.filter((ref) => isUsable(ref, clock));
    if (batches.length === 0 && pool.refillRequestedAt === undefined) continue;
    parties[party] = { ...pool, batches };
  }
  return { ...cursor, parties };
}

/**
 * Claims one entry for each of `threshold` signers among `eligible` (most unclaimed first,
 * ties by name): entry `next` of each one's oldest usable batch. Undefined when fewer than
 * `threshold` eligible parties have a usable entry (then the request takes two rounds).
 */
export function claimSigners(
  cursor: PoolCursor,
  eligible: readonly string[],
  threshold: number,
  clock: PoolClock,
): { cursor: PoolCursor; claims: PoolClaim[] } | undefined {
  const candidates = [...new Set(eligible)]
    .map((party) => ({ party, count: unclaimed(cursor, party, clock) }))
    .filter((c) => c.count > 0)
    .sort((a, b) => b.count - a.count || (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
  if (threshold < 1 || candidates.length < threshold) return undefined;
  const claims: PoolClaim[] = [];
  for (const { party } of candidates.slice(0, threshold)) {
    const oldest = usableBatches(cursor, party, clock)[0];
    if (oldest === undefined) return undefined; // counted above: cannot happen
    claims.push({ party, batchId: oldest.batchId, index: oldest.next });
  }
  claims.sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
  return { cursor: passed(cursor, claims), claims };
}

/** The cursor with each claimed entry passed over (its batch's `next` beyond it). */
export function passed(cursor: PoolCursor, claims: readonly PoolClaim[]): PoolCursor {
  const parties = { ...cursor.parties };
  for (const claim of claims) {
    const pool = Object.hasOwn(parties, claim.party) ? parties[claim.party] : undefined;
    if (pool === undefined) continue;
    const batches = pool.batches.map((ref) => (ref.batchId === claim.batchId && ref.next <= claim.index ? { ...ref, next: claim.index + 1 } : ref));
    parties[claim.party] = { ...pool, batches };
  }
  return { ...cursor, parties };
}

/** The cursor without `party`'s batch `batchId`: its stored batch is gone, so none of its entries can be handed out. */
export function withoutBatch(cursor: PoolCursor, party: string, batchId: string): PoolCursor {
  const pool = poolOf(cursor, party);
  if (pool === undefined) return cursor;
  return { ...cursor, parties: { ...cursor.parties, [party]: { ...pool, batches: pool.batches.filter((ref) => ref.batchId !== batchId) } } };
}

/**
 * The parties of the key to ask for a batch now: at most `lowWater` unclaimed entries left,
 * and no refill asked of them within `refillRetrySeconds` (an unanswered one may be lost).
 */
export function refillsDue(cursor: PoolCursor, key: Pick<KeyRecord, 'parties'>, settings: Pick<NoncePoolSettings, 'lowWater' | 'refillRetrySeconds'>, clock: PoolClock): string[] {
  return key.parties.filter((party) => {
    if (unclaimed(cursor, party, clock) > settings.lowWater) return false;
    const asked = poolOf(cursor, party)?.refillRequestedAt;
    return asked === undefined || clock.now - asked >= settings.refillRetrySeconds * 1000;
  });
}

/** The cursor noting that a refill was asked of each of `parties` at `now`. */
export function refillsRequested(cursor: PoolCursor, parties: readonly string[], now: number): PoolCursor {
  const next = { ...cursor.parties };
  for (const party of parties) next[party] = { batches: poolOf(cursor, party)?.batches ?? [], refillRequestedAt: now };
  return { ...cursor, parties: next };
}

/**
 * The cursor with `party`'s new batch added (at the key's epoch: a cursor of another epoch
 * starts empty), unusable refs dropped, and the party's pending refill answered.
 */
export function withBatch(stored: PoolCursor | undefined, key: Pick<KeyRecord, 'keyId' | 'epoch'>, party: string, ref: PoolBatchRef, clock: PoolClock): PoolCursor {
  const cursor = pruned(cursorAtEpoch(stored, key), clock);
  const batches = [...(poolOf(cursor, party)?.batches ?? []).filter((b) => b.batchId !== ref.batchId), ref];
  return { ...cursor, parties: { ...cursor.parties, [party]: { batches } } };
}
