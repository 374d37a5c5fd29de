/**
 * The docs' `dev up` walkthrough as written (issue 10, items 5 and 6): `frostline dev up`
 * with deploy/example.policy.json and the walkthrough's initiators and approvers, writing to
 * its default `.frostline-dev/deployment.json` in a working directory of its own; then the
 * walkthrough's CLI steps through the built binary, and the SDK example of
 * docs/sdk-and-cli.md — the fenced block marked `docs-example: dev-up-sdk`, extracted here
 * so that it cannot drift — bundled with `frostline/*` pointing at lib/ and run as a child
 * process in that directory, twice (its keygen request id makes it repeatable).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runDevUp } from '../../lib/cli/dev.js';
import { buildCliBinary, type CliBinary, jsonOf, ROOT } from '../support/cli-binary.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');
const MARKER = '// docs-example: dev-up-sdk';

/** The one fenced block of the markdown whose first line is the marker. */
function markedBlock(markdown: string, marker: string): string {
  const found = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '').filter((code) => code.startsWith(marker));
  if (found.length !== 1) throw new Error(`expected one block marked "${marker}" in the docs, found ${found.length}`);
  return found[0] ?? '';
}

/** The package's entry points (package.json `exports`), as their sources in lib/. */
const ENTRIES: Record<string, string> = {
  frostline: join(ROOT, 'lib', 'index.ts'),
  'frostline/client': join(ROOT, 'lib', 'client', 'index.ts'),
  'frostline/aws': join(ROOT, 'lib', 'adapters', 'aws', 'index.ts'),
  'frostline/dev': join(ROOT, 'lib', 'dev', 'index.ts'),
};

/** The type errors of the docs' code under the repository's compiler options, `frostline/*` mapped to lib/. */
function typeErrors(source: string): string[] {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const paths = Object.fromEntries(Object.entries(ENTRIES).map(([name, path]) => [name, [path]]));
  const program = ts.createProgram([source], { ...options, noEmit: true, paths });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName === source || diagnostic.file === undefined)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}

/** Bundles the docs' code with `frostline/<entry>` resolved to lib/ (what the package's exports name, built). */
async function bundleExample(code: string, dir: string): Promise<{ source: string; out: string }> {
  const source = join(dir, 'example.ts');
  const out = join(dir, 'example.mjs');
  await writeFile(source, code);
  const entries = ENTRIES;
  await build({
    entryPoints: [source],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'frostline-package',
        setup(plugin) {
          plugin.onResolve({ filter: /^frostline(\/|$)/ }, (args) => {
            const path = entries[args.path];
            return path !== undefined ? { path } : { errors: [{ text: `no export ${args.path} in package.json` }] };
          });
          // Everything else stays external and resolves from the repository's node_modules.
          plugin.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('frostline') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  return { source, out };
}

function runNode(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 110_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    // The AWS SDK's notice about Node versions on Node 20 is not the example's output.
    child.once('close', (code) => resolvePromise({ code, stdout, stderr: stderr.replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?to show where the warning was created\)\n/m, '') }));
  });
}

describe('the docs walkthrough of dev up, as written', () => {
  let cwd: string;
  let bundleDir: string;
  let cli: CliBinary;
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  const devLog: string[] = [];
  const deployment = join('.frostline-dev', 'deployment.json');

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'frostline-docs-walkthrough-'));
    // Under the repository (git-ignored), so that the bundle's bare imports resolve from its node_modules.
    bundleDir = await mkdtemp(join(ROOT, '.frostline-test-docs-'));
    const binary = buildCliBinary();
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      running = runDevUp({
        endpoint,
        parties: 3,
        initiators: ['payments', 'ops'],
        approvers: ['alice', 'bob', 'carol'],
        policyFile: join(ROOT, 'deploy', 'example.policy.json'),
        // The default, in the walkthrough's working directory.
        out: join(cwd, deployment),
        reportEveryMs: 60_000,
        signal: stop.signal,
        log: (line) => devLog.push(line),
        announce: () => {},
        onReady: () => resolveReady(),
      });
      running.catch(rejectReady);
    });
    [cli] = await Promise.all([binary, ready]);
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    await running;
    await cli?.remove();
    if (bundleDir !== undefined) await rm(bundleDir, { recursive: true, force: true });
    if (cwd !== undefined) await rm(cwd, { recursive: true, force: true });
  });

  it("the CLI steps with the README's policy: keygen as ops, sign with two approvals, refused with one", async () => {
    expect(await readFile(join(cwd, '.frostline-dev', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
    const keygen = await cli.run(['keygen', '--deployment', deployment, '--initiator', 'ops', '--key-id', 'treasury', '--threshold', '2', '--json'], { cwd, timeoutMs: 100_000 });
    expect(keygen.code, keygen.stderr).toBe(0);
    const { publicKey } = jsonOf(keygen);

    const signed = await cli.run(['sign', '--deployment', deployment, '--key', 'treasury', '--message', 'pay 100', '--approvers', 'alice,carol', '--json'], { cwd, timeoutMs: 100_000 });
    expect(signed.code, signed.stderr).toBe(0);
    expect(verifyWithNodeCrypto(String(publicKey), new TextEncoder().encode('pay 100'), String(jsonOf(signed).signature))).toBe(true);

    const refused = await cli.run(['sign', '--deployment', deployment, '--key', 'treasury', '--message', 'pay 100', '--approvers', 'alice'], { cwd, timeoutMs: 100_000 });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd().split('\n').at(-1)).toMatch(/^frostline: policy: .*approval quorum not met: 1 of 2 valid approvals/);
  });

  it('the SDK example of docs/sdk-and-cli.md runs as written against it, and again', async () => {
    const code = markedBlock(await readFile(join(ROOT, 'docs', 'sdk-and-cli.md'), 'utf8'), MARKER);
    expect(code).toContain("openDevDeployment('.frostline-dev/deployment.json')");
    const { source, out: script } = await bundleExample(code, bundleDir);
    // It compiles as TypeScript, under the repository's strict options, against the package's types.
    expect(typeErrors(source)).toEqual([]);
    for (const round of [1, 2]) {
      const run = await runNode(script, cwd);
      expect({ round, code: run.code, stderr: run.stderr }).toEqual({ round, code: 0, stderr: '' });
      const match = /^key reports ([0-9a-f]{64}); signed by (p\d, p\d): ([0-9a-f]{128})\n$/.exec(run.stdout);
      expect(match, run.stdout).not.toBeNull();
      const [, publicKey = '', , signature = ''] = match ?? [];
      expect(verifyWithNodeCrypto(publicKey, new TextEncoder().encode('Q3 report'), signature)).toBe(true);
    }
  });
});
