#!/usr/bin/env node
/**
 * Deploys the synthesized CDK stacks to ministack and runs keygen and signatures through
 * the deployed functions and queues, printing each step and its time:
 *
 *   node scripts/ministack-deploy-e2e.mjs [--endpoint URL] [--keep DIR]
 *
 * Starts the pinned ministack (scripts/emulator.mjs) unless --endpoint names a running one.
 * The work (config, cloud assemblies, one log per CDK command) goes to a temporary
 * directory, removed on success unless --keep names a directory to use instead.
 * The steps themselves are in test/support/ministack-deploy.ts, compiled here with the
 * project's esbuild (as scripts/cdk-app.mjs does) so that no build is needed first;
 * test/integration/ministack-deploy.test.ts runs the same steps in `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleAndImport } from './bundle-node.mjs';
import { startMinistack } from './emulator.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => process.stderr.write(`${line}\n`);
const { values } = parseArgs({ options: { endpoint: { type: 'string' }, keep: { type: 'string' } } });

const { runDeployE2e } = await bundleAndImport(
  join(root, 'test', 'support', 'ministack-deploy.ts'),
  join(root, 'dist', 'scripts', 'ministack-deploy-e2e.mjs'),
);

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const started = performance.now();
const emulator = values.endpoint === undefined ? await startMinistack({ log }) : undefined;
const endpoint = values.endpoint ?? emulator.endpoint;
const workDir = values.keep !== undefined ? resolve(values.keep) : mkdtempSync(join(tmpdir(), 'frostline-deploy-e2e-'));
let failed = false;
try {
  const result = await runDeployE2e({ endpoint, root, workDir, log });
  log(`deploy-e2e: OK in ${Math.round(performance.now() - started)} ms: keygen and ${result.signatures} signatures through the deployed stacks`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} catch (error) {
  failed = true;
  log(`deploy-e2e: FAILED after ${Math.round(performance.now() - started)} ms`);
  log(error instanceof Error ? error.message : String(error));
  log(`deploy-e2e: logs of every CDK command are in ${workDir}`);
  if (emulator !== undefined) log(`deploy-e2e: ministack's last output:\n${emulator.output().trim().split('\n').slice(-30).join('\n')}`);
} finally {
  await emulator?.stop();
  if (!failed && values.keep === undefined) rmSync(workDir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
