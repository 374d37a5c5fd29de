/**
 * ItemBackend on one DynamoDB table per party:
 *   pk (S, HASH) · sk (S, RANGE) · data (S, JSON) · version (N) · expiresAt (N, TTL attribute)
 *
 * Every condition also checks `expiresAt` against the caller's clock: DynamoDB deletes
 * expired items only eventually (often days later) and emulators never do, so an expired
 * item must count as absent in the write itself, not just when read.
 */
import {
  BatchGetItemCommand,
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { ConditionFailedError, FrostlineError, InfrastructureError } from '../../ports/errors.js';
import type { ItemBackend, ItemData, ItemKey, StoredItem, WriteCondition, WriteOperation } from '../../ports/store.js';
import { awsErrorName, infrastructureError } from './errors.js';

/** DynamoDB's limit on items in one TransactWriteItems call. */
export const MAX_TRANSACTION_ITEMS = 100;
/** BatchGetItem's limit of keys per call. */
const MAX_BATCH_GET_KEYS = 100;

const itemId = (key: ItemKey) => JSON.stringify([key.pk, key.sk]);

type Item = Record<string, AttributeValue>;

interface Expression {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Item;
}

/**
 * Asks DynamoDB to return the item that failed a condition (at no extra cost), so that
 * "create, or adopt the winner" (`ItemTable.createOrGet`) needs no second read: the shape
 * of Powertools' idempotency persistence layer.
 */
const RETURN_EXISTING = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

const LIVE = '(attribute_not_exists(#expiresAt) OR #expiresAt > :now)';

/** The condition of `conditionHolds()` in lib/ports/store.ts, as a DynamoDB expression. */
function conditionExpression(condition: WriteCondition, nowSeconds: number): Expression {
  const now = { N: String(nowSeconds) };
  switch (condition.kind) {
    case 'none':
      return {};
    case 'absent':
      // Closes the create race: of two concurrent creators exactly one wins; an expired
      // leftover does not block a new item.
      return {
        ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt <= :now',
        ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: { ':now': now },
      };
    case 'exists':
      return {
        ConditionExpression: `attribute_exists(#pk) AND ${LIVE}`,
        ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: { ':now': now },
      };
    case 'version':
      // Optimistic concurrency: the write lands only on the version the caller read.
      return {
        ConditionExpression: `attribute_exists(#pk) AND ${LIVE} AND #version = :version`,
        ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt', '#version': 'version' },
        ExpressionAttributeValues: { ':now': now, ':version': { N: String(condition.version) } },
      };
  }
}

function keyAttributes(key: ItemKey): Item {
  if (typeof key.pk !== 'string' || key.pk.length === 0 || typeof key.sk !== 'string' || key.sk.length === 0) {
    throw new FrostlineError('malformed', 'item key: pk and sk must be non-empty strings');
  }
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}

/** The attributes an item is stored as (also what tests size it by). */
export function toAttributes(item: StoredItem): Item {
  if (!Number.isSafeInteger(item.version) || item.version < 0) {
    throw new FrostlineError('malformed', `item ${item.pk}/${item.sk}: version must be a non-negative integer`);
  }
  const attributes: Item = { ...keyAttributes(item), data: { S: JSON.stringify(item.data) }, version: { N: String(item.version) } };
  if (item.expiresAt !== undefined) {
    if (!Number.isSafeInteger(item.expiresAt) || item.expiresAt < 0) {
      throw new FrostlineError('malformed', `item ${item.pk}/${item.sk}: expiresAt must be whole epoch seconds`);
    }
    attributes.expiresAt = { N: String(item.expiresAt) };
  }
  return attributes;
}

/** Decodes a stored item strictly: a foreign or damaged item fails loudly. */
function fromAttributes(attributes: Item): StoredItem {
  const pk = attributes.pk?.S;
  const sk = attributes.sk?.S;
  const data = attributes.data?.S;
  const version = attributes.version?.N;
  const expiresAt = attributes.expiresAt?.N;
  const where = `item ${String(pk)}/${String(sk)}`;
  if (pk === undefined || sk === undefined || data === undefined || version === undefined) {
    throw new FrostlineError('malformed-item', `${where}: missing pk, sk, data or version`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (error) {
    throw new FrostlineError('malformed-item', `${where}: data is not JSON`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FrostlineError('malformed-item', `${where}: data is not a JSON object`);
  }
  const versionNumber = Number(version);
  const expiresNumber = expiresAt === undefined ? undefined : Number(expiresAt);
  if (!Number.isSafeInteger(versionNumber) || (expiresNumber !== undefined && !Number.isFinite(expiresNumber))) {
    throw new FrostlineError('malformed-item', `${where}: version or expiresAt is not a number`);
  }
  // JSON.parse of an object literal yields a plain object: the ItemData shape.
  const item: StoredItem = { pk, sk, data: parsed as ItemData, version: versionNumber };
  return expiresNumber === undefined ? item : { ...item, expiresAt: expiresNumber };
}

/** The `ConditionalCheckFailed` entries of a cancelled transaction (by name, not instanceof: the client may come from another copy of the SDK package). */
function failedConditions(error: unknown): { readonly Item?: unknown }[] {
  if (awsErrorName(error) !== 'TransactionCanceledException') return [];
  const reasons: unknown = typeof error === 'object' && error !== null && 'CancellationReasons' in error ? error.CancellationReasons : undefined;
  if (!Array.isArray(reasons)) return [];
  return reasons.filter(
    (reason: unknown): reason is { readonly Item?: unknown } =>
      typeof reason === 'object' && reason !== null && 'Code' in reason && reason.Code === 'ConditionalCheckFailed',
  );
}

/**
 * The item DynamoDB returned with a failed condition (`ReturnValuesOnConditionCheckFailure:
 * ALL_OLD`), decoded; undefined when there was none (the item was absent) or it does not
 * decode — then `createOrGet` reads it again, and that read reports a damaged item loudly.
 */
function returnedItem(item: unknown): StoredItem | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  try {
    return fromAttributes(item as Item);
  } catch {
    return undefined;
  }
}

/** The existing item a failed single-item write returned (ConditionalCheckFailedException.Item). */
function itemOfFailedCondition(error: unknown): StoredItem | undefined {
  return returnedItem(typeof error === 'object' && error !== null && 'Item' in error ? error.Item : undefined);
}

export class DynamoItemBackend implements ItemBackend {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    let output;
    try {
      output = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: keyAttributes(key), ConsistentRead: true }),
      );
    } catch (error) {
      throw infrastructureError('dynamodb:GetItem', error);
    }
    return output.Item === undefined ? undefined : fromAttributes(output.Item);
  }

  /** BatchGetItem, strongly consistent, 100 keys a call; unprocessed keys are asked again. */
  async getMany(keys: readonly ItemKey[]): Promise<(StoredItem | undefined)[]> {
    const found = new Map<string, StoredItem>();
    for (let start = 0; start < keys.length; start += MAX_BATCH_GET_KEYS) {
      let pending: Item[] = keys.slice(start, start + MAX_BATCH_GET_KEYS).map(keyAttributes);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 10) throw new InfrastructureError('dynamodb:BatchGetItem', 'keys left unprocessed after 10 attempts');
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(200, 2 ** attempt * 5)));
        let output;
        try {
          output = await this.client.send(
            new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
          );
        } catch (error) {
          throw infrastructureError('dynamodb:BatchGetItem', error);
        }
        for (const attributes of output.Responses?.[this.tableName] ?? []) {
          const item = fromAttributes(attributes);
          found.set(itemId(item), item);
        }
        pending = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return keys.map((key) => found.get(itemId(key)));
  }

  async query(pk: string, skPrefix?: string): Promise<StoredItem[]> {
    const prefixed = skPrefix !== undefined && skPrefix.length > 0;
    const values: Item = { ':pk': { S: pk } };
    if (prefixed) values[':prefix'] = { S: skPrefix };
    return this.#allPages('dynamodb:Query', (startKey) =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: prefixed ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
          ExpressionAttributeNames: prefixed ? { '#pk': 'pk', '#sk': 'sk' } : { '#pk': 'pk' },
          ExpressionAttributeValues: values,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
  }

  /** A full-table Scan filtered by prefix: for listings, never for hot paths. */
  async scanPrefix(pkPrefix: string): Promise<StoredItem[]> {
    return this.#allPages('dynamodb:Scan', (startKey) =>
      this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ...(pkPrefix.length > 0
            ? {
                FilterExpression: 'begins_with(#pk, :prefix)',
                ExpressionAttributeNames: { '#pk': 'pk' },
                ExpressionAttributeValues: { ':prefix': { S: pkPrefix } },
              }
            : {}),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
  }

  /** Follows LastEvaluatedKey until the last page (Query and Scan pages stop at 1 MB). */
  async #allPages(
    operation: string,
    page: (startKey: Item | undefined) => Promise<{ Items?: Item[] | undefined; LastEvaluatedKey?: Item | undefined }>,
  ): Promise<StoredItem[]> {
    const items: StoredItem[] = [];
    let startKey: Item | undefined;
    do {
      let output;
      try {
        output = await page(startKey);
      } catch (error) {
        throw infrastructureError(operation, error);
      }
      for (const item of output.Items ?? []) items.push(fromAttributes(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  async write(operations: readonly WriteOperation[], nowSeconds: number): Promise<void> {
    if (!Number.isSafeInteger(nowSeconds)) throw new FrostlineError('malformed', 'nowSeconds must be whole epoch seconds');
    if (operations.length === 0) return;
    if (operations.length > MAX_TRANSACTION_ITEMS) {
      throw new FrostlineError('malformed', `${operations.length} operations exceed the ${MAX_TRANSACTION_ITEMS}-item transaction limit`);
    }
    const keys = new Set<string>();
    for (const operation of operations) {
      const key = operation.op === 'put' ? operation.item : operation.key;
      const id = JSON.stringify([key.pk, key.sk]);
      // DynamoDB refuses two operations on one item in a transaction; say so plainly.
      if (keys.has(id)) throw new FrostlineError('malformed', `two operations on item ${key.pk}/${key.sk} in one write`);
      keys.add(id);
    }

    const [single] = operations;
    if (single !== undefined && operations.length === 1) {
      await this.writeOne(single, nowSeconds);
      return;
    }

    const items: TransactWriteItem[] = operations.map((operation) => {
      const expression = conditionExpression(operation.condition, nowSeconds);
      const onFailure = expression.ConditionExpression !== undefined ? RETURN_EXISTING : {};
      return operation.op === 'put'
        ? { Put: { TableName: this.tableName, Item: toAttributes(operation.item), ...expression, ...onFailure } }
        : { Delete: { TableName: this.tableName, Key: keyAttributes(operation.key), ...expression, ...onFailure } };
    });
    try {
      // The SDK fills ClientRequestToken once per call, so its own retries are idempotent.
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.length > 0) {
        // The existing item only when one operation failed: with several, no single item
        // is "the winner". It carries its pk/sk, so a caller can tell which one it is.
        const [only] = failed;
        const existing = failed.length === 1 && only !== undefined ? returnedItem(only.Item) : undefined;
        throw new ConditionFailedError(`a condition failed in a ${operations.length}-item write; nothing was written`, {
          cause: error,
          existing,
        });
      }
      throw infrastructureError('dynamodb:TransactWriteItems', error);
    }
  }

  private async writeOne(operation: WriteOperation, nowSeconds: number): Promise<void> {
    const expression = conditionExpression(operation.condition, nowSeconds);
    const call = operation.op === 'put' ? 'dynamodb:PutItem' : 'dynamodb:DeleteItem';
    const key = operation.op === 'put' ? operation.item : operation.key;
    const onFailure = expression.ConditionExpression !== undefined ? RETURN_EXISTING : {};
    try {
      if (operation.op === 'put') {
        await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: toAttributes(operation.item), ...expression, ...onFailure }));
      } else {
        await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: keyAttributes(operation.key), ...expression, ...onFailure }));
      }
    } catch (error) {
      if (error instanceof FrostlineError) throw error;
      if (awsErrorName(error) === 'ConditionalCheckFailedException') {
        const existing = itemOfFailedCondition(error);
        throw new ConditionFailedError(`${call} on ${key.pk}/${key.sk}: condition ${operation.condition.kind} failed`, {
          cause: error,
          existing,
        });
      }
      throw infrastructureError(call, error);
    }
  }
}
