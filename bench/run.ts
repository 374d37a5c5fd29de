/**
 * `npm run bench`: keygen and signing latency, messages and memory on the embedded cluster
 * for several sizes. Machines are shared and noisy: read the ratios (e.g. 7-of-10 vs 2-of-3,
 * sign vs keygen) within one run, not absolute numbers across runs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../lib/dev/cluster.js';
import { measureBundles } from './bundles.js';
import { utf8ToBytes } from '../lib/protocol/encoding.js';
import { benchStore } from './store.js';
import { benchPoints } from './points.js';
import { runThroughputBench } from './throughput.js';
import { benchSuites } from './suites.js';
import { benchLifecycle } from './lifecycle.js';
import { percentile } from '../lib/dev/percentile.js';
import { runAwsBench } from './aws.js';

interface Row {
  config: string;
  keygenMs: number;
  signMedianMs: number;
  signP90Ms: number;
  messagesPerKeygen: number;
  messagesPerSign: number;
  heapDeltaMiB: number;
  signVsKeygen: number;
}

const SIZES: ReadonlyArray<[number, number]> = [
  [2, 3],
  [3, 5],
  [7, 10],
];
const SIGNATURES = Number(process.env.FROSTLINE_BENCH_SIGNATURES ?? 5);

async function measure(threshold: number, parties: number): Promise<Row> {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-bench-'));
  const cluster = await LocalCluster.open({ dataDir, parties });
  try {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let started = performance.now();
    const keygen = await cluster.keygen({ keyId: 'bench', threshold });
    const keygenMs = performance.now() - started;
    if (!keygen.ok) throw new Error(`keygen failed: ${keygen.error?.message}`);
    const messagesPerKeygen = cluster.outcomes.length;

    const times: number[] = [];
    for (let i = 0; i < SIGNATURES; i++) {
      started = performance.now();
      const signed = await cluster.sign({ keyId: 'bench', message: utf8ToBytes(`bench message ${i}`) });
      times.push(performance.now() - started);
      if (!signed.ok) throw new Error(`sign failed: ${signed.error?.message}`);
    }
    global.gc?.(); // run with --expose-gc (npm run bench does) so this measures retained heap
    const heapDeltaMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    times.sort((a, b) => a - b);
    const signMedianMs = percentile(times, 0.5);
    return {
      config: `${threshold}-of-${parties}`,
      keygenMs: Math.round(keygenMs),
      signMedianMs: Math.round(signMedianMs),
      signP90Ms: Math.round(percentile(times, 0.9)),
      messagesPerKeygen,
      messagesPerSign: Math.round((cluster.outcomes.length - messagesPerKeygen) / SIGNATURES),
      heapDeltaMiB: Number(heapDeltaMiB.toFixed(1)),
      signVsKeygen: Number((signMedianMs / keygenMs).toFixed(2)),
    };
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--aws')) {
  // `npm run bench -- --aws [--json]`: the AWS path on the emulator alone (bench/aws.ts).
  const aws = await runAwsBench();
  if (process.argv.includes('--json')) console.log(JSON.stringify(aws));
  process.exit(0);
}
const rows: Row[] = [];
for (const [t, n] of SIZES) {
  process.stderr.write(`measuring ${t}-of-${n} (keygen + ${SIGNATURES} signatures)...\n`);
  rows.push(await measure(t, n));
}
const base = rows[0];
const table = rows.map((row) => ({
  ...row,
  keygenVs2of3: base === undefined ? 1 : Number((row.keygenMs / base.keygenMs).toFixed(2)),
  signVs2of3: base === undefined ? 1 : Number((row.signMedianMs / base.signMedianMs).toFixed(2)),
}));
console.table(table);
const store = await benchStore();
process.stderr.write('measuring handler bundles (size, import time)...\n');
const bundles = await measureBundles();
console.table(bundles);
const points = await benchPoints(); // point checks and CPU per round (bench/points.ts)
const throughput = await runThroughputBench(); // signatures/s at 1, 10, 100 in flight (bench/throughput.ts)
const suites = await benchSuites(); // keygen and sign ms per suite (bench/suites.ts)
const lifecycle = await benchLifecycle(); // refresh and reshare ms and messages (bench/lifecycle.ts)
const output = { node: process.version, platform: `${process.platform}-${process.arch}`, signatures: SIGNATURES, results: table, store, bundles, points, throughput, suites, lifecycle };
await writeFile('bench-results.json', `${JSON.stringify(output, null, 2)}\n`);
console.log(JSON.stringify(output));
