/**
 * Handler bundles: size per handler (built exactly as the stacks build them) and module
 * import time, the median of several fresh `node` processes that import the built bundle
 * with a valid environment (the import runs the cold start: configuration, SDK clients,
 * the Party or Coordinator). The import includes the AWS SDK layer's module, which the
 * bundles import (`@frostline/aws-sdk`, built next to them), as at a Lambda cold start.
 * No AWS call is made. Each import is measured as deployed (no NODE_OPTIONS) and, for
 * comparison, with `--enable-source-maps` (the debugging switch, cdk/handler-bundling.ts).
 * Also measured: the layer's size (one per stack, shared by its
 * functions), and for comparison only, each bundle with the whole AWS SDK bundled in.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { AWS_SDK_LAYER_BUDGET_KIB, buildAwsSdkLayer, buildHandlerBundles, HANDLER_BUNDLE_BUDGET_KIB, type HandlerName } from '../cdk/handler-bundles.js';
import { handlerEsbuildOptions, SOURCE_MAPS_NODE_OPTION } from '../cdk/handler-bundling.js';
import { percentile } from '../lib/dev/percentile.js';
import { Entry } from '../cdk/paths.js';
import { runtimeEnvironment, type RuntimeConfig } from '../lib/config/runtime.js';
import { SweeperEnv } from '../lib/config/sweeper.js';

export interface BundleRow {
  handler: HandlerName;
  sizeKiB: number;
  budgetKiB: number;
  importMedianMs: number;
  importMinMs: number;
  /** CPU time of the import (user + system, all threads), median: steadier than the wall clock on a busy machine. */
  importCpuMedianMs: number;
  /** The same import with `NODE_OPTIONS=--enable-source-maps` (off by default; cdk/handler-bundling.ts `handlerNodeOptions`): wall and CPU medians. */
  importWithSourceMapsMedianMs: number;
  importWithSourceMapsCpuMedianMs: number;
  /** The largest packages in the bundle, KiB. */
  top: string;
  /** For comparison: the bundle with @aws-sdk/* and @smithy/* external (the runtime's copy). */
  sdkExternalKiB: number;
  /** The AWS SDK layer's module, which every handler imports (the same in every row). */
  sdkLayerKiB: number;
  sdkLayerBudgetKiB: number;
  /** The largest packages in the layer, KiB (the same in every row). */
  sdkLayerTop: string;
  /** For comparison: the bundle with the whole SDK in it, default credential chain included (how it was built before the layer). */
  sdkBundledKiB: number;
}

const IMPORTS = Number(process.env.FROSTLINE_BENCH_IMPORTS ?? 7);
const kib = (bytes: number) => Number((bytes / 1024).toFixed(1));

const spki = (type: 'ed25519' | 'p256') =>
  (type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })).publicKey
    .export({ format: 'der', type: 'spki' })
    .toString('hex');

/** A valid environment for each handler: generated public keys, made-up names (never called). */
function environments(): Record<HandlerName, Record<string, string>> {
  const queue = (name: string) => `https://sqs.eu-west-1.amazonaws.com/111111111111/${name}`;
  const common = {
    region: 'eu-west-1',
    tableName: 'frostline-bench',
    identityKeyId: 'alias/frostline-identity',
    identityAlgorithm: 'ed25519',
    directory: {
      coordinator: { alg: 'ed25519', spki: spki('ed25519') },
      parties: { p1: { alg: 'ed25519', spki: spki('ed25519') }, p2: { alg: 'ed25519', spki: spki('ed25519') } },
      initiators: { app: { alg: 'ed25519', spki: spki('ed25519') } },
    },
    queueUrls: { coordinator: queue('coordinator'), parties: { p1: queue('p1'), p2: queue('p2') }, initiators: { app: queue('app') } },
  } as const;
  const party: RuntimeConfig = {
    ...common,
    role: 'party',
    partyId: 'p1',
    masterKeyId: 'alias/frostline-master',
    policy: { maxMessageBytes: 1024, initiators: { app: { keygen: true, keys: ['*'] } } },
  };
  const coordinator: RuntimeConfig = { ...common, role: 'coordinator' };
  // Fake credentials: nothing is signed or sent, and no credential chain is walked.
  // No NODE_OPTIONS, as deployed by default (measureBundles adds the source-map option for the comparison).
  const base = {
    PATH: process.env.PATH ?? '',
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_LAMBDA_FUNCTION_NAME: 'bench',
  };
  return {
    partyInbox: { ...base, ...runtimeEnvironment(party) },
    coordinatorInbox: { ...base, ...runtimeEnvironment(coordinator) },
    requestIntake: { ...base, ...runtimeEnvironment(coordinator) },
    sweeper: { ...base, ...runtimeEnvironment(coordinator), [SweeperEnv.stalledAfterMinutes]: '15' },
  };
}

/**
 * Milliseconds one fresh process spends importing `file` (timed inside the process): wall
 * clock, and the CPU time (user + system, all threads) the import took, which other load
 * on the machine inflates far less than the wall clock.
 */
async function importMs(file: string, env: Record<string, string>): Promise<{ wall: number; cpu: number }> {
  const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); const wall = performance.now() - t; const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([wall, (u.user + u.system) / 1000]));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env });
  const [wall, cpu] = JSON.parse(stdout) as [number, number];
  return { wall, cpu };
}

const median = (values: readonly number[]) => Math.round(percentile(values, 0.5));

/** Each handler built with other externals and aliases than the stacks' (for comparison). */
async function sizesWith(outDir: string, overrides: { external: string[]; alias: Record<string, string> }): Promise<Record<string, number>> {
  const options = handlerEsbuildOptions(Entry, outDir);
  const result = await build({ ...options, ...overrides });
  const sizes: Record<string, number> = {};
  for (const [path, output] of Object.entries(result.metafile.outputs)) {
    const handler = /([A-Za-z]+)\.mjs$/.exec(path)?.[1];
    if (handler !== undefined) sizes[handler] = output.bytes;
  }
  return sizes;
}

function topPackages(packages: Readonly<Record<string, number>>): string {
  return Object.entries(packages)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, bytes]) => `${name} ${Math.round(bytes / 1024)}`)
    .join(', ');
}

export async function measureBundles(): Promise<BundleRow[]> {
  const outDir = await mkdtemp(join(tmpdir(), 'frostline-bench-bundles-'));
  try {
    const bundles = await buildHandlerBundles(join(outDir, 'bundled'));
    const layer = await buildAwsSdkLayer(join(outDir, 'bundled'));
    const external = await sizesWith(join(outDir, 'sdk-external'), { external: ['@aws-sdk/*', '@smithy/*'], alias: {} });
    const bundled = await sizesWith(join(outDir, 'sdk-bundled'), { external: [], alias: {} });
    const envs = environments();
    const rows: BundleRow[] = [];
    for (const bundle of bundles) {
      const times: number[] = [];
      const cpuTimes: number[] = [];
      const mappedTimes: number[] = [];
      const mappedCpuTimes: number[] = [];
      // Alternating, so that both variants see the same machine state.
      for (let i = 0; i < IMPORTS; i++) {
        const { wall, cpu } = await importMs(bundle.file, envs[bundle.handler]);
        times.push(wall);
        cpuTimes.push(cpu);
        const mapped = await importMs(bundle.file, { ...envs[bundle.handler], NODE_OPTIONS: SOURCE_MAPS_NODE_OPTION });
        mappedTimes.push(mapped.wall);
        mappedCpuTimes.push(mapped.cpu);
      }
      rows.push({
        handler: bundle.handler,
        sizeKiB: kib(bundle.bytes),
        budgetKiB: HANDLER_BUNDLE_BUDGET_KIB[bundle.handler],
        importMedianMs: median(times),
        importMinMs: Math.round(Math.min(...times)),
        importCpuMedianMs: median(cpuTimes),
        importWithSourceMapsMedianMs: median(mappedTimes),
        importWithSourceMapsCpuMedianMs: median(mappedCpuTimes),
        top: topPackages(bundle.packages),
        sdkExternalKiB: kib(external[bundle.handler] ?? Number.NaN),
        sdkLayerKiB: kib(layer.bytes),
        sdkLayerBudgetKiB: AWS_SDK_LAYER_BUDGET_KIB,
        sdkLayerTop: topPackages(layer.packages),
        sdkBundledKiB: kib(bundled[bundle.handler] ?? Number.NaN),
      });
    }
    return rows;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

// `npm run bench:bundles`: this measurement alone.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await measureBundles();
  console.table(rows);
  console.log(JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, imports: IMPORTS, bundles: rows }));
}
