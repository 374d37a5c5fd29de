/**
 * Reads once per message: a backend wrapper that, inside `run()`, remembers what each key
 * read (or wrote) during the handling of one message, and can fetch several independent
 * items in one round trip (`prefetch`, DynamoDB BatchGetItem). Outside `run()` it passes
 * everything through.
 *
 * Why it is safe:
 * - The memory is one message's: a fresh map per `run()`, unreachable once it returns.
 *   Nothing survives into the next message or invocation; the only secrets that pass
 *   through it are sealed blobs (ciphertext), as in the table itself.
 * - Every decision that must be fresh is made by a conditional write, never by a read:
 *   a stale read makes the write fail. On any failed write the whole map is forgotten, so
 *   the retry (retryOnConflict, createOrGet, writeOrAdopt) reads everything afresh.
 * - A successful write records what it stored (as the table returns it), so a read after
 *   one's own write (the audit head after an append) needs no round trip.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ItemBackend, ItemKey, StoredItem, WriteOperation } from '../ports/store.js';

type Reads = Map<string, StoredItem | undefined>;

const idOf = (key: ItemKey) => JSON.stringify([key.pk, key.sk]);

/** What the table returns for an item written as `item` (data is stored as JSON). */
function asStored(item: StoredItem): StoredItem {
  const stored: StoredItem = { pk: item.pk, sk: item.sk, data: JSON.parse(JSON.stringify(item.data)) as StoredItem['data'], version: item.version };
  return item.expiresAt === undefined ? stored : { ...stored, expiresAt: item.expiresAt };
}

export class MessageReads implements ItemBackend {
  readonly #scope = new AsyncLocalStorage<{ reads: Reads }>();

  constructor(private readonly inner: ItemBackend) {}

  /** Handles one message with its own read memory. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return this.#scope.run({ reads: new Map() }, work);
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    const scope = this.#scope.getStore();
    if (scope === undefined) return this.inner.get(key);
    const id = idOf(key);
    if (scope.reads.has(id)) return scope.reads.get(id);
    const item = await this.inner.get(key);
    scope.reads.set(id, item);
    return item;
  }

  /**
   * Reads the keys not yet read in this message, in one round trip where the backend can.
   * Only for items the handling is about to read anyway, whatever the outcome.
   */
  async prefetch(keys: readonly ItemKey[]): Promise<void> {
    const scope = this.#scope.getStore();
    if (scope === undefined) return;
    const unique = new Map<string, ItemKey>();
    for (const key of keys) if (!scope.reads.has(idOf(key))) unique.set(idOf(key), key);
    const missing = [...unique.values()];
    if (missing.length === 0) return;
    // Without a batch read, reading ahead saves nothing: leave each read to its reader.
    if (this.inner.getMany === undefined) return;
    if (missing.length === 1) {
      await this.get(...(missing as [ItemKey]));
      return;
    }
    const items = await this.inner.getMany(missing);
    missing.forEach((key, i) => scope.reads.set(idOf(key), items[i]));
  }

  query(pk: string, skPrefix?: string): Promise<StoredItem[]> {
    return this.inner.query(pk, skPrefix);
  }

  scanPrefix(pkPrefix: string): Promise<StoredItem[]> {
    return this.inner.scanPrefix(pkPrefix);
  }

  async write(operations: readonly WriteOperation[], nowSeconds: number): Promise<void> {
    const scope = this.#scope.getStore();
    try {
      await this.inner.write(operations, nowSeconds);
    } catch (error) {
      // Someone else wrote meanwhile (or the write's fate is unknown): read everything afresh.
      scope?.reads.clear();
      throw error;
    }
    if (scope === undefined) return;
    for (const operation of operations) {
      if (operation.op === 'put') scope.reads.set(idOf(operation.item), asStored(operation.item));
      else scope.reads.set(idOf(operation.key), undefined);
    }
  }
}
