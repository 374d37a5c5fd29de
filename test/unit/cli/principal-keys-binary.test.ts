/**
 * `frostline initiator create`, `approver create` and `config show-endpoints` through the
 * binary (docs/deploy.md, step 1 and "Where an application finds its queues"). The KMS
 * mode reads from a fake KMS HTTP server, as in config-pin-binary.test.ts.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDeploymentConfig } from '../../../lib/config/deployment.js';
import { buildCliBinary, type CliBinary, jsonOf, ROOT } from '../../support/cli-binary.js';
import { newEd25519Spki, startFakeKms, type FakeKms, type FakeKmsCall } from '../../support/fake-kms.js';

let cli: CliBinary;
let scratch: string;
let kms: FakeKms;
let endpoint: string;
const kmsSpki = newEd25519Spki();
let kmsCalls: FakeKmsCall[];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'frostline-principal-'));
  kms = await startFakeKms(() => kmsSpki);
  endpoint = kms.endpoint;
  kmsCalls = kms.calls;
  cli = await buildCliBinary();
});

afterAll(async () => {
  await kms?.close();
  await cli?.remove();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

const example = () => JSON.parse(readFileSync(join(ROOT, 'deploy', 'example.config.json'), 'utf8')) as { initiators: unknown[]; approvers: Record<string, unknown> };

describe('frostline initiator create / approver create (the binary)', () => {
  test('local: a 0600 PKCS#8 key whose SPKI is in an entry the config accepts, and that signs verifiably', async () => {
    const out = join(scratch, 'keys');
    const run = await cli.run(['initiator', 'create', '--id', 'billing', '--out', out, '--principal-arn', 'arn:aws:iam::555555555555:role/billing', '--keys', 'billing-hot', '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const result = jsonOf(run);
    const keyFile = join(out, 'billing.pem');
    expect(result).toMatchObject({ ok: true, kind: 'initiator', id: 'billing', keyFile, section: 'initiators' });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const pem = readFileSync(keyFile, 'utf8');
    // PKCS#8 armour, built at run time so that no key-shaped text is in the tree.
    expect(pem.startsWith(`-----BEGIN ${['PRIVATE', 'KEY'].join(' ')}-----`)).toBe(true);
    expect(run.stdout).not.toContain(pem.split('\n')[1]);
    const spki = createPublicKey(createPrivateKey(pem)).export({ format: 'der', type: 'spki' }).toString('hex');
    expect(result.publicKey).toEqual({ alg: 'ed25519', spki });
    const entry = result.entry as { publicKey: { spki: string } };
    expect(entry).toEqual({ id: 'billing', principalArn: 'arn:aws:iam::555555555555:role/billing', publicKey: { alg: 'ed25519', spki }, keys: ['billing-hot'], keygen: false });
    // The entry, pasted into a config, loads; and the key signs what that SPKI verifies.
    const config = example();
    config.initiators.push(entry);
    expect(() => parseDeploymentConfig(config)).not.toThrow();
    const message = Buffer.from('request');
    expect(verify(null, message, createPublicKey({ key: Buffer.from(entry.publicKey.spki, 'hex'), format: 'der', type: 'spki' }), sign(null, message, createPrivateKey(pem)))).toBe(true);

    // Never over an existing key: it may already be pinned.
    const again = await cli.run(['initiator', 'create', '--id', 'billing', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('exists');
    expect(readFileSync(keyFile, 'utf8')).toBe(pem);
  });

  test('approver, local: prints the "approvers" entry (human output)', async () => {
    const run = await cli.run(['approver', 'create', '--id', 'dave', '--out', join(scratch, 'approvers')]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toContain('add to "approvers" in the deployment config:');
    const spki = createPublicKey(createPrivateKey(readFileSync(join(scratch, 'approvers', 'dave.pem'), 'utf8'))).export({ format: 'der', type: 'spki' }).toString('hex');
    const entryText = run.stdout.slice(run.stdout.indexOf('{'), run.stdout.lastIndexOf('}') + 1);
    const entry = JSON.parse(entryText) as Record<string, unknown>;
    expect(entry).toEqual({ dave: { alg: 'ed25519', spki } });
    const config = example();
    Object.assign(config.approvers, entry);
    expect(() => parseDeploymentConfig(config)).not.toThrow();
  });

  test('KMS: reads the public key with GetPublicKey in the key\'s account and prints a kmsKeyArn entry', async () => {
    const arn = 'arn:aws:kms:eu-west-1:666666666666:alias/ops-request-signing';
    const run = await cli.run(['initiator', 'create', '--id', 'ops', '--kms-key-arn', arn, '--endpoint', endpoint, '--keygen', '--keys', '*', '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(kmsCalls).toContainEqual(expect.objectContaining({ account: '666666666666', keyId: arn }));
    expect(jsonOf(run)).toMatchObject({
      ok: true,
      publicKey: { alg: 'ed25519', spki: kmsSpki.toString('hex') },
      entry: { id: 'ops', kmsKeyArn: arn, keys: ['*'], keygen: true },
    });
  });

  test('usage: exactly one of --out and --kms-key-arn', async () => {
    const run = await cli.run(['approver', 'create', '--id', 'erin']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('give exactly one of --out DIR');
  });
});

describe('frostline --help', () => {
  test('lists the new commands by their full names', async () => {
    const help = await cli.run(['--help']);
    for (const command of ['initiator create', 'approver create', 'config show-endpoints']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });
});

describe('frostline config show-endpoints (the binary)', () => {
  test('the request queue and each initiator\'s result queue, from the config alone', async () => {
    const file = join(ROOT, 'deploy', 'example.config.json');
    const run = await cli.run(['config', 'show-endpoints', '--config', file, '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(jsonOf(run)).toEqual({
      ok: true,
      account: '444444444444',
      region: 'eu-west-1',
      requestQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-requests',
      initiators: [
        {
          id: 'payments',
          principalArn: 'arn:aws:iam::555555555555:role/payments-signer',
          resultQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-results-payments',
          resultDlqUrl: 'https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-results-payments-dlq',
        },
        {
          id: 'treasury',
          principalArn: 'arn:aws:iam::666666666666:role/treasury-admin',
          resultQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-results-treasury',
          resultDlqUrl: 'https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-results-treasury-dlq',
        },
      ],
    });
    const one = await cli.run(['config', 'show-endpoints', '--config', file, '--initiator', 'treasury']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-requests');
    expect(one.stdout).toContain('frostline-results-treasury');
    expect(one.stdout).not.toContain('frostline-results-payments');
    const none = await cli.run(['config', 'show-endpoints', '--config', file, '--initiator', 'nobody']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no initiator "nobody"');
  });
});

