/**
 * Persistence, in two layers (the shape of Powertools' idempotency persistence):
 * a backend implements a handful of item primitives with conditional writes
 * (DynamoDB, or the embedded SQLite store), and the `ItemTable` base on top owns
 * expiry, validation and the translation of lost conditions into domain errors.
 */
import { ConditionFailedError } from './errors.js';

export type ItemData = Record<string, unknown>;

export interface ItemKey {
  /** Partition key, e.g. `nonce#<session>#<attempt>`. */
  readonly pk: string;
  readonly sk: string;
}

export interface StoredItem extends ItemKey {
  readonly data: ItemData;
  /** Incremented by every put; used for optimistic concurrency. */
  readonly version: number;
  /** Epoch seconds after which the item counts as absent (DynamoDB TTL attribute). */
  readonly expiresAt?: number | undefined;
}

/**
 * Conditions a write may carry. `absent` treats an expired item as absent: emulators and
 * DynamoDB itself may keep expired items for days, so expiry is enforced in the condition.
 */
export type WriteCondition =
  | { readonly kind: 'absent' }
  | { readonly kind: 'exists' }
  | { readonly kind: 'version'; readonly version: number }
  | { readonly kind: 'none' };

export type WriteOperation =
  | { readonly op: 'put'; readonly item: StoredItem; readonly condition: WriteCondition }
  | { readonly op: 'delete'; readonly key: ItemKey; readonly condition: WriteCondition };

/** What a backend must provide. Every method is one atomic step. */
export interface ItemBackend {
  get(key: ItemKey): Promise<StoredItem | undefined>;
  /**
   * Several independent items in one round trip (DynamoDB `BatchGetItem`), in the order of
   * `keys`; each read is as consistent as `get`, the set is not a snapshot. Optional: without
   * it, callers read the items one by one.
   */
  getMany?(keys: readonly ItemKey[]): Promise<(StoredItem | undefined)[]>;
  /** Every item with this partition key whose sort key starts with `skPrefix`. */
  query(pk: string, skPrefix?: string): Promise<StoredItem[]>;
  /** Items whose partition key starts with `pkPrefix` (listing; not on hot paths). */
  scanPrefix(pkPrefix: string): Promise<StoredItem[]>;
  /**
   * Applies every operation or none. If any condition fails, throws
   * `ConditionFailedError` and changes nothing. `nowSeconds` decides expiry.
   */
  write(operations: readonly WriteOperation[], nowSeconds: number): Promise<void>;
}

export function isExpired(item: Pick<StoredItem, 'expiresAt'>, nowSeconds: number): boolean {
  return item.expiresAt !== undefined && item.expiresAt <= nowSeconds;
}

/** Evaluates a condition against the current item: the one rule every backend shares. */
export function conditionHolds(
  current: StoredItem | undefined,
  condition: WriteCondition,
  nowSeconds: number,
): boolean {
  const live = current !== undefined && !isExpired(current, nowSeconds);
  switch (condition.kind) {
    case 'none':
      return true;
    case 'absent':
      return !live;
    case 'exists':
      return live;
    case 'version':
      return live && current.version === condition.version;
  }
}

/**
 * Typed access to one kind of item. Reads hide expired items; parse() validates what
 * comes back so that a corrupted or foreign item fails loudly instead of being trusted.
 */
export class ItemTable<T> {
  constructor(
    private readonly backend: ItemBackend,
    private readonly parse: (data: unknown) => T,
    private readonly nowSeconds: () => number,
  ) {}

  async get(key: ItemKey): Promise<{ value: T; version: number } | undefined> {
    const item = await this.backend.get(key);
    if (item === undefined || isExpired(item, this.nowSeconds())) return undefined;
    return { value: this.parse(item.data), version: item.version };
  }

  /** Creates the item; throws `ConditionFailedError` if a live one exists. */
  async create(key: ItemKey, value: T, ttlSeconds?: number): Promise<void> {
    await this.backend.write([this.putOperation(key, value, 1, { kind: 'absent' }, ttlSeconds)], this.nowSeconds());
  }

  /**
   * Creates the item, or adopts the one a concurrent writer created first: the one way to
   * win a "first writer wins" race. Returns the stored value and whether this call made it.
   * Backends that can return the existing item from the failed condition (DynamoDB's
   * `ReturnValuesOnConditionCheckFailure: ALL_OLD`) put it on the error, saving a read.
   */
  async createOrGet(key: ItemKey, value: T, ttlSeconds?: number): Promise<{ created: boolean; value: T; version: number }> {
    try {
      await this.create(key, value, ttlSeconds);
      return { created: true, value, version: 1 };
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const existing = error.existing !== undefined && !isExpired(error.existing, this.nowSeconds()) ? error.existing : await this.backend.get(key);
      // Gone again between the failed write and the read (expired or deleted): report the race.
      if (existing === undefined || isExpired(existing, this.nowSeconds())) throw error;
      return { created: false, value: this.parse(existing.data), version: existing.version };
    }
  }

  /** Replaces the item only if it still has `version` (optimistic concurrency). */
  async replace(key: ItemKey, value: T, version: number, ttlSeconds?: number): Promise<void> {
    await this.backend.write(
      [this.putOperation(key, value, version + 1, { kind: 'version', version }, ttlSeconds)],
      this.nowSeconds(),
    );
  }

  async delete(key: ItemKey): Promise<void> {
    await this.backend.write([{ op: 'delete', key, condition: { kind: 'none' } }], this.nowSeconds());
  }

  /** Items of this table whose partition key starts with `pkPrefix`; `sk`: only those with that sort key (a partition may hold items of other kinds). */
  async listByPrefix(pkPrefix: string, sk?: string): Promise<T[]> {
    const now = this.nowSeconds();
    const items = await this.backend.scanPrefix(pkPrefix);
    return items.filter((item) => !isExpired(item, now) && (sk === undefined || item.sk === sk)).map((item) => this.parse(item.data));
  }

  putOperation(
    key: ItemKey,
    value: T,
    version: number,
    condition: WriteCondition,
    ttlSeconds?: number,
  ): WriteOperation {
    const expiresAt = ttlSeconds === undefined ? undefined : this.nowSeconds() + ttlSeconds;
    return { op: 'put', item: { ...key, data: value as ItemData, version, expiresAt }, condition };
  }
}

/**
 * Runs `attempt` again while a concurrent writer wins the optimistic-concurrency race,
 * with full-jitter exponential backoff (a few ms, capped) so that racing writers spread out
 * instead of colliding again in lockstep.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T>, maxAttempts = 20, baseDelayMs = 2, maxDelayMs = 200): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ConditionFailedError) || i >= maxAttempts) throw error;
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (i - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
