/**
 * Concurrent `frostline` runs on one data directory take turns (its lock file) and all
 * succeed: two `keygen`s on a fresh directory (both would create the cluster: before, one
 * failed with `ENOENT cluster.json.tmp`, or each wrote its own secrets), then three `sign`s
 * (before, two failed with `no-result`: each process wrote back its own copy of the stores).
 * A lock held by a live process is waited for and then named; one left by a dead process
 * is taken over.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildCliBinary, type CliBinary, jsonOf } from '../../support/cli-binary.js';
import { verifyWithNodeCrypto } from '../../support/ed25519.js';

let cli: CliBinary;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'frostline-cli-concurrency-'));
  cli = await buildCliBinary();
});

afterAll(async () => {
  await cli?.remove();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('concurrent CLI runs on one data directory', () => {
  test('two keygens on a fresh directory, then three signs: every run exits 0', async () => {
    const dataDir = join(scratch, 'shared');
    const keygens = await Promise.all(['ka', 'kb'].map((keyId) => cli.run(['keygen', '--key-id', keyId, '--data-dir', dataDir, '--json'])));
    for (const run of keygens) expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
    const keys = jsonOf(await cli.run(['keys', '--data-dir', dataDir, '--json']));
    expect((keys.keys as { keyId: string }[]).map((k) => k.keyId).sort()).toEqual(['ka', 'kb']);

    const messages = ['one', 'two', 'three'];
    const signs = await Promise.all(messages.map((message) => cli.run(['sign', '--key', 'ka', '--message', message, '--data-dir', dataDir, '--json'])));
    signs.forEach((run, i) => {
      expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
      const result = jsonOf(run);
      expect(verifyWithNodeCrypto(String(result.publicKey), new TextEncoder().encode(messages[i]), String(result.signature))).toBe(true);
    });
    // Whoever waited said so, naming the holder.
    expect(signs.some((run) => /^waiting for .*: in use by frostline sign --key ka \(pid \d+\) …$/m.test(run.stderr))).toBe(true);
    expect(readdirSync(dataDir).filter((name) => name.endsWith('.lock') || name.endsWith('.tmp'))).toEqual([]);
  });

  test('a lock held by a live process: waited for, then one line naming it (exit 3); a dead holder\'s lock is taken over', async () => {
    const dataDir = join(scratch, 'locked');
    expect((await cli.run(['keygen', '--key-id', 'k', '--data-dir', dataDir])).code).toBe(0);
    const lock = join(dataDir, 'frostline.lock');

    // This test process is alive.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), command: 'frostline sign --key k', since: '2025-01-01T00:00:00.000Z' }));
    const held = await cli.run(['keys', '--data-dir', dataDir], { env: { FROSTLINE_LOCK_TIMEOUT: '1' } });
    expect(held.code).toBe(3);
    expect(held.stderr.trimEnd().split('\n')).toEqual([
      `waiting for ${dataDir}: in use by frostline sign --key k (pid ${process.pid}) …`,
      `frostline: locked: ${lock} is held by frostline sign --key k (pid ${process.pid}, since 2025-01-01T00:00:00.000Z); gave up after 1 s (FROSTLINE_LOCK_TIMEOUT=SECONDS waits longer; if that process is gone, delete the lock file)`,
    ]);

    // A process that has exited (killed while holding the lock, say).
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), command: 'frostline sign --key k', since: '2025-01-01T00:00:00.000Z' }));
    const taken = await cli.run(['keys', '--data-dir', dataDir], { env: { FROSTLINE_LOCK_TIMEOUT: '1' } });
    expect({ code: taken.code, stderr: taken.stderr }).toEqual({ code: 0, stderr: '' });
    expect(readdirSync(dataDir).filter((name) => name.includes('.lock'))).toEqual([]);
  });
});
