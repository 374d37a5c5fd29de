/**
 * The store's engines: native better-sqlite3 by default, sql.js as the fallback, one file
 * format for both; writes that cost what they change, not the size of the database; and
 * several processes on one party file with conditional writes still exclusive.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import { EngineSelector, engineChoice } from '../../../lib/adapters/local/sqlite-engine.js';
import { InfrastructureError } from '../../../lib/ports/errors.js';
import type { StoredItem, WriteOperation } from '../../../lib/ports/store.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const NOW = 1_000_000;

function put(pk: string, data: Record<string, unknown> = {}): WriteOperation {
  return { op: 'put', item: { pk, sk: 'x', data, version: 1 }, condition: { kind: 'absent' } };
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frostline-engines-'));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('choosing the engine', () => {
  it('is better-sqlite3 by default, sql.js when FROSTLINE_STORE=sqljs, and refuses other values', async () => {
    vi.stubEnv('FROSTLINE_STORE', '');
    const native = await SqliteItemBackend.open(':memory:');
    expect(native.engine).toBe('better-sqlite3');
    native.close();
    vi.stubEnv('FROSTLINE_STORE', 'sqljs');
    const fallback = await SqliteItemBackend.open(':memory:');
    expect(fallback.engine).toBe('sql.js');
    fallback.close();
    vi.stubEnv('FROSTLINE_STORE', 'postgres');
    await expect(SqliteItemBackend.open(':memory:')).rejects.toThrow(/FROSTLINE_STORE must be/);
  });

  it('falls back to sql.js when the native module does not load, saying why once', async () => {
    const warnings: string[] = [];
    let nativeAttempts = 0;
    const selector = new EngineSelector({
      native: () => {
        nativeAttempts++;
        return Promise.reject(new Error('Could not locate the bindings file.\n → more lines'));
      },
      wasm: () => Promise.resolve({} as never),
      warn: (line) => warnings.push(line),
    });
    expect((await selector.load('auto')).engine).toBe('sql.js');
    expect((await selector.load('auto')).engine).toBe('sql.js');
    expect(warnings).toEqual(['frostline: store: better-sqlite3 unavailable (Could not locate the bindings file.); using sql.js fallback, slower']);
    // Asked for the native engine explicitly, a failed load is an error, not a fallback.
    await expect(selector.load(engineChoice('better-sqlite3'))).rejects.toThrow(/better-sqlite3 unavailable.*forbids the sql.js fallback/);
    expect(nativeAttempts).toBe(3); // a failed load is retried, not cached
  });
});

describe('one file format', () => {
  it('a store written by the sql.js backend opens with better-sqlite3, and back', async () => {
    const path = join(dir, 'store.sqlite');
    const old = await SqliteItemBackend.open(path, { engine: 'sql.js' });
    await old.write([put('nonce#s1', { consumed: true }), { op: 'put', item: { pk: 'ttl', sk: 'x', data: {}, version: 4, expiresAt: NOW + 5 }, condition: { kind: 'none' } }], NOW);
    old.close();

    const native = await SqliteItemBackend.open(path, { engine: 'better-sqlite3' });
    expect(native.engine).toBe('better-sqlite3');
    expect(await native.get({ pk: 'nonce#s1', sk: 'x' })).toEqual({ pk: 'nonce#s1', sk: 'x', data: { consumed: true }, version: 1, expiresAt: undefined });
    expect(await native.get({ pk: 'ttl', sk: 'x' })).toMatchObject({ version: 4, expiresAt: NOW + 5 });
    // Conditions see the old rows: the consumed nonce stays consumed.
    await expect(native.write([put('nonce#s1')], NOW)).rejects.toThrow(/condition 'absent' failed/);
    await native.write([put('new')], NOW);
    native.close();

    const again = await SqliteItemBackend.open(path, { engine: 'sql.js' });
    expect((await again.scanPrefix('')).map((item) => item.pk)).toEqual(['new', 'nonce#s1', 'ttl']);
    again.close();
  });

  it('the sql.js fallback refuses a file whose write-ahead log holds commits it cannot see', async () => {
    const path = join(dir, 'store.sqlite');
    const native = await SqliteItemBackend.open(path, { engine: 'better-sqlite3' });
    await native.write([put('nonce#s1', { consumed: true })], NOW);
    // Still open: the commit is in store.sqlite-wal, not yet in store.sqlite.
    await expect(SqliteItemBackend.open(path, { engine: 'sql.js' })).rejects.toThrow(InfrastructureError);
    await expect(SqliteItemBackend.open(path, { engine: 'sql.js' })).rejects.toThrow(/unapplied write-ahead log/);
    native.close(); // the last connection checkpoints the log into the file
    const fallback = await SqliteItemBackend.open(path, { engine: 'sql.js' });
    expect(await fallback.get({ pk: 'nonce#s1', sk: 'x' })).toBeDefined();
    fallback.close();
  });
});

/**
 * What one small write puts on disk, in a store already holding `prior` items: the file's
 * inode before and after (a whole-file rewrite replaces it) and the bytes the write added
 * to the file and its write-ahead log.
 */
async function oneWrite(engine: 'better-sqlite3' | 'sql.js', prior: number): Promise<{ sameFile: boolean; bytesWritten: number; fileSize: number }> {
  const path = join(dir, `${engine}-${prior}.sqlite`);
  const filler = 'f'.repeat(400);
  const setup = await SqliteItemBackend.open(path, { engine });
  await setup.write(
    Array.from({ length: prior }, (_, i) => put(`item#${i}`, { filler })),
    NOW,
  );
  setup.close(); // native: checkpointed, the log is gone
  const store = await SqliteItemBackend.open(path, { engine });
  try {
    const before = await stat(path);
    const walBefore = await sizeOf(`${path}-wal`);
    await store.write([put('nonce#one', { consumed: true })], NOW);
    const after = await stat(path);
    const walAfter = await sizeOf(`${path}-wal`);
    const sameFile = before.ino === after.ino;
    // A replaced file was written whole; an updated one grew by what it gained.
    const fileBytes = sameFile ? Math.max(0, after.size - before.size) : after.size;
    return { sameFile, bytesWritten: fileBytes + Math.max(0, walAfter - walBefore), fileSize: after.size };
  } finally {
    store.close();
  }
}

describe('the cost of a write', () => {
  it('better-sqlite3 updates the file in place: a write adds a few pages whatever the size of the database', async () => {
    const small = await oneWrite('better-sqlite3', 0);
    const large = await oneWrite('better-sqlite3', 1_000);
    expect(large.fileSize).toBeGreaterThan(400_000);
    for (const run of [small, large]) {
      expect(run.sameFile).toBe(true);
      expect(run.bytesWritten).toBeLessThan(32 * 1024);
    }
  });

  it('the check sees a whole-file rewrite where there is one: sql.js replaces the file on every write', async () => {
    const large = await oneWrite('sql.js', 1_000);
    expect(large.sameFile).toBe(false);
    expect(large.bytesWritten).toBeGreaterThan(400_000);
  });
});

describe('several processes on one party file', () => {
  let buildDir: string;
  let writer: string;
  beforeAll(async () => {
    // Under the repository (git-ignored) so that better-sqlite3 resolves from its node_modules.
    buildDir = await mkdtemp(join(ROOT, '.frostline-test-store-'));
    writer = join(buildDir, 'store-writer.mjs');
    await build({
      entryPoints: [join(ROOT, 'test', 'support', 'store-writer.ts')],
      outfile: writer,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
  });
  afterAll(async () => {
    await rm(buildDir, { recursive: true, force: true });
  });

  interface Report {
    name: string;
    engine: string;
    won: number[];
    conflicts: number;
  }

  function runWriter(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; report: Report | undefined; stderr: string }> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [writer, ...args], {
        env: { ...process.env, FROSTLINE_STORE: 'better-sqlite3' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
        killSignal: 'SIGKILL',
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code, signal) => {
        const line = stdout.trim().split('\n')[0];
        resolvePromise({ code, signal, stderr, report: line === undefined || line === '' ? undefined : (JSON.parse(line) as Report) });
      });
    });
  }

  it('of two mutually exclusive writes exactly one commits, and no update is lost', async () => {
    const path = join(dir, 'store.sqlite');
    const claims = 40;
    const increments = 25;
    const startAt = String(Date.now() + 1_500);
    const runs = await Promise.all(['a', 'b'].map((name) => runWriter([path, name, String(claims), String(increments), startAt])));
    const reports = runs.map((run) => {
      expect(run.code, run.stderr).toBe(0);
      expect(run.report?.engine).toBe('better-sqlite3');
      return run.report as Report;
    });
    const [a, b] = reports;
    if (a === undefined || b === undefined) throw new Error('a writer reported nothing');
    // Every claim was won exactly once, and the stored owner is the one that was told it won.
    expect([...a.won, ...b.won].sort((x, y) => x - y)).toEqual(Array.from({ length: claims }, (_, i) => i));
    expect(a.won.filter((i) => b.won.includes(i))).toEqual([]);
    const store = await SqliteItemBackend.open(path, { engine: 'better-sqlite3' });
    try {
      for (const { name, won } of reports) {
        for (const i of won) expect((await store.get({ pk: `claim#${i}`, sk: 'x' }))?.data).toEqual({ owner: name });
      }
      const counter = (await store.get({ pk: 'counter', sk: 'x' })) as StoredItem;
      expect(counter.data).toEqual({ count: 2 * increments });
      expect(counter.version).toBe(2 * increments);
    } finally {
      store.close();
    }
  });

  it('a write that resolved survives the process being killed before it closes the store', async () => {
    const path = join(dir, 'store.sqlite');
    const run = await runWriter([path, 'k', '3', '2', String(Date.now()), '--crash']);
    expect(run.signal).toBe('SIGKILL');
    expect(run.report?.won).toEqual([0, 1, 2]);
    expect(await sizeOf(`${path}-wal`)).toBeGreaterThan(0); // killed: nothing checkpointed it
    const store = await SqliteItemBackend.open(path, { engine: 'better-sqlite3' });
    try {
      expect(await store.get({ pk: 'last#k', sk: 'x' })).toBeDefined();
      expect((await store.get({ pk: 'counter', sk: 'x' }))?.data).toEqual({ count: 2 });
    } finally {
      store.close();
    }
  });
});
