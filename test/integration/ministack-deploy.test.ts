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
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../cdk/paths.js';
import { runDeployE2e } from '../support/ministack-deploy.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('ministackEndpoint');

describe('the CDK stacks deployed to ministack', () => {
  let workDir: string | undefined;
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
      console.log(`deployed e2e on ministack in ${Date.now() - started} ms: ${JSON.stringify(result.timings)}`);
    } catch (error) {
      // The steps so far, then the failure: which step, the command's output, queue depths.
      console.error(lines.join('\n'));
      throw error;
    }
  }, 300_000);
});
