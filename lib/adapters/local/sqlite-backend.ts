/**
 * The embedded store: an `ItemBackend` on SQLite, one file per party, so the local cluster
 * and the CLI need no database server.
 *
 * The engine is native `better-sqlite3` (WAL, a commit writes only the pages it changes,
 * several processes may share a file), or sql.js where the native module is unavailable
 * (see sqlite-engine.ts; slower: every write rewrites the whole file). Both read and write
 * the same SQLite file format, and the item logic below is the same for both.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConditionFailedError, FrostlineError, InfrastructureError } from '../../ports/errors.js';
import { conditionHolds } from '../../ports/store.js';
import type { ItemBackend, ItemData, ItemKey, StoredItem, WriteOperation } from '../../ports/store.js';
import type { SqlConnection, SqlParam, StoreEngine } from './sqlite-connection.js';
import { EngineSelector, engineChoice, importNative, importWasm, type EngineChoice } from './sqlite-engine.js';
import { openNative } from './sqlite-native.js';
import { openWasm } from './sqlite-wasm.js';

export type { StoreEngine } from './sqlite-connection.js';

const COLUMNS = 'pk, sk, data, version, expires_at';

const engines = new EngineSelector({
  native: importNative,
  wasm: importWasm,
  warn: (line) => process.stderr.write(`${line}\n`),
});

export interface SqliteOpenOptions {
  /** Which engine; default from `FROSTLINE_STORE`, else `auto` (native, falling back to sql.js). */
  readonly engine?: EngineChoice;
  /**
   * Native engine only. `'full'` (the default) fsyncs the log at every commit: a commit
   * survives a power loss. `'normal'` fsyncs only at checkpoints: SQLite documents WAL +
   * NORMAL as never corrupting the database, and every commit survives a process crash, but
   * the last commits may roll back after a power loss or OS crash. Only for stores whose
   * writes need no durability for safety (see sqlite-native.ts); never a party's.
   * @default 'full'
   */
  readonly synchronous?: 'full' | 'normal';
}

export class SqliteItemBackend implements ItemBackend {
  private connection: SqlConnection | undefined;

  private constructor(connection: SqlConnection) {
    this.connection = connection;
  }

  /** Opens (or creates) the store at `path`; its parent directory must already exist. */
  static async open(path: string | ':memory:', options: SqliteOpenOptions = {}): Promise<SqliteItemBackend> {
    const choice = options.engine ?? engineChoice(process.env.FROSTLINE_STORE);
    if (path !== ':memory:') requireDirectory(dirname(path));
    const loaded = await engines.load(choice);
    if (loaded.engine === 'sql.js') return new SqliteItemBackend(openWasm(loaded.sql, path));
    try {
      return new SqliteItemBackend(openNative(loaded.Database, path, options.synchronous ?? 'full'));
    } catch (error) {
      // SQLite's own reason ("file is not a database", "unable to open database file") names no data.
      const reason = error instanceof Error ? ` (${error.message})` : '';
      throw new InfrastructureError('sqlite:open', `${path} is not a usable SQLite database${reason}`, { cause: error });
    }
  }

  /** The engine in use (reported by the bench, asserted by tests). */
  get engine(): StoreEngine {
    return this.database().engine;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    return this.selectOne(key);
  }

  async query(pk: string, skPrefix = ''): Promise<StoredItem[]> {
    // substr/length instead of LIKE: '%' and '_' in keys would need escaping there.
    return this.select(
      `SELECT ${COLUMNS} FROM items WHERE pk = ? AND substr(sk, 1, length(?)) = ? ORDER BY sk`,
      [pk, skPrefix, skPrefix],
    );
  }

  async scanPrefix(pkPrefix: string): Promise<StoredItem[]> {
    return this.select(
      `SELECT ${COLUMNS} FROM items WHERE substr(pk, 1, length(?)) = ? ORDER BY pk, sk`,
      [pkPrefix, pkPrefix],
    );
  }

  async write(operations: readonly WriteOperation[], nowSeconds: number): Promise<void> {
    const db = this.database();
    if (operations.length === 0) return;
    // Serialise and validate before the transaction opens, so a bad argument cannot leave
    // it half-applied. The transaction itself is synchronous (BEGIN IMMEDIATE: the write
    // lock is held from the first condition check to the commit), so no other call or
    // process can write between the checks and the commit.
    const prepared = operations.map(prepareOperation);
    rejectDuplicateKeys(operations);

    db.transaction(() => {
      const failed = operations.flatMap((op) => {
        const key = op.op === 'put' ? op.item : op.key;
        const current = this.selectOne(key);
        return conditionHolds(current, op.condition, nowSeconds) ? [] : [{ op, current }];
      });
      const [first] = failed;
      if (first !== undefined) {
        const key = first.op.op === 'put' ? first.op.item : first.op.key;
        // The row is at hand: hand it back as DynamoDB's ALL_OLD does (and, as there, only
        // when one operation failed), so that `createOrGet` adopts the winner without a read.
        const existing = failed.length === 1 ? first.current : undefined;
        throw new ConditionFailedError(`condition '${first.op.condition.kind}' failed for pk ${key.pk}`, existing !== undefined ? { existing } : {});
      }
      for (const p of prepared) db.run(p.sql, p.params);
    });
  }

  /** Releases the database; later calls fail. */
  close(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  private database(): SqlConnection {
    if (this.connection === undefined) throw new InfrastructureError('sqlite:closed', 'the store has been closed');
    return this.connection;
  }

  private selectOne(key: ItemKey): StoredItem | undefined {
    return this.select(`SELECT ${COLUMNS} FROM items WHERE pk = ? AND sk = ?`, [key.pk, key.sk])[0];
  }

  private select(sql: string, params: SqlParam[]): StoredItem[] {
    return this.database().rows(sql, params).map(rowToItem);
  }
}

function requireDirectory(parent: string): void {
  try {
    if (!statSync(parent).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new InfrastructureError('sqlite:open', `parent directory ${parent} does not exist or is not a directory; create it first`, {
      cause: error,
    });
  }
}

interface PreparedStatement {
  readonly sql: string;
  readonly params: SqlParam[];
}

function prepareOperation(op: WriteOperation): PreparedStatement {
  if (op.op === 'delete') {
    return { sql: 'DELETE FROM items WHERE pk = ? AND sk = ?', params: [op.key.pk, op.key.sk] };
  }
  const { item } = op;
  if (!Number.isSafeInteger(item.version)) {
    throw new FrostlineError('invalid-item', `version of pk ${item.pk} must be an integer`);
  }
  if (item.expiresAt !== undefined && !Number.isSafeInteger(item.expiresAt)) {
    throw new FrostlineError('invalid-item', `expiresAt of pk ${item.pk} must be integer epoch seconds`);
  }
  let data: string;
  try {
    data = JSON.stringify(item.data);
  } catch (error) {
    throw new FrostlineError('invalid-item', `data of pk ${item.pk} is not JSON-serialisable`, { cause: error });
  }
  return {
    sql: `INSERT OR REPLACE INTO items (${COLUMNS}) VALUES (?, ?, ?, ?, ?)`,
    params: [item.pk, item.sk, data, item.version, item.expiresAt ?? null],
  };
}

/**
 * DynamoDB refuses a transaction that touches one item twice; refusing it here too keeps
 * the embedded store from accepting writes that would fail in production.
 */
function rejectDuplicateKeys(operations: readonly WriteOperation[]): void {
  const seen = new Set<string>();
  for (const op of operations) {
    const key = op.op === 'put' ? op.item : op.key;
    const id = JSON.stringify([key.pk, key.sk]);
    if (seen.has(id)) {
      throw new FrostlineError('invalid-write', `one write touches pk ${key.pk} more than once`);
    }
    seen.add(id);
  }
}

function rowToItem(row: unknown[]): StoredItem {
  const [pk, sk, data, version, expiresAt] = row;
  if (typeof pk !== 'string' || typeof sk !== 'string' || typeof data !== 'string' || typeof version !== 'number') {
    throw new InfrastructureError('sqlite:read', 'malformed row in items table');
  }
  if (expiresAt !== null && typeof expiresAt !== 'number') {
    throw new InfrastructureError('sqlite:read', `malformed expires_at for pk ${pk}`);
  }
  return { pk, sk, data: parseData(pk, data), version, expiresAt: expiresAt ?? undefined };
}

function parseData(pk: string, text: string): ItemData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InfrastructureError('sqlite:read', `data of pk ${pk} is not valid JSON`, { cause: error });
  }
  if (!isItemData(value)) throw new InfrastructureError('sqlite:read', `data of pk ${pk} is not a JSON object`);
  return value;
}

function isItemData(value: unknown): value is ItemData {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
