/**
 * threads: 'workers' (the throughput mode): each party and the coordinator on its own worker
 * thread, owning its vault and store. It must sign exactly as the single-thread cluster does
 * (checked here by OpenSSL, not by our own code), refuse the in-process test hooks it cannot
 * honour, and shut down: a child process that opens one, signs and closes must exit by
 * itself (no process.exit), which it cannot while any worker thread is left running.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../lib/dev/cluster.js';
import { ConfigError } from '../../lib/ports/errors.js';
import { ROOT } from '../support/cli-binary.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';

interface ChildReport {
  threads: string;
  publicKey: string;
  signed: { message: string; publicKey: string; signature: string }[];
  unhealthy: unknown[];
  coordinatorError: string;
  sessionPhase: string | undefined;
}

let bundleDir: string;
let workerEntry: URL;
let childPath: string;

function runChild(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childPath, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  // Worker threads run JavaScript: bundle the worker entry (dependencies stay external and
  // resolve from the repository's node_modules, hence a directory under ROOT).
  bundleDir = await mkdtemp(join(ROOT, '.frostline-test-worker-'));
  const bundle = (entry: string, outfile: string) => build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  const outfile = join(bundleDir, 'node-worker.mjs');
  childPath = join(bundleDir, 'worker-cluster-child.mjs');
  await Promise.all([bundle(join(ROOT, 'lib', 'dev', 'node-worker.ts'), outfile), bundle(join(ROOT, 'test', 'support', 'worker-cluster-child.ts'), childPath)]);
  workerEntry = pathToFileURL(outfile);
});

afterAll(async () => {
  await rm(bundleDir, { recursive: true, force: true });
});

describe("LocalCluster threads: 'workers'", () => {
  it('signs 2-of-3 (OpenSSL verifies every signature), and the process exits on its own after close()', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'frostline-workers-'));
    try {
      const run = await runChild([dataDir, workerEntry.href]);
      // A worker left running would keep the child alive until the timeout kills it (code null).
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout.trim()) as ChildReport;
      expect(report.threads).toBe('workers');
      expect(report.unhealthy).toEqual([]);
      expect(report.signed).toHaveLength(3);
      for (const { message, publicKey, signature } of report.signed) {
        expect(publicKey).toBe(report.publicKey);
        expect(verifyWithNodeCrypto(report.publicKey, new TextEncoder().encode(message), signature)).toBe(true);
      }
      // The coordinator lives on its own thread: asking for it on the main thread says so.
      expect(report.coordinatorError).toMatch(/worker thread/);
      expect(report.sessionPhase).toBe('done');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("a party whose worker cannot open its store is reported unavailable in one line; the others still open and close", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'frostline-workers-'));
    try {
      // A directory where p2's store file should be: SQLite cannot open it.
      await mkdir(join(dataDir, 'parties', 'p2', 'store.sqlite'), { recursive: true });
      const cluster = await LocalCluster.open({ dataDir, parties: 3, threads: 'workers', workerEntry });
      try {
        const unhealthy = cluster.unhealthy();
        expect(unhealthy.map((entry) => entry.party)).toEqual(['p2']);
        expect(unhealthy[0]?.reason).toMatch(/^unavailable: its worker did not open \(worker-open-failed: party p2: [^\n]+\)$/);
      } finally {
        await cluster.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a one-round signer failing on its worker: sign() falls back to two rounds through the coordinator\'s worker, and signs with the others', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'frostline-workers-'));
    try {
      // Pools filled in one thread; then p1 can no longer decrypt anything (its master key replaced).
      const single = await LocalCluster.open({ dataDir, parties: 3 });
      try {
        expect((await single.keygen({ keyId: 'w', threshold: 2 })).ok).toBe(true);
        expect((await single.sign({ keyId: 'w', message: new TextEncoder().encode('fills the pools') })).ok).toBe(true);
      } finally {
        await single.close();
      }
      await writeFile(join(dataDir, 'parties', 'p1', 'vault', 'master.key'), randomBytes(32), { mode: 0o600 });
      const cluster = await LocalCluster.open({ dataDir, parties: 3, threads: 'workers', workerEntry });
      try {
        const message = new TextEncoder().encode('p1 is picked for one round and fails');
        const signed = await cluster.sign({ keyId: 'w', message });
        expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
        expect(signed.signers).toEqual(['p2', 'p3']);
        expect(verifyWithNodeCrypto(signed.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
        expect(cluster.unhealthy().map((entry) => entry.party)).toEqual(['p1']);
      } finally {
        await cluster.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses the in-process hooks a worker cannot see, naming them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'frostline-workers-'));
    try {
      const opening = LocalCluster.open({ dataDir, parties: 3, threads: 'workers', workerEntry, intercept: ({ body }) => [body] });
      await expect(opening).rejects.toThrow(ConfigError);
      await expect(opening).rejects.toThrow(/intercept/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
