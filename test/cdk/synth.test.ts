/**
 * The real thing, as a team runs it: `npx cdk synth` with the pinned CLI on the example
 * three-party config, bundling every function with the local esbuild, cdk-nag included.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { AWS_SDK_LAYER_DIR, AWS_SDK_LAYER_PACKAGE } from '../../cdk/handler-bundling.js';
import { PROJECT_ROOT } from '../../cdk/paths.js';

const CDK = join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function synth(...args: string[]) {
  const outdir = mkdtempSync(join(tmpdir(), 'frostline-synth-'));
  dirs.push(outdir);
  const started = Date.now();
  const result = spawnSync(CDK, ['synth', '--quiet', '--output', outdir, ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CI: 'true' },
    timeout: 300_000,
  });
  return { ...result, outdir, ms: Date.now() - started };
}

describe('cdk synth (real bundling)', () => {
  test('synthesizes all four stacks of the example config with an empty cdk-nag report', () => {
    const result = synth();
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    const templates = readdirSync(result.outdir).filter((f) => f.endsWith('.template.json')).sort();
    expect(templates).toEqual(['Coordinator.template.json', 'Party-p1.template.json', 'Party-p2.template.json', 'Party-p3.template.json']);
    const report = JSON.parse(readFileSync(join(result.outdir, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
    // Every function's asset is a real ESM bundle with its handler export; the fifth asset
    // is the AWS SDK layer (the same in every stack, so one asset).
    const allAssets = readdirSync(result.outdir).filter((f) => f.startsWith('asset.'));
    const assets = allAssets.filter((asset) => !existsSync(join(result.outdir, asset, AWS_SDK_LAYER_DIR, 'index.mjs')));
    expect(allAssets.length).toBe(5);
    expect(assets.length).toBe(4);
    for (const asset of assets) {
      const bundle = join(result.outdir, asset, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      expect(readFileSync(bundle, 'utf8')).toMatch(/export\s*\{[^}]*\bhandler\b/);
      // Built as the bundle test builds it: the SDK comes from the layer (the alias reached
      // NodejsFunction's esbuild), and the bundle is inside the budget.
      expect(readFileSync(bundle, 'utf8')).toContain(`from"${AWS_SDK_LAYER_PACKAGE}"`);
      expect(statSync(bundle).size).toBeLessThanOrEqual(400 * 1024);
    }
    console.log(`cdk synth (4 stacks, 4 bundles): ${result.ms} ms`);
  }, 300_000);

  test('-c party=p2 synthesizes only party p2', () => {
    const result = synth('-c', 'party=p2');
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(readdirSync(result.outdir).filter((f) => f.endsWith('.template.json'))).toEqual(['Party-p2.template.json']);
  }, 300_000);

  test('-c party=nope fails with the list of parties', () => {
    const result = synth('-c', 'party=nope');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/no such party \(config has p1, p2, p3\)/);
  }, 300_000);
});
