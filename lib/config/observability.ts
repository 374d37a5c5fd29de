/**
 * The names the functions publish metrics under and the CDK stacks alarm on: one place, so
 * that an alarm cannot watch a metric nobody emits. Powertools Metrics (CloudWatch EMF)
 * publishes every metric in `METRICS_NAMESPACE` with one dimension, `service`, whose value
 * is the function's service name.
 */

/** The CloudWatch namespace of every frostline metric. */
export const METRICS_NAMESPACE = 'Frostline';

/** The dimension Powertools Metrics adds to every metric: the service name. */
export const SERVICE_DIMENSION = 'service';

/** Metric names. */
export const MetricName = {
  /** Queue handlers: messages handled and acknowledged. */
  processed: 'Processed',
  /** Queue handlers: messages refused (bad signature, replay, policy, ...): acknowledged, never retried. */
  refused: 'Refused',
  /** Queue handlers: messages whose handling threw: left for redelivery, then the dead-letter queue. */
  failed: 'Failed',
  /** Queue handlers: time to handle one message, in milliseconds. */
  handlerLatency: 'HandlerLatency',
  /** Sweeper: sessions this run timed out (failed, initiator told). */
  stalledSessions: 'StalledSessions',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** Service names: the Powertools `serviceName` of each function, and so its `service` dimension. */
export const ServiceName = {
  partyInbox: 'frostline-party',
  coordinatorInbox: 'frostline-coordinator',
  requestIntake: 'frostline-request-intake',
  sweeper: 'frostline-sweeper',
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];
