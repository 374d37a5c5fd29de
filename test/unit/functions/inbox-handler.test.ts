/** The SQS handler shape, without AWS: outcomes to batch responses, logs and EMF metrics. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRequestIntakeHandler, createPartyInboxHandler } from '../../../lib/lambda/handlers.js';
import type { InboxProcessor } from '../../../lib/lambda/inbox-handler.js';
import { METRICS_NAMESPACE } from '../../../lib/lambda/observability.js';
import { InfrastructureError, RefusalCode } from '../../../lib/ports/errors.js';

const SESSION = 'ab'.repeat(16);
const envelope = (type: string, secret = 'SECRET-BODY-CONTENT') => JSON.stringify({ v: 1, type, session: SESSION, id: 'cd'.repeat(16), body: { secret } });

function record(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:111111111111:q',
    awsRegion: 'eu-west-1',
  };
}

const unsupported = () => {
  throw new Error('not supported');
};
const context: Context = {
  functionName: 'party-inbox',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:party-inbox',
  memoryLimitInMB: '512',
  awsRequestId: 'req-1',
  logGroupName: 'g',
  logStreamName: 's',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 30_000,
  done: unsupported,
  fail: unsupported,
  succeed: unsupported,
};

/** Metrics that print EMF through the global console (POWERTOOLS_DEV), so the test can read it. */
function capturedMetrics(): { metrics: Metrics; emf: () => Record<string, unknown>[] } {
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'test' });
  vi.unstubAllEnvs();
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  return {
    metrics,
    emf: () =>
      log.mock.calls
        .map(([line]) => (typeof line === 'string' ? (JSON.parse(line) as Record<string, unknown>) : {}))
        .filter((entry) => '_aws' in entry),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('inbox handler', () => {
  it('acknowledges processed and refused records, reports thrown ones as batch item failures', async () => {
    const processor: InboxProcessor = {
      async handle(raw) {
        if (raw.includes('sign.package')) throw new InfrastructureError('kms:Decrypt', 'ThrottlingException: slow down');
        if (raw.includes('dkg.start')) return { status: 'refused', code: RefusalCode.replayed, reason: 'already processed' };
        return { status: 'processed', type: 'sign.commit', session: SESSION };
      },
    };
    const logger = new Logger({ serviceName: 'test', logLevel: 'INFO' });
    const lines: string[] = [];
    for (const level of ['info', 'warn', 'error'] as const) {
      vi.spyOn(logger, level).mockImplementation((message: unknown, ...extra: unknown[]) => {
        lines.push(JSON.stringify({ level, message, extra, correlation: logger.getCorrelationId() }));
      });
    }
    const { metrics, emf } = capturedMetrics();
    const handler = createPartyInboxHandler({ processor, logger, metrics });
    const event: SQSEvent = {
      Records: [record('m1', envelope('sign.commit')), record('m2', envelope('sign.package')), record('m3', envelope('dkg.start')), record('m4', 'not json SECRET-BODY-CONTENT')],
    };
    const response = await handler(event, context);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });

    // Ids and codes only: no body content, and the session as correlation id.
    expect(lines.join('\n')).not.toContain('SECRET-BODY-CONTENT');
    expect(lines.find((l) => l.includes('"m3"'))).toContain('"warn"');
    expect(lines.find((l) => l.includes('"m2"'))).toContain('kms:Decrypt');
    expect(lines.find((l) => l.includes('"m1"'))).toContain(`"correlation":"${SESSION}"`);

    const [published] = emf();
    expect(published).toMatchObject({ Processed: 2, Refused: 1, Failed: 1, service: 'test' });
    expect(JSON.stringify(published)).toContain(METRICS_NAMESPACE);
    expect(Array.isArray(published?.HandlerLatency)).toBe(true);
  });

  it('an empty batch publishes zero counts and does not throw', async () => {
    const { metrics, emf } = capturedMetrics();
    const handler = createPartyInboxHandler({ processor: { handle: vi.fn() }, logger: new Logger({ logLevel: 'SILENT' }), metrics });
    await expect(handler({ Records: [] }, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(emf().some((entry) => entry.Processed === 0 && entry.Failed === 0)).toBe(true);
  });

  it('request intake refuses every type but keygen.request and sign.request before the coordinator sees it', async () => {
    const handle = vi.fn(async () => ({ status: 'processed' as const, type: 'sign.request', session: SESSION }));
    const { metrics } = capturedMetrics();
    const handler = createRequestIntakeHandler({ processor: { handle }, logger: new Logger({ logLevel: 'SILENT' }), metrics });
    const response = await handler({ Records: [record('a', envelope('sign.request')), record('b', envelope('sign.share')), record('c', 'garbage')] }, context);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(handle).toHaveBeenCalledTimes(1);
  });
});
