/**
 * fsync policy of the embedded stores. A party marks a nonce consumed before it releases a
 * share: that commit must survive a power loss (synchronous = FULL), or a restarted party
 * could sign twice with one nonce. Only the coordinator's store, which holds no secret and
 * no safety-relevant state, may skip the per-commit fsync (NORMAL, WAL only).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importNative } from '../../../lib/adapters/local/sqlite-engine.js';
import { openNative } from '../../../lib/adapters/local/sqlite-native.js';
import type { SqlConnection } from '../../../lib/adapters/local/sqlite-connection.js';
import { storeSynchronous } from '../../../lib/dev/node-worker-protocol.js';

const FULL = 2;
const NORMAL = 1;
const opened: SqlConnection[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const connection of opened.splice(0)) connection.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function synchronousOf(synchronous?: 'full' | 'normal', memory = false): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'frostline-sync-'));
  dirs.push(dir);
  const connection = openNative(await importNative(), memory ? ':memory:' : join(dir, 'store.sqlite'), synchronous);
  opened.push(connection);
  return connection.rows('PRAGMA synchronous', [])[0]?.[0];
}

describe('store fsync policy', () => {
  it('a store fsyncs every commit unless told otherwise', async () => {
    expect(await synchronousOf()).toBe(FULL);
    expect(await synchronousOf('full')).toBe(FULL);
  });

  it('NORMAL only on a WAL file, never on an in-memory (rollback-journal) database', async () => {
    expect(await synchronousOf('normal')).toBe(NORMAL);
    expect(await synchronousOf('normal', true)).toBe(FULL);
  });

  it("the local cluster gives every party's store FULL and only the coordinator's NORMAL", () => {
    expect(storeSynchronous('party')).toBe('full');
    expect(storeSynchronous('coordinator')).toBe('normal');
  });
});
