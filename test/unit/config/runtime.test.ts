import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { environmentSize, LAMBDA_ENVIRONMENT_LIMIT_BYTES, loadRuntimeConfig, RuntimeEnv, runtimeEnvironment, type RuntimeConfig } from '../../../lib/config/runtime.js';
import { ConfigError } from '../../../lib/ports/errors.js';

const spki = (type: 'ed25519' | 'p256') =>
  (type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })).publicKey
    .export({ format: 'der', type: 'spki' })
    .toString('hex');

const directory = {
  coordinator: { alg: 'p256' as const, spki: spki('p256') },
  parties: { p1: { alg: 'ed25519' as const, spki: spki('ed25519') }, p2: { alg: 'ed25519' as const, spki: spki('ed25519') } },
  initiators: { app: { alg: 'ed25519' as const, spki: spki('ed25519') } },
};
const queue = (name: string) => `https://sqs.eu-west-1.amazonaws.com/111111111111/${name}`;
const party: RuntimeConfig = {
  role: 'party',
  partyId: 'p1',
  policy: { maxMessageBytes: 1024, initiators: { app: { keygen: true, keys: ['*'] } } },
  region: 'eu-west-1',
  tableName: 'frostline-p1',
  masterKeyId: 'alias/frostline-master',
  identityKeyId: 'alias/frostline-identity',
  identityAlgorithm: 'ed25519',
  directory,
  queueUrls: { coordinator: queue('coordinator'), parties: {}, initiators: {} },
};

function problemsOf(env: Record<string, string | undefined>): string {
  try {
    loadRuntimeConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadRuntimeConfig', () => {
  it('round-trips a party configuration through the environment', () => {
    expect(loadRuntimeConfig(runtimeEnvironment(party))).toEqual(party);
  });

  it('defaults the identity algorithm to ed25519', () => {
    const env = runtimeEnvironment(party);
    delete env[RuntimeEnv.identityAlgorithm];
    expect(loadRuntimeConfig(env).identityAlgorithm).toBe('ed25519');
  });

  it('reports every problem at once, naming variables but never echoing values', () => {
    const message = problemsOf({
      [RuntimeEnv.role]: 'party',
      [RuntimeEnv.region]: 'nowhere',
      [RuntimeEnv.directory]: '{not json, secret-ish-value',
      [RuntimeEnv.queueUrls]: JSON.stringify({ coordinator: 'ftp://x' }),
      [RuntimeEnv.emulatorAccountId]: '123456789012',
    });
    for (const name of [
      RuntimeEnv.region,
      RuntimeEnv.tableName,
      RuntimeEnv.masterKeyId,
      RuntimeEnv.identityKeyId,
      RuntimeEnv.directory,
      RuntimeEnv.queueUrls,
      RuntimeEnv.partyId,
      RuntimeEnv.policy,
      RuntimeEnv.emulatorAccountId,
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain('secret-ish-value');
  });

  it('checks consistency: the party is in the directory; the coordinator has a queue for everyone', () => {
    expect(problemsOf({ ...runtimeEnvironment(party), [RuntimeEnv.partyId]: 'p9' })).toContain('party "p9" is not in');
    const coordinator: RuntimeConfig = { ...party, role: 'coordinator', partyId: undefined, policy: undefined, queueUrls: { coordinator: queue('c'), parties: { p1: queue('p1') }, initiators: {} } };
    const env = runtimeEnvironment(coordinator);
    const message = problemsOf(env);
    expect(message).toContain('no inbox for party "p2"');
    expect(message).toContain('no result queue for initiator "app"');
  });

  it('needs a master key for a party only: the coordinator wraps no data keys', () => {
    const env = runtimeEnvironment(party);
    delete env[RuntimeEnv.masterKeyId];
    expect(problemsOf(env)).toContain(`${RuntimeEnv.masterKeyId}: is required for role party`);
    const coordinator: RuntimeConfig = {
      role: 'coordinator',
      region: 'eu-west-1',
      tableName: 'frostline-coordinator-sessions',
      identityKeyId: 'alias/frostline-coordinator-identity',
      identityAlgorithm: 'p256',
      directory,
      queueUrls: { coordinator: queue('c'), parties: { p1: queue('p1'), p2: queue('p2') }, initiators: { app: queue('app') } },
    };
    const coordinatorEnv = runtimeEnvironment(coordinator);
    expect(coordinatorEnv).not.toHaveProperty(RuntimeEnv.masterKeyId);
    expect(loadRuntimeConfig(coordinatorEnv)).toEqual(coordinator);
    // Still accepted (and unused) when a set-up provisions one anyway.
    expect(loadRuntimeConfig({ ...coordinatorEnv, [RuntimeEnv.masterKeyId]: 'alias/x' })).toEqual({ ...coordinator, masterKeyId: 'alias/x' });
  });

  it('measures an environment as Lambda does: names and values, UTF-8 bytes', () => {
    expect(environmentSize({ AB: 'cd', E: '\u00e9' })).toEqual({ bytes: 7, largest: [['AB', 4], ['E', 3]] });
    expect(LAMBDA_ENVIRONMENT_LIMIT_BYTES).toBe(4096);
  });

  it('refuses a pinned key that does not hold what it declares', () => {
    const env = runtimeEnvironment({ ...party, directory: { ...directory, coordinator: { alg: 'ed25519', spki: spki('p256') } } });
    expect(problemsOf(env)).toContain('at coordinator: not a usable ed25519 public key');
  });

  it('signs with delegated keys unless FROSTLINE_DELEGATED_KEYS is off; any other value is refused', () => {
    expect(loadRuntimeConfig(runtimeEnvironment(party)).delegatedKeys).toBeUndefined();
    const off = runtimeEnvironment({ ...party, delegatedKeys: false });
    expect(off[RuntimeEnv.delegatedKeys]).toBe('off');
    expect(loadRuntimeConfig(off).delegatedKeys).toBe(false);
    expect(problemsOf({ ...off, [RuntimeEnv.delegatedKeys]: 'no' })).toContain(RuntimeEnv.delegatedKeys);
  });

  it('accepts the emulator account only together with an endpoint override', () => {
    const env = runtimeEnvironment({ ...party, emulatorAccountId: '123456789012' });
    expect(problemsOf(env)).toContain(RuntimeEnv.emulatorAccountId);
    expect(loadRuntimeConfig({ ...env, [RuntimeEnv.endpoint]: 'http://127.0.0.1:5000' }).emulatorAccountId).toBe('123456789012');
  });
});
