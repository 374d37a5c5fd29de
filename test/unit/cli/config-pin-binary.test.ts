/**
 * `frostline config pin` through the binary (docs/deploy.md step 4, and what `cdk synth`
 * tells an operator to run): reachable, and it pins every identity key of
 * deploy/example.config.json. KMS is a fake HTTP server here, in the role moto plays in the
 * rehearsal: each key is read as its own account (`--endpoint`: the x-moto-account-id
 * header, fake credentials), so the test needs neither AWS nor Python.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadDeploymentConfig, missingPins } from '../../../lib/config/deployment.js';
import { buildCliBinary, type CliBinary, jsonOf, ROOT } from '../../support/cli-binary.js';
import { newEd25519Spki, startFakeKms, type FakeKms, type FakeKmsCall } from '../../support/fake-kms.js';

let cli: CliBinary;
let scratch: string;
let kms: FakeKms;
let endpoint: string;
let calls: FakeKmsCall[];
/** Ed25519 SPKI (DER) per key id; made on first request, replaceable by a test. */
const keys = new Map<string, Buffer>();
const newSpki = newEd25519Spki;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'frostline-pin-binary-'));
  kms = await startFakeKms((keyId) => {
    let spki = keys.get(keyId);
    if (spki === undefined) {
      spki = newSpki();
      keys.set(keyId, spki);
    }
    return spki;
  });
  ({ endpoint, calls } = kms);
  cli = await buildCliBinary();
});

afterAll(async () => {
  await kms?.close();
  await cli?.remove();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

function unpinnedExample(): string {
  const file = join(scratch, `config-${calls.length}.json`);
  const json = JSON.parse(readFileSync(join(ROOT, 'deploy', 'example.config.json'), 'utf8')) as Record<string, unknown>;
  delete json.pinned;
  writeFileSync(file, JSON.stringify(json, null, 2));
  return file;
}

describe('frostline config pin (the binary)', () => {
  test('pins the coordinator, every party and the KMS initiator of the example config, each read in its own account', async () => {
    const file = unpinnedExample();
    expect(missingPins(await loadDeploymentConfig(file))).toHaveLength(5);
    const run = await cli.run(['config', 'pin', file, '--endpoint', endpoint]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.trimEnd().split('\n')).toEqual([
      'added     pinned.coordinator',
      'added     pinned.parties.p1',
      'added     pinned.parties.p2',
      'added     pinned.parties.p3',
      'added     pinned.initiators.treasury',
      `wrote ${file}`,
    ]);
    const config = await loadDeploymentConfig(file);
    expect(missingPins(config)).toEqual([]);
    const p2 = 'arn:aws:kms:eu-central-1:222222222222:alias/frostline/p2/identity';
    expect(config.pinned.parties.p2).toEqual({ alg: 'ed25519', spki: keys.get(p2)?.toString('hex') });
    expect(calls).toContainEqual({ account: '222222222222', target: 'TrentService.GetPublicKey', keyId: p2 });
    expect(calls).toContainEqual({ account: '666666666666', target: 'TrentService.GetPublicKey', keyId: 'arn:aws:kms:eu-west-1:666666666666:alias/treasury-request-signing' });

    // Again: nothing changes. --json: one object.
    const again = await cli.run(['config', 'pin', file, '--endpoint', endpoint, '--json']);
    expect(again.code).toBe(0);
    expect(jsonOf(again)).toMatchObject({ ok: true, file, written: false, keys: { 'pinned.parties.p1': { status: 'unchanged', alg: 'ed25519' } } });
  });

  test('a rotated key is refused on one line (exit 1) until --replace', async () => {
    const file = unpinnedExample();
    expect((await cli.run(['config', 'pin', file, '--endpoint', endpoint])).code).toBe(0);
    keys.set('arn:aws:kms:eu-west-1:111111111111:alias/frostline/p1/identity', newSpki());
    const refused = await cli.run(['config', 'pin', file, '--endpoint', endpoint]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^frostline: config: cannot pin identity keys \(1 problem\): pinned\.parties\.p1: KMS now holds a different key than the one pinned; if you rotated it, pin again with --replace$/),
    ]);
    const replaced = await cli.run(['config', 'pin', file, '--endpoint', endpoint, '--replace']);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toMatch(/^replaced {2}pinned\.parties\.p1$/m);
  });

  test('usage: a missing file is an io error (exit 3); --endpoint with --profile is a usage error (exit 2)', async () => {
    const missing = await cli.run(['config', 'pin', join(scratch, 'absent.json'), '--endpoint', endpoint]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^frostline: io: cannot read the deployment config .*absent\.json: ENOENT/);
    const mixed = await cli.run(['config', 'pin', unpinnedExample(), '--endpoint', endpoint, '--profile', 'admin']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/^frostline: usage: --endpoint and --profile\/--profile-for are mutually exclusive/);
  });
});
