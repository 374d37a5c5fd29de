/**
 * A probe of the property frostline's single-use nonces rest on: the emulator isolates
 * concurrent conditional transactions. DynamoDB does (transactions are serializable);
 * moto 5.x on its own does not, which is why scripts/moto_serialised.py serves DynamoDB
 * one request at a time. The test global setup runs this once and hands the verdict to the
 * race tests, which refuse to run on an emulator that failed it.
 *
 * Each trial fires two mutually exclusive TransactWriteItems at once, through the plain
 * AWS SDK (not the code under test): both create one contested item (attribute_not_exists),
 * each also creates an item of its own. Isolated means exactly one wins, the contested item
 * holds the winner's value, the winner's own item exists, and the loser's does not.
 */
import { randomUUID } from 'node:crypto';
import { type AttributeValue, type DynamoDBClient, GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { createPartyTable } from '../../lib/dev/provision.js';

/**
 * Enough trials, enough of them at once, that a non-isolated emulator fails: unserialised
 * moto 5.2.5 broke isolation in 4 to 12 of 64 trials in each of 14 runs (one trial at a
 * time, it was often 0 or 1 of 40: the race window is narrow).
 */
export const PROBE_TRIALS = 64;
export const PROBE_TRIALS_IN_FLIGHT = 8;

export interface IsolationVerdict {
  readonly isolated: boolean;
  readonly trials: number;
  /** One line per trial that broke isolation: what happened. */
  readonly anomalies: readonly string[];
}

type Item = Record<string, AttributeValue>;

function errorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : String(error);
}

/** Was this a cancellation for a failed condition (the loser's answer), and nothing else? */
function isConditionCancellation(error: unknown): boolean {
  if (errorName(error) !== 'TransactionCanceledException') return false;
  const reasons: unknown = typeof error === 'object' && error !== null && 'CancellationReasons' in error ? error.CancellationReasons : undefined;
  return Array.isArray(reasons) && reasons.some((r: unknown) => typeof r === 'object' && r !== null && 'Code' in r && r.Code === 'ConditionalCheckFailed');
}

/** One trial; returns what broke isolation, or undefined. */
async function trial(client: DynamoDBClient, table: string, pk: string): Promise<string | undefined> {
  const key = (sk: string): Item => ({ pk: { S: pk }, sk: { S: sk } });
  const create = (sk: string, writer: string) => ({
    Put: {
      TableName: table,
      Item: { ...key(sk), writer: { S: writer } },
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    },
  });
  const writers = ['A', 'B'] as const;
  const outcomes = await Promise.allSettled(
    writers.map((writer) => client.send(new TransactWriteItemsCommand({ TransactItems: [create('contested', writer), create(`own-${writer}`, writer)] }))),
  );
  const unexpected = outcomes.find((o) => o.status === 'rejected' && !isConditionCancellation(o.reason));
  if (unexpected?.status === 'rejected') return `unexpected error ${errorName(unexpected.reason)}`;
  const winners = writers.filter((_, i) => outcomes[i]?.status === 'fulfilled');
  if (winners.length !== 1) return `${winners.length} of 2 mutually exclusive transactions succeeded`;
  const [winner] = winners;
  const read = async (sk: string) =>
    (await client.send(new GetItemCommand({ TableName: table, Key: key(sk), ConsistentRead: true }))).Item?.writer?.S;
  const [contested, ownA, ownB] = await Promise.all([read('contested'), read('own-A'), read('own-B')]);
  const own = { A: ownA, B: ownB };
  const problems = [
    contested !== winner ? `contested item holds ${String(contested)}, winner was ${String(winner)}` : undefined,
    winner !== undefined && own[winner] !== winner ? "the winner's own item is missing" : undefined,
    writers.some((w) => w !== winner && own[w] !== undefined) ? "the loser's own item was written" : undefined,
  ].filter((p) => p !== undefined);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** Runs `trials` trials in a fresh table of the account `client` speaks for. */
export async function probeTransactionIsolation(client: DynamoDBClient, trials = PROBE_TRIALS): Promise<IsolationVerdict> {
  const table = `isolation-probe-${randomUUID()}`;
  await createPartyTable(client, table);
  const anomalies: string[] = [];
  // Trials overlap (each on its own keys): a transaction of one trial that undoes another
  // trial's committed write breaks isolation just as well, and moto's rollback does that.
  for (let first = 0; first < trials; first += PROBE_TRIALS_IN_FLIGHT) {
    const batch = Array.from({ length: Math.min(PROBE_TRIALS_IN_FLIGHT, trials - first) }, (_, j) => first + j);
    const found = await Promise.all(batch.map((i) => trial(client, table, `trial#${i}`)));
    found.forEach((anomaly, j) => {
      if (anomaly !== undefined) anomalies.push(`trial ${first + j}: ${anomaly}`);
    });
  }
  return { isolated: anomalies.length === 0, trials, anomalies };
}

/** The failure message of a race test run on an emulator the probe did not clear. */
export function describeVerdict(verdict: IsolationVerdict): string {
  return verdict.isolated
    ? `isolated in all ${verdict.trials} trials`
    : `NOT isolated: ${verdict.anomalies.length} of ${verdict.trials} trials broke isolation (${verdict.anomalies.slice(0, 3).join(' | ')})`;
}
