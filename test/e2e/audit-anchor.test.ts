/**
 * A party's audit chain lives in its own table, so whoever can write that table can edit a
 * record and re-chain everything after it. Each party's signed protocol messages carry its
 * chain head, and the coordinator keeps the newest one: `audit verify` checks the chain
 * against the head the party signed, and so detects the rewrite. The coordinator keeps the
 * head under its own sort key; a release before kept it (in a stricter form) under another,
 * which a rolled-back release goes on advancing: the newer of the two is the anchor.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LocalCluster, readPinnedDirectory } from '../../lib/dev/cluster.js';
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import { runAuditVerify, verifyPartyAudit } from '../../lib/cli/audit.js';
import type { ItemBackend } from '../../lib/ports/store.js';
import { anchorKey, anchorRecord, legacyAnchorKey, StoredAnchor } from '../../lib/protocol/audit-anchors.js';
import { AuditRecord, auditKeys, auditRecordHash } from '../../lib/protocol/audit.js';
import { resign } from '../support/harness.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Keygen and three signatures, then the cluster is closed: p2's chain has 4 records. */
async function dataDirAfterRun(): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-anchor-'));
  dirs.push(dataDir);
  await inCluster(dataDir, async (client) => {
    await client.keygen({ keyId: 'k1', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    // Three signatures, so that p2 signs in at least one and so sends a later head.
    await signMore(client, 3);
  });
  return dataDir;
}

type Client = ReturnType<LocalCluster['client']>;

async function inCluster(dataDir: string, work: (client: Client) => Promise<void>): Promise<void> {
  const cluster = await LocalCluster.open({ dataDir, parties: 3 });
  try {
    cluster.serve();
    await work(cluster.client());
  } finally {
    await cluster.close();
  }
}

async function signMore(client: Client, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await client.sign({ keyId: 'k1', message: new TextEncoder().encode(`m${i}-${Math.random()}`) });
}

async function withStore<T>(path: string, work: (backend: ItemBackend) => Promise<T>): Promise<T> {
  const backend = await SqliteItemBackend.open(path);
  try {
    return await work(backend);
  } finally {
    backend.close();
  }
}

const partyStore = (dataDir: string, party: string) => join(dataDir, 'parties', party, 'store.sqlite');
const coordinatorStore = (dataDir: string) => join(dataDir, 'coordinator', 'store.sqlite');

/** What a table writer can do: edit record `seq`, recompute every later hash and the head. */
async function rewriteChain(backend: ItemBackend, seq: number, change: Partial<AuditRecord>): Promise<void> {
  const items = await backend.query('audit', 'rec#');
  let prev: string | undefined;
  for (const item of items) {
    const record = AuditRecord.parse(item.data);
    if (record.seq < seq) {
      prev = record.hash;
      continue;
    }
    const { hash: _old, ...rest } = { ...record, ...(record.seq === seq ? change : {}), ...(prev !== undefined ? { prev } : {}) };
    const rewritten = { ...rest, hash: auditRecordHash(rest) };
    prev = rewritten.hash;
    await backend.write([{ op: 'put', item: { ...item, data: rewritten }, condition: { kind: 'none' } }], 0);
  }
  const head = await backend.get(auditKeys.head());
  if (head === undefined || prev === undefined) throw new Error('no chain to rewrite');
  await backend.write([{ op: 'put', item: { ...head, data: { seq: items.length, hash: prev } }, condition: { kind: 'none' } }], 0);
}

async function anchorSource(dataDir: string, party: string) {
  const partyKey = (await readPinnedDirectory(dataDir))?.parties[party];
  if (partyKey === undefined) throw new Error(`no pinned key for ${party}`);
  return partyKey;
}

describe('audit anchors', () => {
  test('the coordinator holds each party\'s signed head, and an intact chain verifies against it', async () => {
    const dataDir = await dataDirAfterRun();
    const anchor = await withStore(coordinatorStore(dataDir), async (store) => {
      // Only under this release's key: nothing at the earlier release's (never written again).
      expect(await store.get(legacyAnchorKey('p2'))).toBeUndefined();
      return anchorRecord(StoredAnchor.parse((await store.get(anchorKey('p2')))?.data));
    });
    expect(anchor.seq).toBeGreaterThanOrEqual(1);
    expect(await runAuditVerify({ dataDir, party: 'p2', json: true })).toBe(true);
  });

  test('editing a record and re-chaining passes the hash chain alone, but not the signed anchor', async () => {
    const dataDir = await dataDirAfterRun();
    await withStore(partyStore(dataDir, 'p2'), async (backend) => {
      await rewriteChain(backend, 1, { initiator: 'someone-else' });
      // The rewrite is internally consistent: the chain on its own cannot tell.
      expect(await verifyPartyAudit(backend, 'p2')).toMatchObject({ ok: true });
    });
    expect(await runAuditVerify({ dataDir, party: 'p2', json: true })).toBe(false);
    const partyKey = await anchorSource(dataDir, 'p2');
    const verdict = await withStore(partyStore(dataDir, 'p2'), (backend) =>
      withStore(coordinatorStore(dataDir), (store) => verifyPartyAudit(backend, 'p2', { coordinatorStore: store, partyKey })),
    );
    expect(verdict).toMatchObject({ ok: false, anchor: 'verified', reason: expect.stringContaining('rewritten') });
  });

  test('rolling the chain back (newest records and head removed consistently) is detected', async () => {
    const dataDir = await dataDirAfterRun();
    await withStore(partyStore(dataDir, 'p2'), async (backend) => {
      const items = await backend.query('audit', 'rec#');
      const last = items.at(-1);
      const before = items.at(-2);
      const head = await backend.get(auditKeys.head());
      if (last === undefined || before === undefined || head === undefined) throw new Error('chain too short');
      const previous = AuditRecord.parse(before.data);
      await backend.write(
        [
          { op: 'delete', key: last, condition: { kind: 'none' } },
          { op: 'put', item: { ...head, data: { seq: previous.seq, hash: previous.hash } }, condition: { kind: 'none' } },
        ],
        0,
      );
      expect(await verifyPartyAudit(backend, 'p2')).toMatchObject({ ok: true });
    });
    expect(await runAuditVerify({ dataDir, party: 'p2', json: true })).toBe(false);
  });

  test('an anchor the coordinator forged (re-signed with its own key) is ignored, never held against the party', async () => {
    const dataDir = await dataDirAfterRun();
    const coordinatorVault = await (await import('../../lib/adapters/local/file-key-vault.js')).FileKeyVault.open(join(dataDir, 'coordinator', 'vault'));
    await withStore(coordinatorStore(dataDir), async (store) => {
      const item = await store.get(anchorKey('p2'));
      const anchor = anchorRecord(StoredAnchor.parse(item?.data));
      if (item === undefined) throw new Error('no anchor');
      const forgedBody = { ...(anchor.envelope.body as Record<string, unknown>), audit: { seq: anchor.seq, hash: 'ab'.repeat(32) } };
      const envelope = JSON.parse(await resign(coordinatorVault, anchor.envelope, { body: forgedBody }));
      await store.write([{ op: 'put', item: { ...item, data: { envelope } }, condition: { kind: 'none' } }], 0);
    });
    const partyKey = await anchorSource(dataDir, 'p2');
    const verdict = await withStore(partyStore(dataDir, 'p2'), (backend) =>
      withStore(coordinatorStore(dataDir), (store) => verifyPartyAudit(backend, 'p2', { coordinatorStore: store, partyKey })),
    );
    expect(verdict).toMatchObject({ ok: true, anchor: 'invalid' });
  });
  test('after a rollback window (the previous release advanced its own item past this release\'s), audit verify checks against the newer one', async () => {
    const dataDir = await dataDirAfterRun();
    const earlier = await withStore(coordinatorStore(dataDir), async (store) => store.get(anchorKey('p2')));
    if (earlier === undefined) throw new Error('no anchor');
    // More signatures: p2's head moves on (this release's item with it).
    await inCluster(dataDir, (client) => signMore(client, 4));
    const newest = await withStore(coordinatorStore(dataDir), async (store) => {
      const item = await store.get(anchorKey('p2'));
      const record = anchorRecord(StoredAnchor.parse(item?.data));
      // As if the previous release had kept that head, in its own form under its own key, while this release's item stayed behind.
      const { party, seq, hash, envelope } = record;
      await store.write([{ op: 'put', item: { ...legacyAnchorKey('p2'), data: { party, seq, hash, envelope }, version: 3 }, condition: { kind: 'absent' } }], 0);
      await store.write([{ op: 'put', item: earlier, condition: { kind: 'none' } }], 0);
      return record;
    });
    const earlierSeq = anchorRecord(StoredAnchor.parse(earlier.data)).seq;
    expect(newest.seq).toBeGreaterThan(earlierSeq);
    const partyKey = await anchorSource(dataDir, 'p2');
    const verify = () =>
      withStore(partyStore(dataDir, 'p2'), (backend) => withStore(coordinatorStore(dataDir), (store) => verifyPartyAudit(backend, 'p2', { coordinatorStore: store, partyKey })));
    expect(await verify()).toMatchObject({ ok: true, anchor: 'verified', anchoredAt: newest.seq });
    // A rewrite of the newest anchored record: only the earlier release's (newer) item can tell.
    await withStore(partyStore(dataDir, 'p2'), (backend) => rewriteChain(backend, newest.seq, { initiator: 'someone-else' }));
    expect(await verify()).toMatchObject({ ok: false, anchor: 'verified', brokenAt: newest.seq, reason: expect.stringContaining('rewritten') });
  });
});
