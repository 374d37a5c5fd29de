/**
 * Logging and metrics for the Lambda functions: Powertools Logger (structured JSON with the
 * Lambda context and a correlation id) and Metrics (CloudWatch EMF). Both are created once
 * per cold start; per-invocation state is reset by their middy middlewares.
 *
 * What is logged: outcome codes and ids (message id, envelope id, type, session). Message
 * bodies are never logged: they hold signed requests and sealed shares, and an attacker
 * controls their content.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../config/observability.js';
import type { Logger as ProtocolLogger } from '../protocol/logger.js';

// The names live in lib/config (the CDK stacks alarm on them); re-exported for the functions.
export { METRICS_NAMESPACE, MetricName, ServiceName } from '../config/observability.js';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * Logger and Metrics for one function. The service name doubles as the metrics `service`
 * dimension. Environment overrides work as Powertools documents them
 * (`POWERTOOLS_LOG_LEVEL`, `POWERTOOLS_METRICS_DISABLED`, `POWERTOOLS_DEV`).
 */
export function createObservability(service: string): Observability {
  return {
    logger: new Logger({ serviceName: service }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }),
  };
}

/** The protocol's logging port on a Powertools logger (fields are ids and codes by contract). */
export function protocolLogger(logger: Logger): ProtocolLogger {
  return {
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
  };
}
