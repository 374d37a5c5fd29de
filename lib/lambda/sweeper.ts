/**
 * The coordinator's scheduled sweeper, as a factory (the entry point is functions/sweeper.ts).
 * Each run asks the Coordinator to fail every session still open `stalledAfterMs` after it
 * started — a protocol operation (`Coordinator.expireStalled`): the same conditional write
 * as every other transition, and the initiator is sent a `timeout` result naming the phase
 * and the parties that never answered. The run logs each expired session and publishes
 * their count as the `StalledSessions` metric, which the coordinator stack alarms on.
 *
 * Logs public session data only: session id, kind, phase, key id, initiator and the
 * timeout reason. Requests, contributions and signatures are never logged.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { loadSweeperConfig } from '../config/sweeper.js';
import type { Coordinator, StalledSession } from '../protocol/coordinator.js';
import type { Session } from '../protocol/coordinator-state.js';
import { deriveSessionId } from '../protocol/envelope.js';
import { createObservability, MetricName, protocolLogger, ServiceName } from './observability.js';
import { clientsFor, createCoordinator } from './wiring.js';

/** What is logged for one expired session: public fields only. */
export interface ExpiredSession {
  readonly session: string;
  readonly kind: Session['kind'];
  /** The phase the session had stalled in (it is `failed` now). */
  readonly stalledIn: Session['phase'];
  readonly keyId: string;
  readonly initiator: string;
  readonly requestId: string;
  readonly reason: string;
}

/** The log record of a session `expireStalled` returned. */
export function expiredSession({ session, stalledIn }: StalledSession): ExpiredSession {
  return {
    session: deriveSessionId(session.initiator, session.requestId),
    kind: session.kind,
    stalledIn,
    keyId: session.keyId,
    initiator: session.initiator,
    requestId: session.requestId,
    reason: session.error?.message ?? 'timed out',
  };
}

export interface SweeperDeps {
  readonly coordinator: Pick<Coordinator, 'expireStalled'>;
  readonly stalledAfterMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface SweepResult {
  readonly expired: number;
}

/** One sweep per invocation; the metric is published even when the sweep throws. */
export function createSweeper(deps: SweeperDeps): () => Promise<SweepResult> {
  const { coordinator, stalledAfterMs, logger, metrics } = deps;
  return async () => {
    let expired = 0;
    try {
      const sessions = await coordinator.expireStalled(stalledAfterMs);
      expired = sessions.length;
      for (const session of sessions) logger.warn('session expired', { ...expiredSession(session) });
      logger.info('sweep finished', { expired, stalledAfterMinutes: stalledAfterMs / 60_000 });
      return { expired };
    } catch (error) {
      // A failure part-way: sessions already failed were each logged by the coordinator
      // ("session timed out") as they happened; the function error raises the Errors alarm.
      logger.error('sweep failed', { error: error instanceof Error ? { name: error.name, message: error.message } : String(error) });
      throw error;
    } finally {
      metrics.addMetric(MetricName.stalledSessions, MetricUnit.Count, expired);
      metrics.publishStoredMetrics();
    }
  };
}

/** The sweeper from the environment: coordinator runtime config plus the stall deadline. */
export function sweeperFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): () => Promise<SweepResult> {
  const config = loadSweeperConfig(env);
  const { logger, metrics } = createObservability(ServiceName.sweeper);
  const coordinator = createCoordinator(config.coordinator, { clients: clientsFor(config.coordinator), logger: protocolLogger(logger) });
  return createSweeper({ coordinator, stalledAfterMs: config.stalledAfterMs, logger, metrics });
}
