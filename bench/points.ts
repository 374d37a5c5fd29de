/**
 * Point checks per operation (issue #14): how many full point validations (decode, on-curve,
 * identity, subgroup) and noble decodes a keygen and a signature cost, per node, and the CPU
 * of each party's DKG round handlers, for noble's stock `ed25519_FROST` and for our suite.
 * Each node has its own suite (its own process in a deployment). `warm`: one process per
 * node for the whole run; `cold`: a fresh process (empty cache) for every invocation.
 *
 * `node dist/bench/points.js` alone, or as part of `npm run bench`. FROSTLINE_BENCH_POINTS_LARGE=1
 * adds 15-of-20 (minutes with the stock suite); FROSTLINE_BENCH_POINTS_MODES=warm,cold picks modes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../lib/dev/cluster.js';
import { PointMeter, type PointMeterMode } from '../lib/dev/point-meter.js';
import { utf8ToBytes } from '../lib/protocol/encoding.js';
import { COORDINATOR } from '../lib/protocol/messages.js';
import { pathToFileURL } from 'node:url';

export interface PointsRow {
  config: string;
  mode: PointMeterMode;
  /** Full point checks, all parties together, one DKG. */
  keygenValidations: number;
  /** The most any one party ran in that DKG. */
  keygenValidationsMaxParty: number;
  /** n·t + (n−1): the distinct points a party reads (t commitments each, n−1 proof-of-knowledge nonces). */
  keygenDistinctPerParty: number;
  keygenDecodes: number;
  /** First signature after keygen: every node together, then the coordinator and the busiest signer. */
  signValidations: number;
  signValidationsCoordinator: number;
  signValidationsMaxSigner: number;
  signDecodes: number;
  /** A later signature (group key and verifying shares already seen by a warm node). */
  sign2Validations: number;
  /** Mean CPU per party of its handler for each DKG step (ms): dkg.start (round 1), dkg.round2, dkg.round3. */
  cpuRound1Ms: number;
  cpuRound2Ms: number;
  cpuRound3Ms: number;
}

const BASE_SIZES: ReadonlyArray<[number, number]> = [
  [2, 3],
  [3, 5],
  [7, 10],
];

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Validations and decodes per node over the steps `from`..`to`. */
function countsPerNode(meter: PointMeter, from: number, to: number): Map<string, { validations: number; decodes: number }> {
  const totals = new Map<string, { validations: number; decodes: number }>();
  for (const step of meter.steps.slice(from, to)) {
    const total = totals.get(step.node) ?? { validations: 0, decodes: 0 };
    total.validations += step.validations;
    total.decodes += step.decodes;
    totals.set(step.node, total);
  }
  return totals;
}

/** Mean CPU per party of the handler steps of `type` among `steps`. */
function meanCpu(meter: PointMeter, from: number, to: number, type: string): number {
  const steps = meter.steps.slice(from, to).filter((s) => s.node !== COORDINATOR && s.type === type);
  const perParty = new Map<string, number>();
  for (const s of steps) perParty.set(s.node, (perParty.get(s.node) ?? 0) + s.cpuMs);
  return perParty.size === 0 ? 0 : round(sum(perParty.values()) / perParty.size);
}

export async function measurePoints(threshold: number, parties: number, mode: PointMeterMode): Promise<PointsRow> {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-bench-points-'));
  const meter = new PointMeter(mode);
  // A long drain deadline: stock 15-of-20 takes minutes of CPU, more on a shared machine.
  // Serial delivery: a handler's CPU is read with process.cpuUsage around it, which would
  // also count every handler running beside it under concurrent delivery.
  const cluster = await LocalCluster.open({
    dataDir,
    parties,
    suiteFor: meter.suiteFor,
    wrapHandler: meter.wrapHandler,
    drainTimeoutMs: 3_600_000,
    deliveryConcurrency: 'serial',
  });
  try {
    const keygen = await cluster.keygen({ keyId: 'bench', threshold });
    if (!keygen.ok) throw new Error(`keygen failed: ${keygen.error?.message}`);
    const afterKeygen = meter.steps.length;
    const signed = await cluster.sign({ keyId: 'bench', message: utf8ToBytes('bench points 1') });
    if (!signed.ok) throw new Error(`sign failed: ${signed.error?.message}`);
    const afterSign = meter.steps.length;
    const signed2 = await cluster.sign({ keyId: 'bench', message: utf8ToBytes('bench points 2') });
    if (!signed2.ok) throw new Error(`sign failed: ${signed2.error?.message}`);

    const keygenOnly = countsPerNode(meter, 0, afterKeygen);
    const signOnly = countsPerNode(meter, afterKeygen, afterSign);
    const keygenPartyCounts = [...keygenOnly].filter(([node]) => node !== COORDINATOR).map(([, c]) => c);
    const signers = [...signOnly].filter(([node]) => node !== COORDINATOR).map(([, c]) => c.validations);
    return {
      config: `${threshold}-of-${parties}`,
      mode,
      keygenValidations: sum([...keygenOnly.values()].map((c) => c.validations)),
      keygenValidationsMaxParty: Math.max(0, ...keygenPartyCounts.map((c) => c.validations)),
      keygenDistinctPerParty: parties * threshold + parties - 1,
      keygenDecodes: sum([...keygenOnly.values()].map((c) => c.decodes)),
      signValidations: sum([...signOnly.values()].map((c) => c.validations)),
      signValidationsCoordinator: signOnly.get(COORDINATOR)?.validations ?? 0,
      signValidationsMaxSigner: Math.max(0, ...signers),
      signDecodes: sum([...signOnly.values()].map((c) => c.decodes)),
      sign2Validations: sum(meter.steps.slice(afterSign).map((s) => s.validations)),
      cpuRound1Ms: meanCpu(meter, 0, afterKeygen, 'dkg.start'),
      cpuRound2Ms: meanCpu(meter, 0, afterKeygen, 'dkg.round2'),
      cpuRound3Ms: meanCpu(meter, 0, afterKeygen, 'dkg.round3'),
    };
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function benchPoints(): Promise<PointsRow[]> {
  const large = process.env.FROSTLINE_BENCH_POINTS_LARGE === '1';
  const sizes: ReadonlyArray<[number, number]> = large ? [...BASE_SIZES, [15, 20]] : BASE_SIZES;
  const modes = (process.env.FROSTLINE_BENCH_POINTS_MODES ?? 'stock,warm,cold').split(',') as PointMeterMode[];
  const rows: PointsRow[] = [];
  for (const [t, n] of sizes) {
    for (const mode of modes) {
      process.stderr.write(`points: ${t}-of-${n} ${mode}...\n`);
      rows.push(await measurePoints(t, n, mode));
    }
  }
  console.table(rows);
  return rows;
}

// Run alone (`npm run bench:points`): the rows as one JSON line; `npm run bench` puts them in bench-results.json.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, points: await benchPoints() }));
}
