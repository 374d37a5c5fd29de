/**
 * An in-memory `ItemBackend` for the fuzzer: the same conditional-write semantics as the
 * SQLite store (all-or-nothing, `conditionHolds`, JSON round trip of the data), plus a
 * journal of every key a write touched, so that one fuzz input can be checked ("what did
 * this refused message write?") and undone ("back to the captured state") in microseconds
 * instead of copying a database file per input.
 */
import { ConditionFailedError, FrostlineError } from '../../lib/ports/errors.js';
import { conditionHolds, type ItemBackend, type ItemKey, type StoredItem, type WriteOperation } from '../../lib/ports/store.js';

/** An item as stored: data kept as JSON text, so no caller can alias or mutate it. */
interface Row {
  readonly pk: string;
  readonly sk: string;
  readonly data: string;
  readonly version: number;
  readonly expiresAt: number | undefined;
}

const keyOf = (key: ItemKey) => `${key.pk}\u0000${key.sk}`;

function toItem(row: Row): StoredItem {
  // expiresAt present (undefined when unset), as the SQLite store returns it.
  return { pk: row.pk, sk: row.sk, data: JSON.parse(row.data) as StoredItem['data'], version: row.version, expiresAt: row.expiresAt };
}

function toRow(item: StoredItem): Row {
  if (!Number.isSafeInteger(item.version)) throw new FrostlineError('invalid-item', `version of pk ${item.pk} must be an integer`);
  return { pk: item.pk, sk: item.sk, data: JSON.stringify(item.data), version: item.version, expiresAt: item.expiresAt };
}

function sameRow(a: Row | undefined, b: Row | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.data === b.data && a.version === b.version && a.expiresAt === b.expiresAt;
}

export interface Touched {
  readonly pk: string;
  readonly sk: string;
  /** The row before this input's first write to it (undefined: it did not exist). */
  readonly before: Row | undefined;
}

export class JournaledMemoryBackend implements ItemBackend {
  readonly #rows = new Map<string, Row>();
  /** Keys written since the last `reset()`, with their value before the first write. */
  readonly #journal = new Map<string, Touched>();
  /** Keys written since the last `beginStep()` (one delivery), with their value before it. */
  readonly #step = new Map<string, Touched>();

  constructor(items: readonly StoredItem[]) {
    for (const item of items) this.#rows.set(keyOf(item), toRow(item));
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    const row = this.#rows.get(keyOf(key));
    return row === undefined ? undefined : toItem(row);
  }

  async query(pk: string, skPrefix = ''): Promise<StoredItem[]> {
    return this.#sorted().filter((row) => row.pk === pk && row.sk.startsWith(skPrefix)).map(toItem);
  }

  async scanPrefix(pkPrefix: string): Promise<StoredItem[]> {
    return this.#sorted().filter((row) => row.pk.startsWith(pkPrefix)).map(toItem);
  }

  async write(operations: readonly WriteOperation[], nowSeconds: number): Promise<void> {
    const seen = new Set<string>();
    const prepared = operations.map((op) => {
      const key = op.op === 'put' ? op.item : op.key;
      const id = keyOf(key);
      if (seen.has(id)) throw new FrostlineError('invalid-write', `one write touches pk ${key.pk} more than once`);
      seen.add(id);
      return { op, id, row: op.op === 'put' ? toRow(op.item) : undefined };
    });
    const failed = prepared.filter(({ op, id }) => {
      const current = this.#rows.get(id);
      return !conditionHolds(current === undefined ? undefined : toItem(current), op.condition, nowSeconds);
    });
    const [first] = failed;
    if (first !== undefined) {
      const current = this.#rows.get(first.id);
      const key = first.op.op === 'put' ? first.op.item : first.op.key;
      throw new ConditionFailedError(`condition '${first.op.condition.kind}' failed for pk ${key.pk}`, failed.length === 1 && current !== undefined ? { existing: toItem(current) } : {});
    }
    for (const { op, id, row } of prepared) {
      const key = op.op === 'put' ? op.item : op.key;
      if (!this.#journal.has(id)) this.#journal.set(id, { pk: key.pk, sk: key.sk, before: this.#rows.get(id) });
      if (!this.#step.has(id)) this.#step.set(id, { pk: key.pk, sk: key.sk, before: this.#rows.get(id) });
      if (row === undefined) this.#rows.delete(id);
      else this.#rows.set(id, row);
    }
  }

  /** Starts one delivery: `changed()` reports what it writes. */
  beginStep(): void {
    this.#step.clear();
  }

  /** Keys this delivery changed (written to another row than before, or deleted), by `pk`/`sk`. */
  changed(): Touched[] {
    return [...this.#step.entries()].filter(([id, t]) => !sameRow(t.before, this.#rows.get(id))).map(([, t]) => t);
  }

  /** The current value of a touched key, for checks on what a write left. */
  current(key: ItemKey): StoredItem | undefined {
    const row = this.#rows.get(keyOf(key));
    return row === undefined ? undefined : toItem(row);
  }

  /** Undoes every write since the last reset. */
  reset(): void {
    for (const [id, touched] of this.#journal) {
      if (touched.before === undefined) this.#rows.delete(id);
      else this.#rows.set(id, touched.before);
    }
    this.#journal.clear();
    this.#step.clear();
  }

  /** Every item, sorted (for a full before/after comparison). */
  dump(): StoredItem[] {
    return this.#sorted().map(toItem);
  }

  #sorted(): Row[] {
    return [...this.#rows.values()].sort((a, b) => (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
  }
}
