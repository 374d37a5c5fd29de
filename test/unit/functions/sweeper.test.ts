/** The sweeper without AWS: what it asks the Coordinator, what it logs, what it publishes. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import { MetricName, METRICS_NAMESPACE, ServiceName } from '../../../lib/lambda/observability.js';
import { createSweeper, expiredSession } from '../../../lib/lambda/sweeper.js';
import { identityOnlyVault } from '../../../lib/lambda/wiring.js';
import { loadSweeperConfig, SweeperEnv } from '../../../lib/config/sweeper.js';
import { RuntimeEnv } from '../../../lib/config/runtime.js';
import { ConfigError } from '../../../lib/ports/errors.js';
import { Session } from '../../../lib/protocol/coordinator-state.js';
import { deriveSessionId } from '../../../lib/protocol/envelope.js';

const REQUEST_BODY = 'SECRET-ISH-REQUEST-BODY';

/** A sign session as expireStalled returns it: failed, with the timeout reason. */
const expired = Session.parse({
  request: { v: 1, type: 'sign.request', session: 'ab'.repeat(16), id: 'cd'.repeat(16), from: 'payments', to: 'coordinator', ts: 0, body: { secret: REQUEST_BODY }, sig: 'ef'.repeat(64) },
  requestFingerprint: '00'.repeat(32),
  initiator: 'payments',
  requestId: 'req-1',
  keyId: 'payments-hot',
  createdAt: 0,
  error: { code: 'timeout', message: 'sign session stalled in phase commit for 16 min; no answer from p3' },
  refused: {},
  kind: 'sign',
  phase: 'failed',
  attempt: 1,
  excluded: [],
  commitments: {},
  signers: [],
  shares: {},
});

function observed() {
  const logger = new Logger({ serviceName: ServiceName.sweeper, logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.sweeper });
  return {
    logger,
    metrics,
    warn: vi.spyOn(logger, 'warn'),
    addMetric: vi.spyOn(metrics, 'addMetric').mockImplementation(() => metrics),
    publish: vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics),
  };
}

describe('sweeper', () => {
  it('times out through the Coordinator, logs each expired session (public fields only) and publishes the count', async () => {
    const o = observed();
    const expireStalled = vi.fn(async () => [
      { session: expired, stalledIn: 'commit' as const },
      { session: { ...expired, requestId: 'req-2' }, stalledIn: 'commit' as const },
    ]);
    const sweep = createSweeper({ coordinator: { expireStalled }, stalledAfterMs: 15 * 60_000, logger: o.logger, metrics: o.metrics });
    await expect(sweep()).resolves.toEqual({ expired: 2 });
    expect(expireStalled).toHaveBeenCalledWith(15 * 60_000);
    expect(o.warn).toHaveBeenCalledTimes(2);
    expect(o.warn).toHaveBeenCalledWith('session expired', {
      session: deriveSessionId('payments', 'req-1'),
      kind: 'sign',
      stalledIn: 'commit',
      keyId: 'payments-hot',
      initiator: 'payments',
      requestId: 'req-1',
      reason: 'sign session stalled in phase commit for 16 min; no answer from p3',
    });
    expect(JSON.stringify(o.warn.mock.calls)).not.toContain(REQUEST_BODY);
    expect(o.addMetric).toHaveBeenCalledWith(MetricName.stalledSessions, 'Count', 2);
    expect(o.publish).toHaveBeenCalledTimes(1);
  });

  it('publishes zero when nothing stalled, and still publishes when the sweep throws', async () => {
    const o = observed();
    await createSweeper({ coordinator: { expireStalled: async () => [] }, stalledAfterMs: 60_000, logger: o.logger, metrics: o.metrics })();
    expect(o.addMetric).toHaveBeenLastCalledWith(MetricName.stalledSessions, 'Count', 0);
    const failing = createSweeper({ coordinator: { expireStalled: () => Promise.reject(new Error('kms down')) }, stalledAfterMs: 60_000, logger: o.logger, metrics: o.metrics });
    await expect(failing()).rejects.toThrow('kms down');
    expect(o.publish).toHaveBeenCalledTimes(2);
  });

  it('the log record names the session the coordinator derives', () => {
    expect(expiredSession({ session: expired, stalledIn: 'sign' }).session).toBe(deriveSessionId(expired.initiator, expired.requestId));
  });

  it('needs the coordinator runtime contract and the stall deadline, every problem at once', () => {
    let message = '';
    try {
      loadSweeperConfig({ [RuntimeEnv.role]: 'party', [SweeperEnv.stalledAfterMinutes]: '0' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^invalid sweeper configuration/);
    for (const name of [RuntimeEnv.tableName, RuntimeEnv.identityKeyId, RuntimeEnv.directory, RuntimeEnv.queueUrls, SweeperEnv.stalledAfterMinutes]) {
      expect(message).toContain(name);
    }
  });
});

describe('coordinator vault', () => {
  it('signs through the identity key and refuses data keys before any KMS call', async () => {
    const signer = { signIdentity: vi.fn(async () => new Uint8Array([1])), identityPublicKey: vi.fn(async () => ({ alg: 'ed25519' as const, spki: '00' })) };
    const vault = identityOnlyVault(signer);
    await expect(vault.signIdentity(new Uint8Array([9]))).resolves.toEqual(new Uint8Array([1]));
    await expect(vault.generateDataKey({ service: 'frostline' })).rejects.toThrow(/coordinator has no master key/);
    await expect(vault.decryptDataKey(new Uint8Array([1]), { service: 'frostline' })).rejects.toBeInstanceOf(ConfigError);
    expect(signer.signIdentity).toHaveBeenCalledTimes(1);
  });
});
