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

async function signReportsP1(dataDir: string, why: RegExp, secret: Buffer): Promise<void> {
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
  const unhealthy = result.unhealthyParties as { party: string; reason: string }[];
  expect(unhealthy.map((u) => u.party)).toEqual(['p1']);
  expect(unhealthy[0]?.reason).toMatch(why);
  expect(run.stdout + run.stderr).not.toContain(secret.toString('hex'));
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
    await signReportsP1(dataDir, /handler failed: decrypt-failed/, wrongKey);
  });

  test('a healthy cluster reports no unhealthy party', async () => {
    const dataDir = await clusterWithKey('healthy');
    const run = await cli.run(['sign', '--key', 'k', '--message', 'hi', '--data-dir', dataDir, '--json'], { timeoutMs: 180_000 });
    expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
    expect(jsonOf(run)).not.toHaveProperty('unhealthyParties');
    expect(run.stderr).not.toMatch(/^warning:/m);
  });
});
