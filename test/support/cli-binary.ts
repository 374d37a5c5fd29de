/**
 * The `frostline` binary for tests that run it as a user does: bin/frostline.ts bundled by
 * esbuild (a devDependency) into one file under the repository, in a directory of this test
 * file's own. Bundling takes a fraction of a second where `tsc -p tsconfig.build.json`
 * takes tens of seconds, and a fresh clone needs no prior `npm run build`; dependencies stay
 * external and resolve from node_modules as the built package's do. What runs is the same
 * entry point, parser and commands as dist/bin/frostline.js.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

export const ROOT = resolve(import.meta.dirname, '..', '..');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliBinary {
  readonly path: string;
  /** Runs the binary; one that outlives `timeoutMs` (default 180 s: a keygen on a loaded machine) is killed (code null), so a hang never outlives its test. */
  run(args: readonly string[], options?: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<CliRun>;
  remove(): Promise<void>;
}

export async function buildCliBinary(): Promise<CliBinary> {
  // Under the repository (git-ignored), so that bare imports resolve from its node_modules.
  const dir = await mkdtemp(join(ROOT, '.frostline-test-cli-'));
  const path = join(dir, 'frostline.mjs');
  await build({
    entryPoints: [join(ROOT, 'bin', 'frostline.ts')],
    outfile: path,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  return {
    path,
    run: (args, options = {}) =>
      new Promise((resolvePromise, reject) => {
        const child = spawn(process.execPath, [path, ...args], {
          cwd: options.cwd ?? ROOT,
          env: { ...process.env, ...options.env },
          stdio: ['pipe', 'pipe', 'pipe'],
          timeout: options.timeoutMs ?? 180_000,
          killSignal: 'SIGKILL',
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('error', reject);
        child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
        // A child that exits before reading all of its stdin closes the pipe: not a test failure.
        child.stdin.on('error', () => {});
        child.stdin.end(options.input ?? '');
      }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The one JSON object a `--json` run printed on stdout. */
export function jsonOf(run: CliRun): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stdout, got ${lines.length}:\n${run.stdout}\nstderr:\n${run.stderr}`);
  const parsed: unknown = JSON.parse(lines[0] ?? '');
  if (typeof parsed !== 'object' || parsed === null) throw new Error('stdout is not a JSON object');
  return Object.fromEntries(Object.entries(parsed));
}
