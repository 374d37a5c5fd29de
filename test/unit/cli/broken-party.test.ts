/**
 * A broken party is named, not silent, and does not stop the others: with p1's store
 * overwritten by garbage (before: every command failed at open), or p1's master key
 * replaced (before: signing succeeded and nobody was told), `frostline sign` still signs
 * with p2 and p3, exits 0, and says on stderr and in --json that p1 failed and why.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildCliBinary, type CliBinary, jsonOf } from '../../support/cli-binary.js';
import { verifyWithNodeCrypto } from '../../support/ed25519.js';

let cli: CliBinary;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'frostline-cli-broken-party-'));
  cli = await buildCliBinary();
});

afterAll(async () => {
  await cli?.remove();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

async function clusterWithKey(name: string): Promise<string> {
  const dataDir = join(scratch, name);
  const keygen = await cli.run(['keygen', '--key-id', 'k', '--data-dir', dataDir], { timeoutMs: 180_000 });
  expect({ code: keygen.code, stderr: keygen.stderr }).toMatchObject({ code: 0 });
  return dataDir;
}

/**
 * `again`: whether the second run (right after the first) also names p1. A p1 that never made
 * a pool batch gets nothing in that run: a one-round signature goes to parties with pooled
 * commitments (p2, p3), and p1's refill was asked less than refillRetrySeconds ago.
 */
async function signReportsP1(dataDir: string, why: RegExp, secret: Buffer, again: 'names p1' | 'p1 not contacted' = 'names p1'): Promise<void> {
  const human = await cli.run(['sign', '--key', 'k', '--message', 'hello', '--data-dir', dataDir], { timeoutMs: 180_000 });
  expect({ code: human.code, stderr: human.stderr }).toMatchObject({ code: 0 });
  expect(human.stdout).toMatch(/signers\s+p2, p3/);
  expect(human.stderr).toMatch(new RegExp(`^warning: party p1 failed: .*${why.source}`, 'm'));
  expect(human.stderr).not.toContain(secret.toString('hex'));

  const run = await cli.run(['sign', '--key', 'k', '--message', 'hello', '--data-dir', dataDir, '--json'], { timeoutMs: 180_000 });
  expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
  const result = jsonOf(run);
  expect(result.signers).toEqual(['p2', 'p3']);
  expect(verifyWithNodeCrypto(String(result.publicKey), Buffer.from('hello'), String(result.signature))).toBe(true);
  expect(run.stdout + run.stderr).not.toContain(secret.toString('hex'));
  if (again === 'p1 not contacted') {
    expect(result).not.toHaveProperty('unhealthyParties');
    return;
  }
  const unhealthy = result.unhealthyParties as { party: string; reason: string }[];
  expect(unhealthy.map((u) => u.party)).toEqual(['p1']);
  expect(unhealthy[0]?.reason).toMatch(why);
}

describe('a broken party', () => {
  test('a store that is not SQLite: signing succeeds with p2, p3 and names p1 and why', async () => {
    const dataDir = await clusterWithKey('garbage-store');
    const garbage = randomBytes(4096);
    writeFileSync(join(dataDir, 'parties', 'p1', 'store.sqlite'), garbage);
    await signReportsP1(dataDir, /store did not open.*not a usable SQLite database/, garbage);
  });

  test('a wrong master key: signing succeeds with p2, p3 and names p1 and why', async () => {
    const dataDir = await clusterWithKey('wrong-master-key');
    const wrongKey = randomBytes(32);
    writeFileSync(join(dataDir, 'parties', 'p1', 'vault', 'master.key'), wrongKey, { mode: 0o600 });
    // The first run takes two rounds (no pools yet): p1 fails its sign.commit and its refill.
    // The second runs one round with p2's and p3's pools and sends p1 nothing (see signReportsP1).
    await signReportsP1(dataDir, /handler failed: decrypt-failed/, wrongKey, 'p1 not contacted');
  });

  test('a wrong master key after the pools filled: p1 is a one-round signer, fails, signing falls back to two rounds with p2, p3 and names p1 and why; then p1 is out of the pools', async () => {
    const dataDir = await clusterWithKey('wrong-master-key-pooled');
    // A healthy signature first: every party (p1 too) makes a batch of pool nonces.
    const healthy = await cli.run(['sign', '--key', 'k', '--message', 'fill the pools', '--data-dir', dataDir, '--json'], { timeoutMs: 180_000 });
    expect({ code: healthy.code, stderr: healthy.stderr }).toMatchObject({ code: 0 });
    const wrongKey = randomBytes(32);
    writeFileSync(join(dataDir, 'parties', 'p1', 'vault', 'master.key'), wrongKey, { mode: 0o600 });
    // The first run picks p1 for one round (it ties first by name): its sign.pooled fails to
    // decrypt, the signature falls back to two rounds, p1 is named. A signer silent past the
    // fallback leaves the pools, so the second run signs in one round with p2, p3 only.
    await signReportsP1(dataDir, /handler failed: decrypt-failed/, wrongKey, 'p1 not contacted');
  });

  test('a healthy cluster reports no unhealthy party', async () => {
    const dataDir = await clusterWithKey('healthy');
    const run = await cli.run(['sign', '--key', 'k', '--message', 'hi', '--data-dir', dataDir, '--json'], { timeoutMs: 180_000 });
    expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
    expect(jsonOf(run)).not.toHaveProperty('unhealthyParties');
    expect(run.stderr).not.toMatch(/^warning:/m);
  });
});
