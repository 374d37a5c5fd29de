/**
 * The restore purge on a hand-built table: exactly the unused nonces (two-round and pool),
 * DKG round states and refresh/reshare states go, whatever their age; every other kind of item stays; a second run finds nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import type { ItemKey, StoredItem } from '../../../lib/ports/store.js';
import { auditKeys } from '../../../lib/protocol/audit.js';
import { partyKeys } from '../../../lib/protocol/party-state.js';
import { purgeVolatileState, VOLATILE_ITEM_KINDS } from '../../../lib/protocol/purge.js';
import { seenKey } from '../../../lib/protocol/replay-guard.js';

const NOW = 1_800_000_000;
const open: SqliteItemBackend[] = [];
afterEach(() => {
  for (const store of open.splice(0)) store.close();
});

async function storeWith(items: readonly { key: ItemKey; data?: Record<string, unknown>; expiresAt?: number }[]): Promise<SqliteItemBackend> {
  const store = await SqliteItemBackend.open(':memory:');
  open.push(store);
  await store.write(
    items.map(({ key, data, expiresAt }) => ({ op: 'put', item: { ...key, data: data ?? {}, version: 1, expiresAt }, condition: { kind: 'none' } })),
    NOW,
  );
  return store;
}

const keysOf = (items: readonly StoredItem[]) => items.map((i) => `${i.pk}/${i.sk}`).sort();

describe('purgeVolatileState', () => {
  it('names the item keys the party writes (kept in step with partyKeys)', () => {
    const byKind = Object.fromEntries(VOLATILE_ITEM_KINDS.map((k) => [k.kind, k]));
    const nonce = partyKeys.nonce('s', 1);
    const dkg = partyKeys.dkgState('s');
    expect(nonce.pk.startsWith(byKind.nonce?.pkPrefix ?? '?')).toBe(true);
    expect(nonce.sk).toBe(byKind.nonce?.sk);
    expect(dkg.pk.startsWith(byKind.dkgState?.pkPrefix ?? '?')).toBe(true);
    expect(dkg.sk).toBe(byKind.dkgState?.sk);
    const reshare = partyKeys.reshareState('s');
    expect(reshare.pk.startsWith(byKind.reshareState?.pkPrefix ?? '?')).toBe(true);
    expect(reshare.sk).toBe(byKind.reshareState?.sk);
    // The reshare lock lives under the key's partition and is not state to purge.
    expect(partyKeys.reshareLock('k').pk.startsWith(byKind.reshareState?.pkPrefix ?? '?')).toBe(false);
    // The spent-nonce marker shares the nonce's partition but is not purged.
    expect(partyKeys.consumed('s', 1).sk).not.toBe(byKind.nonce?.sk);
    // Pool nonces: every sort key that starts `nonce#` in a key's pool partition (unused, or spent: told apart by the data); not its batches.
    const pool = byKind.poolNonce;
    expect(pool?.skPrefix).toBe(true);
    expect(partyKeys.poolNonce('k', 'ab', 3).pk.startsWith(pool?.pkPrefix ?? '?')).toBe(true);
    expect(partyKeys.poolNonce('k', 'ab', 3).sk.startsWith(pool?.sk ?? '?')).toBe(true);
    expect(pool?.keeps?.({ state: 'spent' })).toBe(true);
    for (const data of [{ state: 'unused' }, {}, { state: 'SPENT' }, { state: ['spent'] }]) expect(pool?.keeps?.(data)).toBe(false);
    expect(partyKeys.poolBatch('k', 'ab').sk.startsWith(pool?.sk ?? '?')).toBe(false);
  });

  it('deletes unused nonces (live and expired), DKG round states and reshare states, and keeps every other item', async () => {
    const kept = [
      { key: partyKeys.keyShare('k1') },
      { key: partyKeys.consumed('s1', 1) },
      { key: auditKeys.head() },
      { key: auditKeys.record(1) },
      { key: seenKey('m1'), expiresAt: NOW + 60 },
      { key: { pk: 'rate#cli#1', sk: 'window' } },
      // Another kind under the same DKG prefix (e.g. a round marker) is not round state.
      { key: { pk: 'dkg#s4', sk: 'round1' } },
      // A pool's spent nonces (what each was spent on, in the nonce's own item) and published batches stay (only its unused nonces are purged).
      { key: partyKeys.poolNonce('k1', 'b1', 0), data: { state: 'spent', keyId: 'k1' } },
      { key: partyKeys.poolBatch('k1', 'b1') },
    ];
    const store = await storeWith([
      ...kept,
      { key: partyKeys.nonce('s1', 2), data: { keyId: 'k1' }, expiresAt: NOW + 600 },
      { key: partyKeys.nonce('s2', 1), data: { keyId: 'k1' }, expiresAt: NOW - 5 },
      { key: partyKeys.dkgState('s4'), data: { keyId: 'k2' }, expiresAt: NOW + 3600 },
      { key: partyKeys.reshareState('s5'), data: { keyId: 'k1' }, expiresAt: NOW + 3600 },
      { key: partyKeys.poolNonce('k1', 'b1', 1), data: { state: 'unused', keyId: 'k1' }, expiresAt: NOW + 3600 },
      // Stored before the unused state was written (no `state`): unused too.
      { key: partyKeys.poolNonce('k1', 'b1', 2), data: { keyId: 'k1' }, expiresAt: NOW + 3600 },
    ]);
    const progress: [number, number][] = [];
    const report = await purgeVolatileState(store, { nowSeconds: NOW, batchSize: 2, onProgress: (d, t) => progress.push([d, t]) });

    expect(report.counts).toEqual({ nonce: 2, poolNonce: 2, dkgState: 1, reshareState: 1 });
    expect(report.purged).toEqual([
      { kind: 'nonce', pk: 'nonce#s1#2', sk: 'nonce', keyId: 'k1', expired: false },
      { kind: 'nonce', pk: 'nonce#s2#1', sk: 'nonce', keyId: 'k1', expired: true },
      { kind: 'poolNonce', pk: 'pool#k1', sk: 'nonce#b1#1', keyId: 'k1', expired: false },
      { kind: 'poolNonce', pk: 'pool#k1', sk: 'nonce#b1#2', keyId: 'k1', expired: false },
      { kind: 'dkgState', pk: 'dkg#s4', sk: 'state', keyId: 'k2', expired: false },
      { kind: 'reshareState', pk: 'reshare#s5', sk: 'state', keyId: 'k1', expired: false },
    ]);
    expect(progress).toEqual([
      [2, 6],
      [4, 6],
      [6, 6],
    ]);
    expect(keysOf(await store.scanPrefix(''))).toEqual(keysOf(kept.map(({ key }) => ({ ...key, data: {}, version: 1 }))));

    // Idempotent: nothing left to purge, nothing else touched.
    const again = await purgeVolatileState(store, { nowSeconds: NOW });
    expect(again).toEqual({ purged: [], counts: { nonce: 0, poolNonce: 0, dkgState: 0, reshareState: 0 } });
    expect(await store.scanPrefix('')).toHaveLength(kept.length);
  });

  it('reports a key id only when it is a well-formed name', async () => {
    const store = await storeWith([{ key: partyKeys.nonce('s1', 1), data: { keyId: '\u001b[2Jevil' } }]);
    const report = await purgeVolatileState(store, { nowSeconds: NOW });
    expect(report.purged).toEqual([{ kind: 'nonce', pk: 'nonce#s1#1', sk: 'nonce', expired: false }]);
  });
});
