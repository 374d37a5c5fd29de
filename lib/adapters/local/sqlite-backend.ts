/**
 * The embedded store: an `ItemBackend` on SQLite compiled to WebAssembly (sql.js), so the
 * local cluster needs no native module and no database server.
 *
 * sql.js keeps the whole database in memory; durability comes from writing a snapshot
 * after every committed write (temp file → fsync → rename, so a crash leaves either the old
 * or the new file, never a torn one). One process owns a file: two processes opening the
 * same path would overwrite each other's snapshots.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync, fchmodSync } from 'node:fs';
import { dirname } from 'node:path';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue } from 'sql.js';
import { ConditionFailedError, FrostlineError, InfrastructureError } from '../../ports/errors.js';
import { conditionHolds } from '../../ports/store.js';
import type { ItemBackend, ItemData, ItemKey, StoredItem, WriteOperation } from '../../ports/store.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS items (
  pk TEXT NOT NULL,
  sk TEXT NOT NULL,
  data TEXT NOT NULL,
  version INTEGER NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (pk, sk)
)`;

const COLUMNS = 'pk, sk, data, version, expires_at';

// Compiling the wasm module takes tens of milliseconds; do it once per process. A failed
// load is forgotten so that a later open can try again instead of failing forever.
let sqlJs: Promise<SqlJsStatic> | undefined;
function loadSqlJs(): Promise<SqlJsStatic> {
  if (sqlJs === undefined) {
    const loading = initSqlJs();
    sqlJs = loading;
    loading.catch(() => {
      if (sqlJs === loading) sqlJs = undefined;
    });
  }
  return sqlJs;
}

export class SqliteItemBackend implements ItemBackend {
  private db: Database | undefined;

  private constructor(
    db: Database,
    private readonly sql: SqlJsStatic,
    /** `undefined` for an in-memory store that is never persisted. */
    private readonly path: string | undefined,
  ) {
    this.db = db;
  }

  /** Opens (or creates) the store at `path`; its parent directory must already exist. */
  static async open(path: string | ':memory:'): Promise<SqliteItemBackend> {
    const sql = await loadSqlJs();
    if (path === ':memory:') {
      const db = new sql.Database();
      db.run(SCHEMA);
      return new SqliteItemBackend(db, sql, undefined);
    }
    const parent = dirname(path);
    try {
      if (!statSync(parent).isDirectory()) throw new Error('not a directory');
    } catch (error) {
      throw new InfrastructureError('sqlite:open', `parent directory ${parent} does not exist or is not a directory; create it first`, {
        cause: error,
      });
    }
    const existing = readIfPresent(path);
    let db: Database | undefined;
    try {
      db = existing === undefined ? new sql.Database() : new sql.Database(existing);
      // sql.js reads the file lazily: running the schema here surfaces a corrupt or
      // foreign file at open instead of at the first request.
      db.run(SCHEMA);
    } catch (error) {
      db?.close();
      throw new InfrastructureError('sqlite:open', `${path} is not a usable SQLite database`, { cause: error });
    }
    const backend = new SqliteItemBackend(db, sql, path);
    // Write the empty store right away so an unwritable location fails at start-up.
    if (existing === undefined) backend.persist();
    return backend;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    return this.selectOne(this.database(), key);
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
    // it half-applied. Everything below runs synchronously: no other call can interleave
    // between the condition checks, the commit and the snapshot.
    const prepared = operations.map(prepareOperation);
    rejectDuplicateKeys(operations);

    db.run('BEGIN IMMEDIATE');
    try {
      const failed = operations.flatMap((op) => {
        const key = op.op === 'put' ? op.item : op.key;
        const current = this.selectOne(db, key);
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
      db.run('COMMIT');
    } catch (error) {
      db.run('ROLLBACK');
      throw error;
    }
    if (this.path !== undefined) {
      try {
        this.persist();
      } catch (error) {
        // Memory is ahead of disk. Go back to the last snapshot so that what callers read
        // is what survives a restart; the caller sees the write fail and may retry it.
        this.reloadFromDisk();
        throw error;
      }
    }
  }

  /** Releases the database; later calls fail. */
  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private database(): Database {
    if (this.db === undefined) throw new InfrastructureError('sqlite:closed', 'the store has been closed');
    return this.db;
  }

  private selectOne(db: Database, key: ItemKey): StoredItem | undefined {
    const rows = this.selectFrom(db, `SELECT ${COLUMNS} FROM items WHERE pk = ? AND sk = ?`, [key.pk, key.sk]);
    return rows[0];
  }

  private select(sql: string, params: SqlValue[]): StoredItem[] {
    return this.selectFrom(this.database(), sql, params);
  }

  private selectFrom(db: Database, sql: string, params: SqlValue[]): StoredItem[] {
    // Statements are prepared per call: db.export() closes and reopens the connection,
    // which frees every prepared statement.
    const statement = db.prepare(sql, params);
    try {
      const items: StoredItem[] = [];
      while (statement.step()) items.push(rowToItem(statement.get()));
      return items;
    } finally {
      statement.free();
    }
  }

  /** Atomic replace: a crash at any point leaves the previous or the new snapshot. */
  private persist(): void {
    const path = this.path;
    if (path === undefined) return;
    const bytes = this.database().export();
    const tmp = `${path}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        // The mode argument applies only when the file is created; a stale temp file
        // left by a crash keeps its old mode unless we set it.
        fchmodSync(fd, 0o600);
        let offset = 0;
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      syncDirectory(dirname(path));
    } catch (error) {
      throw new InfrastructureError('sqlite:persist', `could not write ${path}`, { cause: error });
    }
  }

  private reloadFromDisk(): void {
    const path = this.path;
    if (path === undefined) return;
    const previous = this.db;
    try {
      const bytes = readIfPresent(path);
      const db = bytes === undefined ? new this.sql.Database() : new this.sql.Database(bytes);
      db.run(SCHEMA);
      this.db = db;
    } catch {
      // Cannot tell what is durable any more: refuse further use rather than serve
      // state that may vanish on restart.
      this.db = undefined;
    }
    previous?.close();
  }
}

interface PreparedStatement {
  readonly sql: string;
  readonly params: SqlValue[];
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

function rowToItem(row: SqlValue[]): StoredItem {
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

function readIfPresent(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return undefined;
    throw new InfrastructureError('sqlite:open', `could not read ${path}`, { cause: error });
  }
}

/** Makes the rename itself durable. Not supported everywhere (Windows), hence best effort. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: the data file itself was already fsynced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
