/**
 * `frostline keygen|sign|key|audit verify --config FILE`: the argument and config errors,
 * each refused before any AWS call (the example config names accounts that do not exist,
 * so any call would fail differently). The happy path runs against deployed stacks in
 * test/integration/ministack-deploy.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createSqsClient } from '../../../lib/adapters/aws/clients.js';
import { DeploymentConnection } from '../../../lib/adapters/aws/deployment-connection.js';
import { buildProgram } from '../../../lib/cli/program.js';
import { loadDeploymentConfig } from '../../../lib/config/deployment.js';
import { FrostlineError } from '../../../lib/ports/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'frostline-config-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXAMPLE = join(process.cwd(), 'deploy', 'example.config.json');

function unpinnedCopy(): string {
  const file = join(dir, 'unpinned.config.json');
  const json = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
  delete json.pinned;
  writeFileSync(file, JSON.stringify(json, null, 2));
  return file;
}

function pemFile(name: string, content?: string): string {
  const file = join(dir, name);
  writeFileSync(file, content ?? generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
  return file;
}

/** Runs the CLI in process; resolves with the error it failed with (the test fails if it succeeded). */
async function failure(args: readonly string[]): Promise<FrostlineError> {
  try {
    await buildProgram().parseAsync([...args], { from: 'user' });
  } catch (error) {
    if (error instanceof FrostlineError) return error;
    throw error;
  }
  throw new Error(`frostline ${args.join(' ')} succeeded`);
}

describe('frostline request commands with --config', () => {
  test('refuses an unpinned config, naming what is missing and what to run', async () => {
    const error = await failure(['keygen', '--config', unpinnedCopy(), '--initiator', 'payments', '--key-file', pemFile('any.pem'), '--key-id', 'k']);
    expect(error.code).toBe('config');
    expect(error.message).toMatch(/is not pinned \(missing pinned\.coordinator, pinned\.parties\.p1, .*pinned\.initiators\.treasury\): run `frostline config pin`/);
    expect(error.message).not.toMatch(/\n/);
  });

  test('refuses an unknown initiator, and needs --initiator when the config has several', async () => {
    const unknown = await failure(['key', '--config', EXAMPLE, '--initiator', 'mallory', '--key', 'treasury']);
    expect(unknown.message).toBe(`no initiator "mallory" in deployment config ${EXAMPLE} (it has payments, treasury)`);
    const none = await failure(['key', '--config', EXAMPLE, '--key', 'treasury']);
    expect(none.message).toMatch(/has 2 initiators \(payments, treasury\); choose one \(--initiator ID\)$/);
  });

  test('refuses a key file whose public key is not the one pinned for the initiator, without echoing the key', async () => {
    const file = pemFile('other.pem');
    const error = await failure(['sign', '--config', EXAMPLE, '--initiator', 'payments', '--key-file', file, '--key', 'treasury', '--message', 'x']);
    expect(error.message).toBe(`the key in the key file is not the key pinned for initiator "payments" in deployment config ${EXAMPLE}`);

    // PEM armour around bytes that are not a key (built here, so no key-shaped text is committed).
    const armour = (edge: string) => `-----${edge} ${['PRIVATE', 'KEY'].join(' ')}-----`;
    const garbage = pemFile('garbage.pem', `${armour('BEGIN')}\nc2VjcmV0LXNlY3JldA==\n${armour('END')}\n`);
    const unreadable = await failure(['sign', '--config', EXAMPLE, '--initiator', 'payments', '--key-file', garbage, '--key', 'treasury', '--message', 'x']);
    expect(unreadable.message).toBe('the key file of initiator "payments" is not an Ed25519 or P-256 private key in PKCS#8 PEM');
    expect(unreadable.message).not.toMatch(/c2VjcmV0/);

    const missing = await failure(['key', '--config', EXAMPLE, '--initiator', 'payments', '--key-file', join(dir, 'absent.pem'), '--key', 'treasury']);
    expect(missing.message).toMatch(/^cannot read --key-file .*absent\.pem \(ENOENT\)$/);
  });

  test('an initiator with a publicKey needs --key-file', async () => {
    const error = await failure(['key', '--config', EXAMPLE, '--initiator', 'payments', '--key', 'treasury']);
    expect(error.message).toMatch(/initiator "payments" signs with a key of its own .*give its PKCS#8 PEM private key \(--key-file FILE\)$/);
  });

  test('--config and --deployment are mutually exclusive; config-only options need --config; --profile excludes --endpoint', async () => {
    for (const args of [
      ['keygen', '--config', EXAMPLE, '--deployment', 'dev.json', '--key-id', 'k'],
      ['sign', '--config', EXAMPLE, '--deployment', 'dev.json', '--key', 'k', '--message', 'x'],
      ['audit', 'verify', '--party', 'p1', '--config', EXAMPLE, '--deployment', 'dev.json'],
    ]) {
      const error = await failure(args);
      expect(error.code).toBe('usage');
      expect(error.message).toMatch(/^--deployment FILE .* and --config FILE .* are mutually exclusive: give one$/);
    }
    const keyFile = await failure(['key', '--deployment', 'dev.json', '--key-file', 'k.pem', '--profile', 'ops', '--key', 'k']);
    expect(keyFile).toMatchObject({ code: 'usage', message: '--key-file, --profile need --config FILE' });
    const region = await failure(['audit', 'verify', '--party', 'p1', '--region', 'eu-west-1']);
    expect(region).toMatchObject({ code: 'usage', message: '--region needs --config FILE' });
    const both = await failure(['key', '--config', EXAMPLE, '--profile', 'ops', '--endpoint', 'http://127.0.0.1:4566', '--key', 'k']);
    expect(both).toMatchObject({ code: 'usage', message: expect.stringMatching(/^--profile and --endpoint are mutually exclusive/) });
  });

  test('--approvers (local development keys) is refused with --config', async () => {
    const error = await failure(['sign', '--config', EXAMPLE, '--initiator', 'payments', '--key', 'treasury', '--message', 'x', '--approvers', 'alice']);
    expect(error).toMatchObject({ code: 'usage', message: expect.stringMatching(/^--approvers signs with local development keys and needs --deployment FILE/) });
  });

  test('audit verify --config refuses an unknown party', async () => {
    const error = await failure(['audit', 'verify', '--party', 'p9', '--config', EXAMPLE]);
    expect(error.message).toBe(`no party "p9" in deployment config ${EXAMPLE} (it has p1, p2, p3)`);
  });
});

describe('DeploymentConnection', () => {
  test("derives the party's table and region from the config, with the profile's credentials", async () => {
    const config = await loadDeploymentConfig(EXAMPLE);
    const store = new DeploymentConnection(config, { profile: 'p2-auditor' }).partyStore('p2');
    expect(store).toMatchObject({ tableName: 'frostline-p2-store' });
  });

  test('a profile is never combined with an emulator account (fake credentials)', () => {
    expect(() => createSqsClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566', accountId: '111111111111', profile: 'ops' })).toThrow(
      /profile is for real AWS/,
    );
    expect(createSqsClient({ region: 'eu-west-1', profile: 'ops' }).config.profile).toBe('ops');
  });
});
