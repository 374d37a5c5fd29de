import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { directoryOf, loadDeploymentConfig, missingPins, parseDeploymentConfig, partyDirectoryOf, partyPolicyOf } from '../../lib/config/deployment.js';
import { coordinatorNames, initiatorNames, partyNames } from '../../lib/config/names.js';
import { ConfigError } from '../../lib/ports/errors.js';
import { EXAMPLE_CONFIG_PATH, exampleInput, p256Key } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'frostline-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(value: unknown): string {
  try {
    parseDeploymentConfig(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('deployment config', () => {
  test('the example loads: three parties in three accounts, a coordinator in a fourth, all pinned', async () => {
    const config = await loadDeploymentConfig(EXAMPLE_CONFIG_PATH);
    expect(config.parties.map((p) => p.account)).toEqual(['111111111111', '222222222222', '333333333333']);
    expect(config.coordinator.account).toBe('444444444444');
    expect(config.identityKeySpec).toBe('ed25519');
    expect(missingPins(config)).toEqual([]);
    expect(Object.keys(directoryOf(config)?.initiators ?? {}).sort()).toEqual(['payments', 'treasury']);
    const p1 = config.parties[0];
    if (p1 === undefined) throw new Error('no p1');
    expect(partyPolicyOf(config, p1)).toEqual({
      maxMessageBytes: 65536,
      initiators: { payments: { keygen: false, keys: ['payments-hot'] }, treasury: { keygen: true, keys: ['*'] } },
      keys: { 'treasury-cold': { approvals: { quorum: 2, approvers: ['alice', 'bob', 'carol'] } } },
    });
    expect(Object.keys(partyDirectoryOf(config, p1)?.approvers ?? {})).toEqual(['alice', 'bob', 'carol']);
    // The coordinator relays approvals; it never checks them.
    expect(directoryOf(config)?.approvers).toBeUndefined();
  });

  test('without key rules a party gets no keys section and no approvers', () => {
    const { policy: _policy, approvers: _approvers, ...input } = exampleInput();
    const config = parseDeploymentConfig(input);
    const p1 = config.parties[0];
    if (p1 === undefined) throw new Error('no p1');
    expect(partyPolicyOf(config, p1)).not.toHaveProperty('keys');
    expect(partyDirectoryOf(config, p1)).not.toHaveProperty('approvers');
  });

  test('key rules: approvers must be pinned, listed once, and reach the quorum; every problem with its path', () => {
    const input = exampleInput();
    const message = problemsOf({
      ...input,
      approvers: { ...input.approvers, mallory: { alg: 'ed25519', spki: 'abcd' } },
      policy: {
        keys: {
          'treasury-cold': { approvals: { quorum: 4, approvers: ['alice', 'bob', 'carol'] } },
          '*': { approvals: { quorum: 1, approvers: ['alice', 'alice', 'zed'] }, maxMessageBytes: 1_000_000 },
        },
      },
      parties: (input.parties ?? []).map((p) => (p.id === 'p3' ? { ...p, policy: { keys: { hot: { approvals: { quorum: 1, approvers: ['yuri'] } } } } } : p)),
    });
    expect(message).toMatch(/policy\.keys\.treasury-cold\.approvals: quorum exceeds the number of approvers/);
    // Cross checks run once the schema passes.
    const crossChecked = problemsOf({
      ...input,
      approvers: { ...input.approvers, mallory: { alg: 'ed25519', spki: 'abcd' } },
      policy: { keys: { '*': { approvals: { quorum: 1, approvers: ['alice', 'alice', 'zed'] }, maxMessageBytes: 1_000_000 } } },
      parties: (input.parties ?? []).map((p) => (p.id === 'p3' ? { ...p, policy: { keys: { hot: { approvals: { quorum: 1, approvers: ['yuri'] } } } } } : p)),
    });
    expect(crossChecked).toMatch(/approvers\.mallory: not a usable ed25519 public key/);
    expect(crossChecked).toMatch(/policy\.keys\.\*\.approvals\.approvers: "alice" appears more than once/);
    expect(crossChecked).toMatch(/policy\.keys\.\*\.approvals\.approvers: "zed" is not in approvers/);
    expect(crossChecked).toMatch(/policy\.keys\.\*\.maxMessageBytes: at most 131072/);
    expect(crossChecked).toMatch(/parties\.p3\.policy\.keys\.hot\.approvals\.approvers: "yuri" is not in approvers/);
  });

  test('every problem is reported at once, with its path', () => {
    const input = exampleInput();
    const message = problemsOf({
      ...input,
      coordinator: { account: '4444', region: 'mars' },
      parties: [
        { id: 'p1', account: '111111111111', region: 'eu-west-1' },
        { id: 'p1', account: '111111111111', region: 'eu-west-1' },
      ],
      extra: true,
    });
    expect(message).toMatch(/coordinator\.account: expected a 12-digit AWS account id/);
    expect(message).toMatch(/coordinator\.region: expected an AWS region/);
    expect(message).toMatch(/Unrecognized key.*extra/);
  });

  test('cross checks: duplicate ids and accounts, party in the coordinator account, key kind, pins for unknown names', () => {
    const input = exampleInput();
    const message = problemsOf({
      ...input,
      parties: [
        { id: 'p1', account: '111111111111', region: 'eu-west-1' },
        { id: 'p1', account: '111111111111', region: 'eu-west-1' },
        { id: 'p3', account: '444444444444', region: 'eu-west-1' },
      ],
      pinned: { coordinator: p256Key(), parties: { p9: p256Key() } },
    });
    expect(message).toMatch(/parties: id "p1" appears more than once/);
    expect(message).toMatch(/account 111111111111 holds more than one party/);
    expect(message).toMatch(/party "p3" is in the coordinator's account/);
    expect(message).toMatch(/pinned\.coordinator: is p256 but identityKeySpec is ed25519/);
    expect(message).toMatch(/pinned\.parties\.p9: no such party/);
  });

  test('an initiator gives exactly one of publicKey and kmsKeyArn, and a principal', () => {
    const input = exampleInput();
    const message = problemsOf({
      ...input,
      initiators: [{ id: 'app', principalArn: 'arn:aws:iam::555555555555:role/app', keys: ['k'] }, { id: 'bad', principalArn: '*', keys: ['k'], kmsKeyArn: 'arn:aws:kms:eu-west-1:555555555555:alias/x' }],
    });
    expect(message).toMatch(/initiators\.0: give exactly one of publicKey or kmsKeyArn/);
    expect(message).toMatch(/initiators\.1\.principalArn: expected an IAM role or user ARN/);
  });

  test('a malformed public key is refused', () => {
    const input = exampleInput();
    expect(problemsOf({ ...input, pinned: { parties: { p1: { alg: 'ed25519', spki: 'abcd' } } } })).toMatch(/pinned\.parties\.p1: not a usable ed25519 public key/);
  });

  test('names that would exceed service limits are refused', () => {
    const input = exampleInput();
    const long = 'p'.repeat(60);
    expect(problemsOf({ ...input, parties: [{ id: long, account: '111111111111', region: 'eu-west-1' }, { id: 'p2', account: '222222222222', region: 'eu-west-1' }], pinned: {} })).toMatch(
      /role name "frostline-p{60}-inbox-handler" is \d+ characters; the limit is 64/,
    );
  });

  test('unreadable and non-JSON files are ConfigErrors naming the file', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ nope');
    await expect(loadDeploymentConfig(file)).rejects.toThrow(/bad\.json is not valid JSON/);
    await expect(loadDeploymentConfig(join(dir, 'missing.json'))).rejects.toThrow(ConfigError);
  });

  test('deterministic names: every cross-account reference is known before deployment', () => {
    const config = parseDeploymentConfig(exampleInput());
    const p2 = config.parties[1];
    if (p2 === undefined) throw new Error('no p2');
    expect(partyNames(config, p2)).toMatchObject({
      stack: 'frostline-p2',
      handlerRoleArn: 'arn:aws:iam::222222222222:role/frostline-p2-inbox-handler',
      identityKeyAliasArn: 'arn:aws:kms:eu-central-1:222222222222:alias/frostline/p2/identity',
      inbox: { url: 'https://sqs.eu-central-1.amazonaws.com/222222222222/frostline-p2-inbox', arn: 'arn:aws:sqs:eu-central-1:222222222222:frostline-p2-inbox' },
    });
    expect(coordinatorNames(config).requests.url).toBe('https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-requests');
    const payments = config.initiators[0];
    if (payments === undefined) throw new Error('no initiator');
    expect(initiatorNames(config, payments).results.name).toBe('frostline-results-payments');
  });
});
