/**
 * Lambda entry point: the coordinator's scheduled sweeper (EventBridge rule, every few
 * minutes). It finds sessions that are neither done nor failed some time after they
 * started, logs each one and publishes their count as the `StalledSessions` metric, which
 * the coordinator stack alarms on.
 *
 * It only reports: moving a session to `failed` and telling its initiator is protocol
 * logic (a Coordinator operation), not something to do behind the coordinator's back with
 * a raw table write. Sessions expire through their TTL in any case.
 *
 * Reads public session data only (phase, kind, ids, timestamps); nothing it logs is secret.
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoDbClient } from '../lib/adapters/aws/clients.js';
import { infrastructureError } from '../lib/adapters/aws/errors.js';
import { loadSweeperConfig, SweeperMetric } from '../lib/config/sweeper.js';

const config = loadSweeperConfig();
const logger = new Logger({ serviceName: SweeperMetric.service });
const metrics = new Metrics({ namespace: SweeperMetric.namespace, serviceName: SweeperMetric.service });
const dynamodb = createDynamoDbClient({ region: process.env.AWS_REGION ?? '' });

/** Stop after this many scan pages in one run; the next run continues from the start. */
const MAX_PAGES = 50;
const OPEN = new Set(['round1', 'round2', 'round3', 'commit', 'sign']);

export interface StalledSession {
  readonly session: string;
  readonly kind: string;
  readonly phase: string;
  readonly ageMinutes: number;
  readonly initiator: string;
  readonly requestId: string;
}

/** One item's verdict; anything not shaped like a session is skipped, never thrown on. */
export function stalledSession(item: Record<string, AttributeValue>, nowMs: number, stalledAfterMs: number): StalledSession | undefined {
  const pk = item.pk?.S;
  const data = item.data?.S;
  if (pk === undefined || !pk.startsWith('session#') || data === undefined) return undefined;
  const expiresAt = Number(item.expiresAt?.N ?? Number.POSITIVE_INFINITY);
  if (expiresAt * 1000 <= nowMs) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { phase, kind, createdAt, initiator, requestId } = parsed as Record<string, unknown>;
  if (typeof phase !== 'string' || !OPEN.has(phase) || typeof createdAt !== 'number') return undefined;
  const age = nowMs - createdAt;
  if (age < stalledAfterMs) return undefined;
  return {
    session: pk.slice('session#'.length),
    kind: typeof kind === 'string' ? kind : 'unknown',
    phase,
    ageMinutes: Math.floor(age / 60_000),
    initiator: typeof initiator === 'string' ? initiator : 'unknown',
    requestId: typeof requestId === 'string' ? requestId : 'unknown',
  };
}

export const handler = async (): Promise<{ stalled: number; scanned: number; complete: boolean }> => {
  const now = Date.now();
  let stalled = 0;
  let scanned = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  let pages = 0;
  try {
    do {
      let page;
      try {
        page = await dynamodb.send(
          new ScanCommand({
            TableName: config.tableName,
            FilterExpression: 'begins_with(#pk, :session)',
            ProjectionExpression: '#pk, #data, #expiresAt',
            ExpressionAttributeNames: { '#pk': 'pk', '#data': 'data', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':session': { S: 'session#' } },
            ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
      } catch (error) {
        throw infrastructureError('dynamodb:Scan', error);
      }
      for (const item of page.Items ?? []) {
        scanned++;
        const found = stalledSession(item, now, config.stalledAfterMs);
        if (found !== undefined) {
          stalled++;
          logger.warn('session stalled', { ...found });
        }
      }
      startKey = page.LastEvaluatedKey;
      pages++;
    } while (startKey !== undefined && pages < MAX_PAGES);
    const complete = startKey === undefined;
    if (!complete) logger.warn('sweep stopped early; table larger than one run scans', { pages, scanned });
    logger.info('sweep finished', { stalled, scanned, complete });
    return { stalled, scanned, complete };
  } finally {
    metrics.addMetric(SweeperMetric.stalledSessions, MetricUnit.Count, stalled);
    metrics.publishStoredMetrics();
  }
};
