/**
 * The CLI drives keygen and signing against the emulator, as an operator would from a
 * second terminal: `frostline dev up` runs in process (provisioning, deployment file,
 * handlers), and the built CLI runs as child processes with `--deployment FILE`. Exit codes,
 * JSON output and the one-line failure reason are what is asserted; the signature is
 * verified here with node:crypto.
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readDevDeploymentFile } from '../../lib/dev/dev-deployment.js';
import { openDevDeployment } from '../../lib/dev/dev-deployment-file.js';
import { keyDirFor, runDevUp } from '../../lib/cli/dev.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { runCliInProcess } from '../support/cli.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');
const ROOT = resolve(import.meta.dirname, '..', '..');
/** A build of its own (git-ignored), so that a concurrent `npm run build` into dist/ is never disturbed. */
const BUILD_DIR = join(ROOT, '.frostline-test-cli-build');
const CLI = join(BUILD_DIR, 'bin', 'frostline.js');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** `tsc -p tsconfig.build.json` into BUILD_DIR; a type error anywhere in the build fails the suite, with tsc's report. */
async function buildCli(): Promise<void> {
  try {
    await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', BUILD_DIR], { cwd: ROOT });
  } catch (error) {
    const output = typeof error === 'object' && error !== null && 'stdout' in error ? String(error.stdout) : '';
    throw new Error(`building the CLI failed:\n${output}`);
  }
}

const inProcess = runCliInProcess;

function json(run: Run): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const parsed: unknown = JSON.parse(lines[0] ?? '');
  if (typeof parsed !== 'object' || parsed === null) throw new Error('stdout is not a JSON object');
  return Object.fromEntries(Object.entries(parsed));
}

describe('frostline CLI against a development deployment on the emulator', () => {
  let dir: string;
  let file: string;
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  const devLog: string[] = [];
  let publicKey = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frostline-cli-emulator-'));
    const build = buildCli();
    const ready = new Promise<string>((resolveReady, rejectReady) => {
      running = runDevUp({
        endpoint,
        parties: 3,
        initiators: ['ops', 'other'],
        approvers: [],
        out: join(dir, 'dev.json'),
        reportEveryMs: 1000,
        signal: stop.signal,
        log: (line) => devLog.push(line),
        announce: () => {},
        onReady: (_deployment, path) => resolveReady(path),
      });
      running.catch(rejectReady);
    });
    [file] = await Promise.all([ready, build]);
  }, 300_000);

  afterAll(async () => {
    stop.abort();
    await running;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('dev up wrote a deployment file of public data and local key directories', async () => {
    const text = await readFile(file, 'utf8');
    expect(text).not.toMatch(/PRIVATE KEY/);
    const deployment = await readDevDeploymentFile(file);
    expect(deployment).toMatchObject({ endpoint, defaultInitiator: 'ops' });
    expect(Object.keys(deployment.parties)).toEqual(['p1', 'p2', 'p3']);
    expect(Object.keys(deployment.initiators)).toEqual(['ops', 'other']);
    expect(deployment.initiators.ops?.keyDir).toBe(join(keyDirFor(file), 'initiators', 'ops'));
    expect(existsSync(deployment.initiators.ops?.keyDir ?? '')).toBe(true);
    expect(devLog.some((line) => line.includes(`deployment file ${file}`))).toBe(true);
  });

  it('keygen, sign and key run as child processes: exit 0 and one JSON object each', async () => {
    const keygen = await cli(['keygen', '--deployment', file, '--key-id', 'cli-key', '--threshold', '2', '--json']);
    expect(keygen.stderr).not.toMatch(/^frostline: /m);
    expect(keygen.code).toBe(0);
    const key = json(keygen);
    expect(key).toMatchObject({ ok: true, keyId: 'cli-key', threshold: 2, parties: ['p1', 'p2', 'p3'], duplicate: false });
    publicKey = String(key.publicKey);
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
    // Not a terminal: a single progress line, no ticker.
    expect(keygen.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^keygen "cli-key" 2-of-3 among p1, p2, p3 …$/)]);

    const sign = await cli(['sign', '--deployment', file, '--initiator', 'other', '--endpoint', endpoint, '--key', 'cli-key', '--message', 'hello from the shell', '--json']);
    expect(sign.code).toBe(0);
    const signed = json(sign);
    expect(signed).toMatchObject({ ok: true, keyId: 'cli-key', publicKey, duplicate: false });
    expect(signed.signers).toHaveLength(2);
    expect(verifyWithNodeCrypto(publicKey, new TextEncoder().encode('hello from the shell'), String(signed.signature))).toBe(true);

    const shown = await cli(['key', '--deployment', file, '--key', 'cli-key', '--json']);
    expect(shown.code).toBe(0);
    expect(json(shown)).toEqual({ ok: true, keyId: 'cli-key', publicKey, threshold: 2, parties: ['p1', 'p2', 'p3'] });
  });

  it('keys and verify take --deployment: keys as their parties attested them, a signature checked under the pinned key', async () => {
    const keys = await cli(['keys', '--deployment', file, '--json']);
    expect(keys.code).toBe(0);
    expect(json(keys)).toEqual({ ok: true, keys: [{ keyId: 'cli-key', publicKey, threshold: 2, parties: ['p1', 'p2', 'p3'] }] });

    const messageFile = join(dir, 'message.bin');
    await writeFile(messageFile, Buffer.from([0, 1, 2, 255, 254]));
    const sign = await cli(['sign', '--deployment', file, '--key', 'cli-key', '--message-file', messageFile, '--json']);
    expect(sign.code).toBe(0);
    const signed = json(sign);
    expect(signed).toMatchObject({ ok: true, requestId: expect.any(String), message: '000102fffe' });
    const valid = await cli(['verify', '--deployment', file, '--key', 'cli-key', '--message-file', messageFile, '--signature', String(signed.signature), '--json']);
    expect(valid.code).toBe(0);
    expect(json(valid)).toEqual({ ok: true, valid: true, publicKey });
    const invalid = await cli(['verify', '--deployment', file, '--key', 'cli-key', '--message', 'other', '--signature', String(signed.signature), '--json']);
    expect(invalid.code).toBe(1);
    expect(json(invalid)).toMatchObject({ ok: false, code: 'invalid-signature', valid: false });
  });

  it('a bad request exits non-zero with a one-line reason: the typed error code and message', async () => {
    const run = await cli(['sign', '--deployment', file, '--key', 'no-such-key', '--message', 'x']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const reasons = run.stderr.split('\n').filter((line) => line.startsWith('frostline: '));
    expect(reasons).toEqual([expect.stringMatching(/^frostline: unknown-key: .*no-such-key.* \(request [0-9a-f-]{36}\)$/)]);

    const unknownInitiator = await cli(['key', '--deployment', file, '--initiator', 'mallory', '--key', 'cli-key', '--json']);
    expect(unknownInitiator.code).toBe(1);
    expect(unknownInitiator.stderr.trim().split('\n').at(-1)).toMatch(/^frostline: config: no initiator "mallory" in this deployment/);
    // --json: the failure is the one object on stdout too.
    expect(json(unknownInitiator)).toEqual({ ok: false, code: 'config', message: expect.stringMatching(/^no initiator "mallory" in this deployment/) });
  });

  it('audit verify reads a party table in its emulated account and finds the chain intact (in process)', async () => {
    const verdict: unknown = JSON.parse(await inProcess(['audit', 'verify', '--party', 'p2', '--deployment', file, '--json']));
    // At least p2's keygen decision (it may not have been among the signers).
    expect(verdict).toMatchObject({ party: 'p2', ok: true, records: expect.any(Number) });
    expect(verdict).not.toMatchObject({ records: 0 });
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('party purge-volatile deletes a restored unused nonce from a party table in its emulated account, and keeps the key share (in process)', async () => {
    const store = (await openDevDeployment(file)).partyStore('p2');
    const now = Math.floor(Date.now() / 1000);
    // What a restore from a backup taken between a commit and its package would put back.
    const revived = { pk: 'nonce#restored-session#1', sk: 'nonce' };
    await store.write([{ op: 'put', item: { ...revived, data: { keyId: 'cli-key' }, version: 1, expiresAt: now + 600 }, condition: { kind: 'none' } }], now);

    const result = JSON.parse(await inProcess(['party', 'purge-volatile', '--party', 'p2', '--deployment', file, '--json'])) as Record<string, unknown>;
    expect(result).toMatchObject({ ok: true, party: 'p2', waitSeconds: 900 });
    expect(result.purged).toContainEqual({ kind: 'nonce', pk: revived.pk, sk: 'nonce', keyId: 'cli-key', expired: false });
    expect(result.next).toMatch(/before p2's inbox handler \(run by `frostline dev up`\) handles messages again$/);
    expect(await store.get(revived)).toBeUndefined();
    expect(await store.get({ pk: 'key#cli-key', sk: 'share' })).toBeDefined();
  });
});
