/**
 * Local throughput: signatures per second on a 2-of-3 embedded cluster served in the
 * background, with N requests kept in flight by N SDK callers (a closed loop: each caller
 * sends its next request when its last result arrives). Reports signatures/s and p50/p99
 * latency per level, and the process's CPU time per signature (every thread's: user +
 * system), after 100 unmeasured warm-up signatures (5 in flight). Every signature is
 * checked by the SDK (OpenSSL, pinned key). Each level runs in both thread modes: `single` (every node on the main thread) and `workers` (each party and
 * the coordinator on its own worker thread; see LocalClusterOptions.threads).
 *
 * Standalone: `node dist/bench/throughput.js` (levels from FROSTLINE_BENCH_INFLIGHT, e.g.
 * "1,10,100,1000"; modes from FROSTLINE_BENCH_THREADS, e.g. "workers"); `bench/run.ts`
 * calls `runThroughputBench()` after its latency table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalCluster } from '../lib/dev/cluster.js';
import { utf8ToBytes } from '../lib/protocol/encoding.js';
import { percentile } from '../lib/dev/percentile.js';

type Threads = 'single' | 'workers';

export interface ThroughputRow {
  config: string;
  threads: Threads;
  inFlight: number;
  signatures: number;
  seconds: number;
  signaturesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Process CPU time (all threads, user + system) per signature: compare with the wall time per signature × cores. */
  cpuMsPerSignature: number;
  deadLettered: number;
}

const DEFAULT_LEVELS = [1, 10, 100];
/** Signatures made (5 at once) before the first level is measured: every isolate compiles the curve code. */
const WARM_UP = 100;
const WARM_UP_IN_FLIGHT = 5;

/**
 * Enough signatures per level that the steady state dominates: three times the level (with
 * only as many signatures as in flight, all start together and finish together, and the
 * figure is one latency, not a rate), and at least 20.
 */
function signaturesFor(inFlight: number): number {
  return Math.max(20, inFlight * 3);
}

async function measureLevel(cluster: LocalCluster, threads: Threads, inFlight: number, level: number): Promise<ThroughputRow> {
  const client = cluster.client('cli', { timeoutMs: 1_800_000 });
  const total = signaturesFor(inFlight);
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const caller = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const sent = performance.now();
      const result = await client.sign({ keyId: 'bench', message: utf8ToBytes(`throughput ${level}/${i}`), requestId: `tp-${level}-${i}` });
      latencies.push(performance.now() - sent);
      if (result.duplicate) throw new Error(`request ${i} came back as a duplicate`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, caller));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  const deadLettered = [...cluster.inboxes.values()].reduce((sum, inbox) => sum + inbox.deadLetters.stats().visible, 0);
  return {
    config: '2-of-3',
    threads,
    inFlight,
    signatures: total,
    seconds: Number(seconds.toFixed(2)),
    signaturesPerSecond: Number((total / seconds).toFixed(2)),
    p50Ms: Math.round(percentile(latencies, 0.5)),
    p99Ms: Math.round(percentile(latencies, 0.99)),
    cpuMsPerSignature: Number(((cpu.user + cpu.system) / 1000 / total).toFixed(1)),
    deadLettered,
  };
}

export async function runThroughputBench(levels: readonly number[] = levelsFromEnv(), modes: readonly Threads[] = modesFromEnv()): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const threads of modes) rows.push(...(await benchMode(threads, levels)));
  console.table(rows);
  return rows;
}

async function benchMode(threads: Threads, levels: readonly number[]): Promise<ThroughputRow[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-throughput-'));
  const cluster = await LocalCluster.open({ dataDir, parties: 3, threads });
  const rows: ThroughputRow[] = [];
  try {
    cluster.serve();
    const keygen = await cluster.client('cli', { timeoutMs: 600_000 }).keygen({ keyId: 'bench', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    if (keygen.publicKey.length === 0) throw new Error('keygen returned no key');
    // Unmeasured warm-up: each worker thread is its own V8 isolate and compiles the curve
    // code for itself, which would otherwise be charged to the first levels of that mode.
    const warmUp = cluster.client('cli', { timeoutMs: 600_000 });
    let next = 0;
    const warmCaller = async () => {
      for (let i = next++; i < WARM_UP; i = next++) await warmUp.sign({ keyId: 'bench', message: utf8ToBytes(`warm-up ${i}`), requestId: `warm-${i}` });
    };
    await Promise.all(Array.from({ length: WARM_UP_IN_FLIGHT }, warmCaller));
    for (const [index, inFlight] of levels.entries()) {
      process.stderr.write(`throughput: 2-of-3, ${threads}, ${inFlight} in flight (${signaturesFor(inFlight)} signatures)...\n`);
      rows.push(await measureLevel(cluster, threads, inFlight, index));
    }
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return rows;
}

function modesFromEnv(): Threads[] {
  const raw = process.env.FROSTLINE_BENCH_THREADS;
  if (raw === undefined || raw.trim() === '') return ['single', 'workers'];
  const modes = raw.split(',').map((part) => part.trim());
  if (!modes.every((mode): mode is Threads => mode === 'single' || mode === 'workers')) throw new Error(`FROSTLINE_BENCH_THREADS must list single and/or workers, got "${raw}"`);
  return modes;
}

function levelsFromEnv(): number[] {
  const raw = process.env.FROSTLINE_BENCH_INFLIGHT;
  if (raw === undefined || raw.trim() === '') return DEFAULT_LEVELS;
  const levels = raw.split(',').map((part) => Number(part.trim()));
  if (levels.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error(`FROSTLINE_BENCH_INFLIGHT must list positive integers, got "${raw}"`);
  return levels;
}

// Run alone (`npm run bench:throughput`): the rows as one JSON line; `npm run bench` puts them in bench-results.json.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, throughput: await runThroughputBench() }));
}
