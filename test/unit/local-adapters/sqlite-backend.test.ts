import { mkdtemp, rm, stat, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import { ConditionFailedError, InfrastructureError } from '../../../lib/ports/errors.js';
import type { ItemBackend, StoredItem, WriteOperation } from '../../../lib/ports/store.js';
import { JournaledMemoryBackend } from '../../fuzz/memory-backend.js';

// The same contract for both engines: the native default and the sql.js fallback.
const ENGINES = ['better-sqlite3', 'sql.js'] as const;

const NOW = 1_000_000;

function item(pk: string, sk: string, version = 1, extra: Partial<StoredItem> = {}): StoredItem {
  return { pk, sk, data: { value: `${pk}/${sk}` }, version, ...extra };
}

function put(i: StoredItem, condition: WriteOperation['condition'] = { kind: 'none' }): WriteOperation {
  return { op: 'put', item: i, condition };
}

/**
 * The store contract every ItemBackend in the project keeps: conditional writes, all or
 * nothing, TTL, queries. Run on both SQLite engines and on the fuzzer's in-memory backend,
 * whose verdicts ("refused input changed nothing") are only as good as its fidelity.
 */
function storeContract(open: () => Promise<ItemBackend>) {
  let store: ItemBackend;
  beforeEach(async () => {
    store = await open();
  });

  it('round-trips an item, data parsed and expiresAt undefined when not set', async () => {
    await store.write([put({ pk: 'a', sk: '1', data: { n: 1, nested: { s: 'x' } }, version: 3 })], NOW);
    const got = await store.get({ pk: 'a', sk: '1' });
    expect(got).toEqual({ pk: 'a', sk: '1', data: { n: 1, nested: { s: 'x' } }, version: 3, expiresAt: undefined });
    expect(await store.get({ pk: 'a', sk: '2' })).toBeUndefined();
  });

  it('absent: refuses a second create of a live item, naming the pk', async () => {
    await store.write([put(item('nonce#s1', 'x'), { kind: 'absent' })], NOW);
    const second = store.write([put(item('nonce#s1', 'x', 2), { kind: 'absent' })], NOW);
    await expect(second).rejects.toBeInstanceOf(ConditionFailedError);
    await expect(second).rejects.toThrow(/nonce#s1/);
    expect((await store.get({ pk: 'nonce#s1', sk: 'x' }))?.version).toBe(1);
  });

  it('absent: an expired item counts as absent and is overwritten', async () => {
    await store.write([put(item('a', 'x', 1, { expiresAt: NOW - 1 }))], NOW);
    await store.write([put(item('a', 'x', 7), { kind: 'absent' })], NOW);
    expect(await store.get({ pk: 'a', sk: 'x' })).toMatchObject({ version: 7, expiresAt: undefined });
  });

  it('an item expiring exactly now is expired', async () => {
    await store.write([put(item('a', 'x', 1, { expiresAt: NOW }))], NOW);
    await expect(store.write([put(item('a', 'x', 2), { kind: 'exists' })], NOW)).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
  });

  it('exists: fails for a missing or expired item, succeeds for a live one', async () => {
    await expect(
      store.write([{ op: 'delete', key: { pk: 'a', sk: 'x' }, condition: { kind: 'exists' } }], NOW),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    await store.write([put(item('a', 'x', 1, { expiresAt: NOW + 10 }))], NOW);
    await expect(
      store.write([{ op: 'delete', key: { pk: 'a', sk: 'x' }, condition: { kind: 'exists' } }], NOW + 10),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    await store.write([{ op: 'delete', key: { pk: 'a', sk: 'x' }, condition: { kind: 'exists' } }], NOW);
    expect(await store.get({ pk: 'a', sk: 'x' })).toBeUndefined();
  });

  it('version: only the expected version may be replaced', async () => {
    await store.write([put(item('a', 'x', 1))], NOW);
    await expect(store.write([put(item('a', 'x', 3), { kind: 'version', version: 2 })], NOW)).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
    await store.write([put(item('a', 'x', 2), { kind: 'version', version: 1 })], NOW);
    expect((await store.get({ pk: 'a', sk: 'x' }))?.version).toBe(2);
  });

  it('a transaction is all or nothing: one failed condition leaves every item untouched', async () => {
    await store.write([put(item('a', '1')), put(item('b', '1'))], NOW);
    const ops: WriteOperation[] = [
      put(item('c', '1'), { kind: 'absent' }),
      { op: 'delete', key: { pk: 'a', sk: '1' }, condition: { kind: 'version', version: 1 } },
      put(item('b', '1', 5), { kind: 'absent' }), // fails: b exists
    ];
    await expect(store.write(ops, NOW)).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await store.get({ pk: 'c', sk: '1' })).toBeUndefined();
    expect(await store.get({ pk: 'a', sk: '1' })).toBeDefined();
    expect((await store.get({ pk: 'b', sk: '1' }))?.version).toBe(1);

    // ...and the same batch without the failing op applies every operation.
    await store.write(ops.slice(0, 2), NOW);
    expect(await store.get({ pk: 'c', sk: '1' })).toBeDefined();
    expect(await store.get({ pk: 'a', sk: '1' })).toBeUndefined();
  });

  it('refuses one write touching the same item twice, as DynamoDB does', async () => {
    await expect(store.write([put(item('a', '1')), put(item('a', '1', 2))], NOW)).rejects.toThrow(/more than once/);
    expect(await store.get({ pk: 'a', sk: '1' })).toBeUndefined();
  });

  it('query and scanPrefix match prefixes literally (no LIKE wildcards) in key order', async () => {
    await store.write(
      [
        put(item('p', 'b2')),
        put(item('p', 'a1')),
        put(item('p', 'a%')),
        put(item('p', 'ab')),
        put(item('q', 'a1')),
        put(item('k_1', 'x')),
        put(item('kx1', 'x')),
        put(item('k%', 'x')),
      ],
      NOW,
    );
    expect((await store.query('p')).map((i) => i.sk)).toEqual(['a%', 'a1', 'ab', 'b2']);
    expect((await store.query('p', 'a')).map((i) => i.sk)).toEqual(['a%', 'a1', 'ab']);
    expect((await store.query('p', 'a%')).map((i) => i.sk)).toEqual(['a%']);
    expect((await store.scanPrefix('k_')).map((i) => i.pk)).toEqual(['k_1']);
    expect((await store.scanPrefix('k%')).map((i) => i.pk)).toEqual(['k%']);
    expect((await store.scanPrefix('k')).map((i) => i.pk)).toEqual(['k%', 'k_1', 'kx1']);
  });
}

describe.each(ENGINES)('SqliteItemBackend on %s (in memory)', (engine) => {
  let store: SqliteItemBackend;
  beforeEach(async () => {
    store = await SqliteItemBackend.open(':memory:', { engine });
  });
  afterEach(() => store.close());

  it('runs on the engine asked for', () => {
    expect(store.engine).toBe(engine);
  });

  it('refuses to use a closed store', async () => {
    store.close();
    await expect(store.get({ pk: 'a', sk: '1' })).rejects.toBeInstanceOf(InfrastructureError);
  });
});

describe.each(ENGINES)('the store contract on SqliteItemBackend (%s)', (engine) => {
  const opened: SqliteItemBackend[] = [];
  afterEach(() => {
    for (const store of opened.splice(0)) store.close();
  });
  storeContract(async () => {
    const store = await SqliteItemBackend.open(':memory:', { engine });
    opened.push(store);
    return store;
  });
});

describe("the store contract on the fuzzer's journaled memory backend", () => {
  storeContract(() => Promise.resolve(new JournaledMemoryBackend([])));
});

describe.each(ENGINES)('SqliteItemBackend on %s (file)', (engine) => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frostline-sqlite-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persists committed writes across reopen, in a 0600 file', async () => {
    const path = join(dir, 'party.db');
    const first = await SqliteItemBackend.open(path, { engine });
    await first.write([put(item('a', '1', 1, { expiresAt: NOW + 60 })), put(item('b', '1'))], NOW);
    await expect(first.write([put(item('a', '1', 2), { kind: 'absent' })], NOW)).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
    first.close();

    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await SqliteItemBackend.open(path, { engine });
    try {
      expect(await second.get({ pk: 'a', sk: '1' })).toEqual({
        pk: 'a',
        sk: '1',
        data: { value: 'a/1' },
        version: 1,
        expiresAt: NOW + 60,
      });
      expect((await second.scanPrefix('')).map((i) => i.pk)).toEqual(['a', 'b']);
    } finally {
      second.close();
    }
  });

  it('a write is on disk before it resolves (no close needed)', async () => {
    const path = join(dir, 'x.db');
    const writer = await SqliteItemBackend.open(path, { engine });
    await writer.write([put(item('a', '1'))], NOW);
    const reader = await SqliteItemBackend.open(path, { engine });
    expect(await reader.get({ pk: 'a', sk: '1' })).toBeDefined();
    writer.close();
    reader.close();
  });

  it('fails clearly when the parent directory is missing', async () => {
    const open = SqliteItemBackend.open(join(dir, 'missing', 'party.db'), { engine });
    await expect(open).rejects.toBeInstanceOf(InfrastructureError);
    await expect(open).rejects.toThrow(/sqlite:open.*create it first/);
  });

  it('refuses a file that is not a SQLite database', async () => {
    const path = join(dir, 'junk.db');
    await mkdir(dir, { recursive: true });
    await writeFile(path, 'this is not sqlite, just some text that is long enough to have a header..........');
    await expect(SqliteItemBackend.open(path, { engine })).rejects.toThrow(/not a usable SQLite database/);
  });
});
