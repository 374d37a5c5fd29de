/**
 * The one SQS handler shape every frostline function uses: middy + Powertools around a
 * protocol processor (`Party` or `Coordinator`), with partial batch responses.
 *
 * Outcomes map to SQS like this:
 * - `processed`: acknowledged (deleted).
 * - `refused`: acknowledged as well — the input can never be accepted, so retrying it would
 *   only delay it into the dead-letter queue — with a `Refused` metric and a warning.
 * - thrown: a batch item failure, so only that record is redelivered (after the
 *   visibility timeout) and, after maxReceiveCount receives, dead-lettered.
 *
 * Records are handled one after another, not in parallel: the logger's correlation id is
 * per invocation, so sequential handling keeps each log line tagged with its own session;
 * and messages of one batch often belong to one session, where parallel handling would
 * only trade optimistic-concurrency retries for speed. Lambda concurrency across batches
 * still gives parallelism.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { FrostlineError, InfrastructureError, RefusedError } from '../ports/errors.js';
import type { HandleOutcome } from '../protocol/party.js';
import { type EnvelopePeek, peekEnvelope } from './envelope-peek.js';
import { MetricName } from './observability.js';

/** What handles one message body: `Party` and `Coordinator` both are. */
export interface InboxProcessor {
  handle(raw: string): Promise<HandleOutcome>;
}

export type SqsInboxHandler = MiddyfiedHandler<SQSEvent, SQSBatchResponse, Error, Context>;

export interface InboxHandlerOptions {
  readonly processor: InboxProcessor;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * Refuses a message before the processor sees it (e.g. request intake accepts requests
   * only). Returns the refusal, or undefined to admit.
   */
  readonly admit?: (peek: EnvelopePeek) => RefusedError | undefined;
}

/** Thrown for a failed record: names the cause without carrying its message onward. */
export class RecordFailedError extends FrostlineError {
  override readonly name = 'RecordFailedError';
  constructor(messageId: string, cause: unknown) {
    super('record-failed', `message ${messageId} failed (${errorName(cause)}); left for redelivery`, { cause });
  }
}

export function createInboxHandler(options: InboxHandlerOptions): SqsInboxHandler {
  const { processor, logger, metrics, admit } = options;

  /** Counts are per invocation (reset by the caller) and published once, as one value each. */
  const handleRecord = async (record: SQSRecord, counts: Record<'processed' | 'refused' | 'failed', number>): Promise<void> => {
    const started = performance.now();
    const peek = peekEnvelope(record.body);
    const ids = {
      messageId: record.messageId,
      receiveCount: Number(record.attributes.ApproximateReceiveCount),
      ...(peek.id !== undefined ? { envelopeId: peek.id } : {}),
      ...(peek.type !== undefined ? { type: peek.type } : {}),
      ...(peek.session !== undefined ? { session: peek.session } : {}),
    };
    if (peek.session !== undefined) logger.setCorrelationId(peek.session);
    try {
      const refusal = admit?.(peek);
      const outcome: HandleOutcome =
        refusal !== undefined
          ? { status: 'refused', code: refusal.code, reason: refusal.message, ...(peek.type !== undefined ? { type: peek.type } : {}) }
          : await processor.handle(record.body);
      if (outcome.status === 'refused') {
        counts.refused++;
        logger.warn('message refused; acknowledged', { ...ids, outcome: outcome.status, code: outcome.code });
      } else {
        counts.processed++;
        logger.info('message processed', { ...ids, outcome: outcome.status });
      }
    } catch (error) {
      counts.failed++;
      logger.error('message failed; left for redelivery', { ...ids, outcome: 'failed', error: describeError(error) });
      throw new RecordFailedError(record.messageId, error);
    } finally {
      metrics.addMetric(MetricName.handlerLatency, MetricUnit.Milliseconds, performance.now() - started);
      logger.removeKeys(['correlation_id']);
    }
  };

  const handleBatch = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // Per-request state, fresh each invocation: the counters and the batch processor
    // (whose success and failure lists would otherwise carry over on a warm start).
    const counts = { processed: 0, refused: 0, failed: 0 };
    const batch = new BatchProcessor(EventType.SQS);
    try {
      return await processPartialResponse(event, (record: SQSRecord) => handleRecord(record, counts), batch, {
        context,
        processInParallel: false,
        // A batch that failed completely is reported like any other, through
        // batchItemFailures, rather than as a function error with every record's error.
        throwOnFullBatchFailure: false,
      });
    } finally {
      // Published even when zero: an empty metric set would only produce Powertools'
      // "no metrics" warning, and zeros keep the dashboards and alarms continuous.
      metrics.addMetric(MetricName.processed, MetricUnit.Count, counts.processed);
      metrics.addMetric(MetricName.refused, MetricUnit.Count, counts.refused);
      metrics.addMetric(MetricName.failed, MetricUnit.Count, counts.failed);
    }
  };

  return middy<SQSEvent, SQSBatchResponse, Error, Context>(handleBatch)
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true, throwOnEmptyMetrics: false }));
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'non-error value';
}

/**
 * Error details fit for a log line. Our own errors have curated messages without secrets
 * (and infrastructure errors name the failed call); anything else is reduced to its name,
 * because e.g. a JSON SyntaxError quotes the input it failed on.
 */
function describeError(error: unknown): Record<string, string> {
  if (error instanceof InfrastructureError) return { name: error.name, code: error.code, operation: error.operation, message: error.message };
  if (error instanceof FrostlineError) return { name: error.name, code: error.code, message: error.message };
  return { name: errorName(error) };
}
