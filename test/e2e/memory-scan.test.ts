/**
 * Secrets in memory, checked the way an attacker with a core dump would: a child process
 * runs a whole local cluster (keygen, then three signing rounds); this process stops it and
 * searches all of its memory (/proc/<pid>/mem) for every party's signing share, the data key
 * sealing that share, and the party's vault master key — first as the child sits idle (as a
 * warm Lambda container does between invocations), then again after forced full garbage
 * collections. Only bigint digits may hold a secret (README, "Secrets in memory"); any other
 * copy — whole, partial (16 bytes or more), byte-reversed or hex — fails the test and names
 * its memory region.
 *
 * Linux only, and deliberately never skipped: the README's claim rests on this test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../cdk/paths.js';
import { FileKeyVault } from '../../lib/adapters/local/file-key-vault.js';
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import { decodeHex } from '../../lib/protocol/encoding.js';
import { tweakScalarBytes } from '../../lib/protocol/derivation/affine.js';
import { deriveKey } from '../../lib/protocol/derivation/key.js';
import { KeyShareRecord, partyKeys } from '../../lib/protocol/party-state.js';
import { openSecret, secretContext } from '../../lib/protocol/sealed-item.js';
import { withSecretScope } from '../../lib/protocol/secret-scope.js';
import { Scratch } from '../support/harness.js';
import { countByKind, scanProcess, type Match, type Needle, type ScanResult } from '../support/memory-scan.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const KEY_ID = 'k1';
const PARTIES = ['p1', 'p2', 'p3'];
const SIGNING_ROUNDS = 3;

interface Ready {
  readonly ready: 'idle' | 'collected';
  readonly pid: number;
  readonly controls: { leaked: string; bigint: string };
  readonly signers: string[];
  readonly ms: number;
}

/** Bundles the child entry with the project's esbuild; dependencies stay external, so the bundle lives under the project root. */
async function bundleChild(): Promise<string> {
  const outfile = join(PROJECT_ROOT, 'dist', 'test', `memory-scan-child.${process.pid}.mjs`);
  await build({
    entryPoints: [join(PROJECT_ROOT, 'test', 'support', 'memory-scan-child.ts')],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  return outfile;
}

/** The child and its status lines, one promise per awaited line. */
class Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly #waiting: { resolve: (ready: Ready) => void; reject: (error: Error) => void }[] = [];
  readonly #received: Ready[] = [];
  #stderr = '';
  #exited: Error | undefined;

  constructor(script: string, dataDir: string) {
    this.process = spawn(process.execPath, ['--expose-gc', script, dataDir, KEY_ID, String(SIGNING_ROUNDS)], { stdio: 'pipe' });
    this.process.stderr.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    createInterface({ input: this.process.stdout }).on('line', (line) => {
      const ready = JSON.parse(line) as Ready;
      const waiter = this.#waiting.shift();
      if (waiter !== undefined) waiter.resolve(ready);
      else this.#received.push(ready);
    });
    this.process.on('exit', (code) => {
      this.#exited = new Error(`memory-scan child exited (${code}): ${this.#stderr}`);
      for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#exited);
    });
  }

  next(): Promise<Ready> {
    const ready = this.#received.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#exited !== undefined) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** SIGSTOP is delivered asynchronously: wait until every thread is stopped. */
  async stop(pid: number): Promise<void> {
    process.kill(pid, 'SIGSTOP');
    const isStopped = (tid: string) => /^State:\s+T/m.test(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
    for (let i = 0; i < 500; i++) {
      if (readdirSync(`/proc/${pid}/task`).every(isStopped)) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`memory-scan child ${pid} did not stop`);
  }

  resume(pid: number): void {
    process.kill(pid, 'SIGCONT');
  }

  kill(): void {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGCONT');
    this.process.kill('SIGKILL');
  }
}

/**
 * A party's secrets, read here in the test process: its signing share (decrypted from its
 * store), the data key that share is sealed under, and its vault's master key.
 */
async function secretsOf(dataDir: string, party: string): Promise<Needle[]> {
  const vaultDir = join(dataDir, 'parties', party, 'vault');
  const store = await SqliteItemBackend.open(join(dataDir, 'parties', party, 'store.sqlite'));
  try {
    const vault = await FileKeyVault.open(vaultDir);
    const key = partyKeys.keyShare(KEY_ID);
    const item = await store.get(key);
    if (item === undefined) throw new Error(`${party} holds no share`);
    const record = KeyShareRecord.parse(item.data);
    const context = secretContext(party, KEY_ID, 'key-share');
    const dataKey = await vault.decryptDataKey(decodeHex(record.share.dataKey, 'dataKey'), context);
    const share = await withSecretScope(async (scope) => Uint8Array.from(await openSecret(vault, context, key, record.share, scope)));
    // The child's m/0/7 share s_i + τ the last signing round used (τ is public, so it is as secret as s_i).
    const child = deriveKey({ suite: record.suite, publicKey: record.groupKey, publicPackageHash: record.publicPackageHash }, 'm/0/7');
    const childShare = tweakScalarBytes(child.group, share, child.tweak);
    return [
      { label: `${party} share`, bytes: share },
      { label: `${party} child share m/0/7`, bytes: childShare },
      { label: `${party} share data key`, bytes: dataKey },
      { label: `${party} master key`, bytes: new Uint8Array(readFileSync(join(vaultDir, 'master.key'))) },
    ];
  } finally {
    store.close();
  }
}

function describeMatches(matches: readonly Match[]): string {
  return matches
    .map((m) => `${m.label}: ${m.kind} at 0x${m.address.toString(16)} (32 bytes before: ${m.before}; after: ${m.after}) in ${m.region}`)
    .join('\n');
}

/** The scan of one phase, with its positive controls checked and a summary logged. */
function scanPhase(ready: Ready, secrets: readonly Needle[]): ScanResult {
  const controls: Needle[] = [
    { label: 'control copy', bytes: Buffer.from(ready.controls.leaked, 'hex') },
    { label: 'control bigint', bytes: Buffer.from(ready.controls.bigint, 'hex') },
  ];
  const result = scanProcess(ready.pid, [...controls, ...secrets]);
  const summary = [...controls, ...secrets].map(({ label }) => `  ${label}: ${JSON.stringify(countByKind(result.matches, label))}`);
  console.log(
    `memory scan (${ready.ready}; signers ${ready.signers.join(',')}): ${result.regions} regions, ` +
      `${(result.bytesRead / 2 ** 20).toFixed(0)} MiB read, ${result.bytesUnreadable} bytes unreadable\n${summary.join('\n')}`,
  );
  // A scanner that cannot see planted copies proves nothing.
  const ofLabel = (label: string) => result.matches.filter((m) => m.label === label);
  expect(countByKind(result.matches, 'control copy').raw, `planted copy not found:\n${describeMatches(ofLabel('control copy'))}`).toBeGreaterThanOrEqual(1);
  expect(
    countByKind(result.matches, 'control bigint').bigint,
    `planted bigint not recognised as bigint digits:\n${describeMatches(ofLabel('control bigint'))}`,
  ).toBeGreaterThanOrEqual(1);
  expect(result.bytesRead).toBeGreaterThan(10 * 1024 * 1024);
  return result;
}

describe('memory scan (Linux /proc)', () => {
  it('after keygen and signing rounds, no share, data key or master key is left in the process except as bigint digits', async () => {
    expect(process.platform, 'the memory scan needs Linux /proc; it must not be skipped').toBe('linux');
    expect(existsSync('/proc/self/mem'), '/proc/self/mem is unavailable: the memory scan cannot run').toBe(true);

    const dataDir = await scratch.dir('frostline-memscan-');
    const script = await bundleChild();
    const child = new Child(script, dataDir);
    try {
      const leaks: Match[] = [];
      let secrets: Needle[] = [];
      for (const phase of ['idle', 'collected'] as const) {
        const ready = await child.next();
        expect(ready.ready).toBe(phase);
        await child.stop(ready.pid);
        // Read once the child is done: it never reads a share itself, and now writes nothing.
        if (secrets.length === 0) secrets = (await Promise.all(PARTIES.map((party) => secretsOf(dataDir, party)))).flat();
        const result = scanPhase(ready, secrets);
        leaks.push(...result.matches.filter((m) => !m.label.startsWith('control') && m.kind !== 'bigint'));
        child.resume(ready.pid);
        child.process.stdin.write('gc\n');
      }
      for (const secret of secrets) secret.bytes.fill(0);
      expect(leaks, `secrets left in memory:\n${describeMatches(leaks)}`).toEqual([]);
    } finally {
      child.kill();
      rmSync(script, { force: true });
    }
  });
});
