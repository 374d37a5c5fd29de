/**
 * The embedded store, per engine (native better-sqlite3, the sql.js fallback): how many
 * writes one signature makes, the share of signing time spent inside them, and the cost of
 * one write in a small store and in one already holding `FROSTLINE_BENCH_STORE_PRIOR`
 * (default 1,000) items — the number that grew with the database under sql.js.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteItemBackend, type StoreEngine } from '../lib/adapters/local/sqlite-backend.js';
import { LocalCluster } from '../lib/dev/cluster.js';
import { utf8ToBytes } from '../lib/protocol/encoding.js';
import type { WriteOperation } from '../lib/ports/store.js';

export interface StoreRow {
  engine: StoreEngine;
  writesPerSign: number;
  /** Wall time inside store writes (fsync waits included) over signing time. */
  storeShareOfSign: string;
  /** CPU time inside store writes over the process's CPU time while signing. */
  storeCpuShareOfSign: string;
  signMedianMs: number;
  msPerWriteSmall: number;
  msPerWriteLarge: number;
  kibPerWriteSmall: number;
  kibPerWriteLarge: number;
}

const ENGINES: readonly StoreEngine[] = ['better-sqlite3', 'sql.js'];
const SIGNATURES = Number(process.env.FROSTLINE_BENCH_SIGNATURES ?? 5);
const PRIOR = Number(process.env.FROSTLINE_BENCH_STORE_PRIOR ?? 1_000);
const WRITES = 40;
const NOW = 1_000_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Counts and times every store write in the process (write() runs synchronously to its end). */
function instrumentWrites(): { counts: { writes: number; ms: number; cpuMicros: number }; restore: () => void } {
  const counts = { writes: 0, ms: 0, cpuMicros: 0 };
  const original = SqliteItemBackend.prototype.write;
  SqliteItemBackend.prototype.write = function (this: SqliteItemBackend, ...args: Parameters<typeof original>) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const done = original.apply(this, args);
    const used = process.cpuUsage(cpu);
    counts.ms += performance.now() - started;
    counts.cpuMicros += used.user + used.system;
    counts.writes++;
    return done;
  };
  return { counts, restore: () => (SqliteItemBackend.prototype.write = original) };
}

async function signing(engine: StoreEngine): Promise<Pick<StoreRow, 'writesPerSign' | 'storeShareOfSign' | 'storeCpuShareOfSign' | 'signMedianMs'>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-bench-store-'));
  const previous = process.env.FROSTLINE_STORE;
  process.env.FROSTLINE_STORE = engine;
  const cluster = await LocalCluster.open({ dataDir, parties: 3 });
  try {
    const keygen = await cluster.keygen({ keyId: 'bench', threshold: 2 });
    if (!keygen.ok) throw new Error(`keygen failed: ${keygen.error?.message}`);
    const { counts, restore } = instrumentWrites();
    const times: number[] = [];
    const cpuBefore = process.cpuUsage();
    let cpuMicros = 0;
    try {
      for (let i = 0; i < SIGNATURES; i++) {
        const started = performance.now();
        const signed = await cluster.sign({ keyId: 'bench', message: utf8ToBytes(`bench message ${i}`) });
        times.push(performance.now() - started);
        if (!signed.ok) throw new Error(`sign failed: ${signed.error?.message}`);
      }
      const cpu = process.cpuUsage(cpuBefore);
      cpuMicros = cpu.user + cpu.system;
    } finally {
      restore();
    }
    const total = times.reduce((a, b) => a + b, 0);
    return {
      writesPerSign: Math.round(counts.writes / SIGNATURES),
      storeShareOfSign: `${((100 * counts.ms) / total).toFixed(1)}%`,
      storeCpuShareOfSign: `${((100 * counts.cpuMicros) / cpuMicros).toFixed(1)}%`,
      signMedianMs: Math.round(median(times)),
    };
  } finally {
    await cluster.close();
    if (previous === undefined) delete process.env.FROSTLINE_STORE;
    else process.env.FROSTLINE_STORE = previous;
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function bytesOnDisk(path: string): Promise<number> {
  let total = 0;
  for (const file of [path, `${path}-wal`]) total += await stat(file).then((s) => s.size, () => 0);
  return total;
}

/** Median ms and KiB written for one small conditional put in a store holding `prior` items. */
async function oneWrite(engine: StoreEngine, prior: number): Promise<{ ms: number; kib: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'frostline-bench-store-'));
  const path = join(dir, 'store.sqlite');
  const item = (pk: string): WriteOperation => ({ op: 'put', item: { pk, sk: 'x', data: { filler: 'f'.repeat(400) }, version: 1 }, condition: { kind: 'absent' } });
  try {
    const store = await SqliteItemBackend.open(path, { engine });
    try {
      for (let i = 0; i < prior; i += 100) {
        await store.write(Array.from({ length: Math.min(100, prior - i) }, (_, j) => item(`prior#${i + j}`)), NOW);
      }
      const times: number[] = [];
      const bytes: number[] = [];
      for (let i = 0; i < WRITES; i++) {
        const before = await bytesOnDisk(path);
        const started = performance.now();
        await store.write([item(`nonce#${i}`)], NOW);
        times.push(performance.now() - started);
        // sql.js replaces the file: all of it was written. Native: what the file and log gained.
        bytes.push(engine === 'sql.js' ? await bytesOnDisk(path) : Math.max(0, (await bytesOnDisk(path)) - before));
      }
      return { ms: Number(median(times).toFixed(2)), kib: Number((median(bytes) / 1024).toFixed(1)) };
    } finally {
      store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchStore(): Promise<StoreRow[]> {
  const rows: StoreRow[] = [];
  for (const engine of ENGINES) {
    process.stderr.write(`measuring the store on ${engine} (${SIGNATURES} signatures; writes at 0 and ${PRIOR} prior items)...\n`);
    const sign = await signing(engine);
    const small = await oneWrite(engine, 0);
    const large = await oneWrite(engine, PRIOR);
    rows.push({ engine, ...sign, msPerWriteSmall: small.ms, msPerWriteLarge: large.ms, kibPerWriteSmall: small.kib, kibPerWriteLarge: large.kib });
  }
  console.table(rows);
  return rows;
}
