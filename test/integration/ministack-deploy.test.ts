/**
 * The synthesized CDK stacks deployed to ministack, as docs/deploy.md deploys them to AWS
 * (bootstrap, pass 1, pin, pass 2, in four emulated accounts), then keygen and signatures
 * through the deployed functions and queues. The steps are in test/support/ministack-deploy.ts;
 * `node scripts/ministack-deploy-e2e.mjs` runs the same on its own and prints each step.
 *
 * What this proves and what it cannot: the templates deploy unchanged, the functions'
 * bundles start and are wired to their queues, tables, keys and each other by the names the
 * config derives, and the pinned Ed25519 identity keys are the ones KMS signs with.
 * ministack runs without AUTH, so IAM roles, key policies and queue policies are deployed
 * but not enforced (the CDK assertion tests and cdk-nag check those); its Lambda executor
 * sends every `*.amazonaws.com` request, such as the queue URLs in the functions'
 * environment, to itself.
 *
 * Then the CLI against the same stacks, in process, as an operator runs it against AWS:
 * `frostline keygen|sign|key|audit verify --config <the pinned config> --endpoint <ministack>`
 * (the endpoint gives each client the owning emulated account, as a profile would give
 * real credentials), signing with a key file and with the config's KMS initiator key.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../cdk/paths.js';
import { buildProgram } from '../../lib/cli/program.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { type DeployE2eResult, runDeployE2e } from '../support/ministack-deploy.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('ministackEndpoint');

/** Runs the CLI in process with --json; returns the one JSON object it printed on stdout. */
async function frostline(args: readonly string[]): Promise<Record<string, unknown>> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array): boolean => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  };
  const [writeOut, writeErr] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = capture(stdout);
  process.stderr.write = capture(stderr);
  try {
    await buildProgram().parseAsync([...args, '--json'], { from: 'user' });
  } catch (error) {
    throw new Error(`frostline ${args[0] ?? ''} failed: ${error instanceof Error ? error.message : String(error)}\nstdout: ${stdout.join('')}\nstderr: ${stderr.join('')}`);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  const lines = stdout.join('').trim().split('\n');
  expect(lines).toHaveLength(1);
  const parsed: unknown = JSON.parse(lines[0] ?? '');
  if (typeof parsed !== 'object' || parsed === null) throw new Error('stdout is not a JSON object');
  return Object.fromEntries(Object.entries(parsed));
}

describe('the CDK stacks deployed to ministack', () => {
  let workDir: string | undefined;
  let deployed: DeployE2eResult | undefined;
  afterAll(async () => {
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it('bootstrap, deploy without handlers, pin, deploy with handlers; keygen and two signatures through the deployed queues', async () => {
    workDir = await mkdtemp(join(tmpdir(), 'frostline-deploy-e2e-'));
    const lines: string[] = [];
    const started = Date.now();
    try {
      const result = await runDeployE2e({ endpoint, root: PROJECT_ROOT, workDir, log: (line) => lines.push(line) });
      expect(result.signatures).toBe(2);
      expect(result.publicKey).toMatch(/^[0-9a-f]{64}$/);
      deployed = result;
      console.log(`deployed e2e on ministack in ${Date.now() - started} ms: ${JSON.stringify(result.timings)}`);
    } catch (error) {
      // The steps so far, then the failure: which step, the command's output, queue depths.
      console.error(lines.join('\n'));
      throw error;
    }
  }, 300_000);

  it('the CLI with --config: keygen and sign with a key file, key with the KMS initiator, audit verify of a party', async () => {
    if (deployed === undefined) throw new Error('nothing deployed: the test above failed');
    const started = Date.now();
    const target = ['--config', deployed.configPath, '--endpoint', endpoint];
    const asApp = [...target, '--initiator', 'app', '--key-file', deployed.appKeyFile];

    const key = await frostline(['keygen', ...asApp, '--key-id', 'cli-key', '--threshold', '2']);
    expect(key).toMatchObject({ ok: true, keyId: 'cli-key', threshold: 2, parties: ['p1', 'p2', 'p3'], duplicate: false });
    const publicKey = String(key.publicKey);
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);

    const message = 'pay 100 EUR, signed from the CLI';
    const signed = await frostline(['sign', ...asApp, '--key', 'cli-key', '--message', message]);
    expect(signed).toMatchObject({ ok: true, keyId: 'cli-key', publicKey, duplicate: false });
    expect(signed.signers).toHaveLength(2);
    expect(verifyWithNodeCrypto(publicKey, new TextEncoder().encode(message), String(signed.signature))).toBe(true);

    // No --key-file: the config names a KMS key for `vault`, and requests are signed there.
    expect(await frostline(['key', ...target, '--initiator', 'vault', '--key', 'cli-key'])).toEqual({
      ok: true,
      keyId: 'cli-key',
      publicKey,
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
    });

    const verdict = await frostline(['audit', 'verify', '--party', 'p1', ...target]);
    expect(verdict).toMatchObject({ party: 'p1', ok: true, records: expect.any(Number) });
    expect(verdict).not.toMatchObject({ records: 0 });
    expect(process.exitCode ?? 0).toBe(0);
    console.log(`CLI --config against the deployed stacks in ${Date.now() - started} ms`);
  }, 300_000);
});
