/**
 * Nonce pools, coordinator side, as pure functions over the cursor: what is usable, who is
 * chosen, what is claimed, who is asked for a refill, and how batches come in. The property
 * tests drive arbitrary sequences of arriving batches, claims and skips through the cursor.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PoolBatchRef, PoolCursor } from '../../../../lib/protocol/coordinator-state.js';
import {
  claimSigners,
  cursorAtEpoch,
  emptyCursor,
  passed,
  pruned,
  refillsDue,
  refillsRequested,
  unclaimed,
  withBatch,
  withoutBatch,
  type PoolClaim,
  type PoolClock,
} from '../../../../lib/protocol/sign/coordinator-pool.js';

const NOW = 1_800_000_000_000;
const MARGIN = 600_000;
const HOUR = 3_600_000;
const clock: PoolClock = { now: NOW, marginMs: MARGIN };
const key = { keyId: 'k1', epoch: 2, parties: ['p1', 'p2', 'p3'], threshold: 2 };
const settings = { lowWater: 8, refillRetrySeconds: 60 };
const ref = (batchId: string, count: number, next = 0, expires = NOW + HOUR): PoolBatchRef => ({ batchId, expires, count, next });

function cursorWith(parties: Record<string, PoolBatchRef[]>): PoolCursor {
  return { keyId: 'k1', epoch: 2, parties: Object.fromEntries(Object.entries(parties).map(([p, batches]) => [p, { batches }])) };
}

describe('pool cursor (coordinator)', () => {
  it('a new cursor is empty at the key epoch; a stored one of another epoch reads as empty', () => {
    expect(emptyCursor(key)).toEqual({ keyId: 'k1', epoch: 2, parties: {} });
    const old = { ...cursorWith({ p1: [ref('b1', 4)] }), epoch: 1 };
    expect(cursorAtEpoch(old, key)).toEqual(emptyCursor(key));
    const current = cursorWith({ p1: [ref('b1', 4)] });
    expect(cursorAtEpoch(current, key)).toBe(current);
    expect(cursorAtEpoch(undefined, key)).toEqual(emptyCursor(key));
  });

  it('counts only usable entries: below count, expiring beyond now + margin', () => {
    const cursor = cursorWith({ p1: [ref('used', 4, 4), ref('soon', 4, 0, NOW + MARGIN), ref('ok', 5, 2), ref('gone', 3, 0, NOW - 1)] });
    expect(unclaimed(cursor, 'p1', clock)).toBe(3);
    expect(unclaimed(cursor, 'p2', clock)).toBe(0);
  });

  it('chooses the t parties with most unclaimed entries (ties by name) and claims `next` of their oldest usable batch', () => {
    const cursor = cursorWith({
      p1: [ref('a', 4, 1)],
      p2: [ref('late', 8, 0, NOW + 2 * HOUR), ref('early', 8, 3, NOW + HOUR)],
      p3: [ref('c', 3)],
    });
    const plan = claimSigners(cursor, key.parties, 2, clock);
    // p2: 13 unclaimed; p1 and p3: 3 each, p1 first by name.
    expect(plan?.claims).toEqual([
      { party: 'p1', batchId: 'a', index: 1 },
      { party: 'p2', batchId: 'early', index: 3 },
    ]);
    expect(plan?.cursor.parties.p1?.batches).toEqual([ref('a', 4, 2)]);
    expect(plan?.cursor.parties.p2?.batches).toEqual([ref('late', 8, 0, NOW + 2 * HOUR), ref('early', 8, 4, NOW + HOUR)]);
    expect(plan?.cursor.parties.p3).toEqual(cursor.parties.p3);
  });

  it('claims only among the eligible parties, and nothing when fewer than t have a usable entry', () => {
    const cursor = cursorWith({ p1: [ref('a', 4)], p2: [ref('b', 4, 4)], p3: [ref('c', 4, 0, NOW + MARGIN - 1)] });
    expect(claimSigners(cursor, key.parties, 2, clock)).toBeUndefined();
    const two = cursorWith({ p1: [ref('a', 4)], p2: [ref('b', 4)], p3: [ref('c', 9)] });
    expect(claimSigners(two, ['p1', 'p2'], 2, clock)?.claims.map((c) => c.party)).toEqual(['p1', 'p2']);
    expect(claimSigners(two, ['p3'], 2, clock)).toBeUndefined();
  });

  it('passing over an entry moves its batch beyond it, never back', () => {
    const cursor = cursorWith({ p1: [ref('a', 4, 2)] });
    expect(passed(cursor, [{ party: 'p1', batchId: 'a', index: 2 }]).parties.p1?.batches).toEqual([ref('a', 4, 3)]);
    expect(passed(cursor, [{ party: 'p1', batchId: 'a', index: 0 }]).parties.p1?.batches).toEqual([ref('a', 4, 2)]);
  });

  it('a batch whose stored item is gone is dropped whole; other batches and parties stay', () => {
    const cursor = cursorWith({ p1: [ref('a', 4, 1), ref('b', 4)], p2: [ref('a', 4)] });
    expect(withoutBatch(cursor, 'p1', 'a')).toEqual(cursorWith({ p1: [ref('b', 4)], p2: [ref('a', 4)] }));
    expect(withoutBatch(cursor, 'p3', 'a')).toBe(cursor);
  });

  it('asks for a refill at or below low water, not again within the retry interval, again after it', () => {
    const cursor = cursorWith({ p1: [ref('a', 9)], p2: [ref('b', 8)] });
    expect(refillsDue(cursor, key, settings, clock)).toEqual(['p2', 'p3']);
    const asked = refillsRequested(cursor, ['p2', 'p3'], NOW);
    expect(asked.parties.p2).toEqual({ batches: [ref('b', 8)], refillRequestedAt: NOW });
    expect(asked.parties.p3).toEqual({ batches: [], refillRequestedAt: NOW });
    expect(refillsDue(asked, key, settings, { ...clock, now: NOW + 59_999 })).toEqual([]);
    expect(refillsDue(asked, key, settings, { ...clock, now: NOW + 60_000 })).toEqual(['p2', 'p3']);
  });

  it('an arriving batch is added at the key epoch, answers its party’s refill, and drops expired and used-up refs', () => {
    const stored: PoolCursor = {
      keyId: 'k1',
      epoch: 2,
      parties: { p1: { batches: [ref('used', 4, 4), ref('old', 4, 0, NOW - 1), ref('live', 4, 1)], refillRequestedAt: NOW - 1000 }, p2: { batches: [ref('x', 2, 2)] } },
    };
    const next = withBatch(stored, key, 'p1', ref('new', 32), clock);
    expect(next).toEqual({ keyId: 'k1', epoch: 2, parties: { p1: { batches: [ref('live', 4, 1), ref('new', 32)] } } });
    // A cursor of another epoch: only the new batch.
    expect(withBatch({ ...stored, epoch: 1 }, key, 'p2', ref('new', 32), clock)).toEqual({ keyId: 'k1', epoch: 2, parties: { p2: { batches: [ref('new', 32)] } } });
    expect(pruned(stored, clock).parties.p2).toBeUndefined();
  });
});

describe('pool claims, whatever happens (property)', () => {
  type Op =
    | { kind: 'batch'; party: string; count: number; ttl: number }
    | { kind: 'claim'; eligible: string[]; threshold: number }
    | { kind: 'skip' }
    | { kind: 'time'; ms: number };
  const party = fc.constantFrom('p1', 'p2', 'p3', 'p4');
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('batch' as const), party, count: fc.integer({ min: 1, max: 6 }), ttl: fc.integer({ min: 1, max: 4 * HOUR }) }),
    fc.record({ kind: fc.constant('claim' as const), eligible: fc.uniqueArray(party, { minLength: 1, maxLength: 4 }), threshold: fc.integer({ min: 1, max: 4 }) }),
    fc.constant({ kind: 'skip' as const }),
    fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: HOUR }) }),
  );

  it('never claims an entry twice, nor one expired, used up or of a party not eligible; a claim is t distinct parties', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let now = NOW;
        let cursor: PoolCursor | undefined;
        let batches = 0;
        /** Every batch ever added: its size and expiry. */
        const made = new Map<string, { party: string; count: number; expires: number }>();
        const handedOut = new Set<string>();
        let lastPlan: PoolClaim[] = [];
        for (const o of ops) {
          const at: PoolClock = { now, marginMs: MARGIN };
          if (o.kind === 'time') now += o.ms;
          else if (o.kind === 'batch') {
            const batchId = `b${++batches}`;
            made.set(batchId, { party: o.party, count: o.count, expires: now + o.ttl });
            cursor = withBatch(cursor, key, o.party, ref(batchId, o.count, 0, now + o.ttl), at);
          } else if (o.kind === 'skip') {
            // The entries of the last plan, passed over again (a skip after a lost claim write).
            if (cursor !== undefined) cursor = passed(cursor, lastPlan);
          } else if (cursor !== undefined) {
            const plan = claimSigners(cursor, o.eligible, o.threshold, at);
            if (plan === undefined) continue;
            expect(new Set(plan.claims.map((c) => c.party)).size).toBe(o.threshold);
            for (const claim of plan.claims) {
              const batch = made.get(claim.batchId);
              expect(batch?.party).toBe(claim.party);
              expect(o.eligible).toContain(claim.party);
              expect(claim.index).toBeLessThan(batch?.count ?? 0);
              expect(batch?.expires ?? 0).toBeGreaterThan(now + MARGIN);
              const id = `${claim.batchId}#${claim.index}`;
              expect(handedOut.has(id)).toBe(false);
              handedOut.add(id);
            }
            lastPlan = plan.claims;
            cursor = plan.cursor;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
