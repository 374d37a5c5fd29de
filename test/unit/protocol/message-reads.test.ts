/**
 * MessageReads (lib/protocol/message-reads.ts): each item read once per message, batch
 * reads where the backend has them, and nothing kept beyond one message or trusted over a
 * conditional write.
 */
import { describe, expect, it } from 'vitest';
import { ConditionFailedError } from '../../../lib/ports/errors.js';
import type { ItemBackend, ItemKey, StoredItem } from '../../../lib/ports/store.js';
import { MessageReads } from '../../../lib/protocol/message-reads.js';
import { partyPrefetch } from '../../../lib/protocol/party-prefetch.js';
import { coordinatorPrefetch, signingPrefetch } from '../../../lib/protocol/coordinator-prefetch.js';
import type { Envelope } from '../../../lib/protocol/messages.js';
import { JournaledMemoryBackend } from '../../fuzz/memory-backend.js';

const NOW = 1_000_000;
const key: ItemKey = { pk: 'key#k1', sk: 'share' };
const other: ItemKey = { pk: 'audit', sk: 'head' };
const item = (k: ItemKey, version: number, data: Record<string, unknown> = { v: version }): StoredItem => ({ ...k, data, version });

/** The memory backend, counting what reaches it; with `batch`, it has getMany as DynamoDB does. */
function counted(items: StoredItem[], batch: boolean) {
  const inner = new JournaledMemoryBackend(items);
  const calls = { get: 0, getMany: 0 };
  const backend: ItemBackend = {
    get: (k) => {
      calls.get++;
      return inner.get(k);
    },
    query: (pk, prefix) => inner.query(pk, prefix),
    scanPrefix: (prefix) => inner.scanPrefix(prefix),
    write: (ops, now) => inner.write(ops, now),
    ...(batch
      ? {
          getMany: async (keys: readonly ItemKey[]) => {
            calls.getMany++;
            return Promise.all(keys.map((k) => inner.get(k)));
          },
        }
      : {}),
  };
  return { inner, backend, calls };
}

describe('MessageReads', () => {
  it('reads an item once per message, and again in the next message (nothing survives a message)', async () => {
    const { backend, calls } = counted([item(key, 1)], false);
    const reads = new MessageReads(backend);
    await reads.run(async () => {
      expect((await reads.get(key))?.version).toBe(1);
      expect((await reads.get(key))?.version).toBe(1);
    });
    expect(calls.get).toBe(1);
    await reads.run(async () => {
      await reads.get(key);
    });
    expect(calls.get).toBe(2);
    // Outside a message nothing is remembered at all.
    await reads.get(key);
    await reads.get(key);
    expect(calls.get).toBe(4);
  });

  it('a read after its own write returns what the table stores, without a round trip', async () => {
    const { backend, calls, inner } = counted([item(key, 1)], false);
    const reads = new MessageReads(backend);
    await reads.run(async () => {
      await reads.get(key);
      await reads.write([{ op: 'put', item: { ...item(key, 2, { v: 2, gone: undefined }) }, condition: { kind: 'version', version: 1 } }], NOW);
      expect(await reads.get(key)).toEqual(await inner.get(key));
      await reads.write([{ op: 'delete', key, condition: { kind: 'none' } }], NOW);
      expect(await reads.get(key)).toBeUndefined();
    });
    expect(calls.get).toBe(1);
  });

  it('a failed conditional write forgets every read: the retry sees the concurrent writer', async () => {
    const { backend, inner } = counted([item(key, 1), item(other, 1)], false);
    const reads = new MessageReads(backend);
    await reads.run(async () => {
      const seen = await reads.get(key);
      await reads.get(other);
      // Another delivery wins meanwhile.
      await inner.write([{ op: 'put', item: item(key, 2), condition: { kind: 'version', version: 1 } }], NOW);
      await inner.write([{ op: 'put', item: item(other, 2), condition: { kind: 'version', version: 1 } }], NOW);
      expect((await reads.get(key))?.version).toBe(1); // still this message's first read...
      await expect(reads.write([{ op: 'put', item: item(key, 2), condition: { kind: 'version', version: seen?.version ?? 0 } }], NOW)).rejects.toBeInstanceOf(
        ConditionFailedError,
      );
      // ...until a write fails: then everything is read afresh, not only the item written.
      expect((await reads.get(key))?.version).toBe(2);
      expect((await reads.get(other))?.version).toBe(2);
    });
  });

  it('prefetch reads the items in one batch where the backend has one, and not at all where it has none', async () => {
    const batched = counted([item(key, 1), item(other, 1)], true);
    const reads = new MessageReads(batched.backend);
    await reads.run(async () => {
      await reads.prefetch([key, other, { pk: 'seen#x', sk: 'message' }]);
      expect((await reads.get(key))?.version).toBe(1);
      expect(await reads.get({ pk: 'seen#x', sk: 'message' })).toBeUndefined();
      await reads.get(other);
    });
    expect(batched.calls).toEqual({ get: 0, getMany: 1 });

    const plain = counted([item(key, 1)], false);
    const lazy = new MessageReads(plain.backend);
    await lazy.run(async () => {
      await lazy.prefetch([key, other]);
      expect(plain.calls.get).toBe(0);
    });
  });

  it('keygen steps read the key\'s shares, the session marker and round state, and the audit head in one batch', () => {
    const base = { v: 1, id: 'a'.repeat(32), session: 'b'.repeat(32), from: 'coordinator', to: 'p1', ts: 0, sig: '' };
    const step = (type: string) => partyPrefetch({ ...base, type, body: { request: { body: { keyId: 'k1' } } } } as unknown as Envelope).map((k) => `${k.pk}/${k.sk}`);
    const shares = ['key#k1/share', `key#k1/pending#${base.session}`];
    const round = [`dkg#${base.session}/session`, `dkg#${base.session}/state`, 'audit/head'];
    expect(step('dkg.start')).toEqual([`seen#${base.id}/message`, ...shares, ...round, `auditmark#keygen#${base.session}#approved/mark`]);
    expect(step('dkg.round3')).toEqual([`seen#${base.id}/message`, ...shares, ...round]);
    expect(step('dkg.confirm')).toEqual([`seen#${base.id}/message`, ...shares]);
  });

  it('prefetch hints never use a relayed key id or commitment that is not a plain name or hex', () => {
    const base = { v: 1, id: 'a'.repeat(32), session: 'b'.repeat(32), from: 'coordinator', to: 'p1', at: 0, sig: '' };
    const hostile = 'k1"; DROP'.padEnd(3000, 'x');
    const commit = { ...base, type: 'sign.commit', body: { attempt: 1, request: { body: { keyId: hostile } } } } as unknown as Envelope;
    expect(partyPrefetch(commit)).toEqual([{ pk: `seen#${base.id}`, sk: 'message' }]);
    const request = { ...base, type: 'sign.request', from: 'app', body: { keyId: hostile } } as unknown as Envelope;
    expect(coordinatorPrefetch(request, false).map((k) => k.pk)).toEqual([`seen#${base.id}`, `session#${base.session}`]);
    const commitment = { ...base, type: 'sign.commitment', from: 'p1', body: { commitment: { hiding: hostile } } } as unknown as Envelope;
    expect(signingPrefetch('k1', commitment)).toEqual([{ pk: 'key#k1', sk: 'public' }]);
    const batch = { ...base, type: 'pool.batch', from: 'p1', to: 'coordinator', body: { keyId: hostile } } as unknown as Envelope;
    expect(coordinatorPrefetch(batch, true, true).map((k) => k.pk)).toEqual(['anchor#p1', 'anchor#p1', `seen#${base.id}`]);
  });

  it('with pools on, a sign request also reads its key’s pool cursor; a pool batch reads its key, cursor and batch item instead of a session', () => {
    const base = { v: 1, id: 'a'.repeat(32), session: 'b'.repeat(32), to: 'coordinator', ts: 0, sig: '' };
    const request = { ...base, type: 'sign.request', from: 'app', body: { keyId: 'k1' } } as unknown as Envelope;
    const keys = (e: Envelope, fromParty: boolean, pools: boolean) => coordinatorPrefetch(e, fromParty, pools).map((k) => `${k.pk}/${k.sk}`);
    expect(keys(request, false, true)).toEqual([`seen#${base.id}/message`, `session#${base.session}/state`, 'key#k1/public', 'pool#k1/cursor']);
    expect(keys(request, false, false)).toEqual([`seen#${base.id}/message`, `session#${base.session}/state`, 'key#k1/public']);
    const batch = { ...base, type: 'pool.batch', from: 'p1', body: { keyId: 'k1' } } as unknown as Envelope;
    expect(keys(batch, true, true)).toEqual(['anchor#p1/head', 'anchor#p1/audit', `seen#${base.id}/message`, 'key#k1/public', 'pool#k1/cursor', `pool#k1/batch#p1#${base.session}`]);
  });

  it('a party message reads both of its sender’s anchor items (this release’s and an earlier release’s) in the same batch as its session', () => {
    const base = { v: 1, id: 'a'.repeat(32), session: 'b'.repeat(32), to: 'coordinator', ts: 0, sig: '' };
    const share = { ...base, type: 'sign.share', from: 'p2', body: {} } as unknown as Envelope;
    const read = coordinatorPrefetch(share, true).map((k) => `${k.pk}/${k.sk}`);
    expect(read.slice(0, 2)).toEqual(['anchor#p2/head', 'anchor#p2/audit']);
    expect(read).toContain(`session#${base.session}/state`);
  });
});
