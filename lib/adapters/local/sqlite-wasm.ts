/**
 * The store on sql.js (SQLite compiled to WebAssembly): the fallback where the native
 * `better-sqlite3` module is unavailable (its build failed at `npm ci`, an unsupported
 * platform), or where `FROSTLINE_STORE=sqljs` asks for it.
 *
 * sql.js keeps the whole database in memory; durability comes from writing a snapshot
 * after every committed write (temp file → fsync → rename, so a crash leaves either the old
 * or the new file, never a torn one). Each write therefore rewrites the whole file, and one
 * process owns a file: two processes opening the same path would overwrite each other's
 * snapshots.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import { InfrastructureError } from '../../ports/errors.js';
import { SCHEMA, type SqlConnection, type SqlParam } from './sqlite-connection.js';

export function openWasm(sql: SqlJsStatic, path: string): SqlConnection {
  if (path === ':memory:') {
    const db = new sql.Database();
    db.run(SCHEMA);
    return new WasmConnection(db, sql, undefined);
  }
  refuseUnappliedLog(path);
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
  const connection = new WasmConnection(db, sql, path);
  // Write the empty store right away so an unwritable location fails at start-up.
  if (existing === undefined) connection.persist();
  return connection;
}

class WasmConnection implements SqlConnection {
  readonly engine = 'sql.js';
  private db: Database | undefined;

  constructor(
    db: Database,
    private readonly sql: SqlJsStatic,
    /** `undefined` for an in-memory store that is never persisted. */
    private readonly path: string | undefined,
  ) {
    this.db = db;
  }

  rows(sql: string, params: readonly SqlParam[]): unknown[][] {
    // Statements are prepared per call: db.export() closes and reopens the connection,
    // which frees every prepared statement.
    const statement = this.database().prepare(sql, [...params]);
    try {
      const rows: unknown[][] = [];
      while (statement.step()) rows.push(statement.get());
      return rows;
    } finally {
      statement.free();
    }
  }

  run(sql: string, params: readonly SqlParam[]): void {
    this.database().run(sql, [...params]);
  }

  transaction(body: () => void): void {
    const db = this.database();
    // Everything here runs synchronously: no other call can interleave between the
    // condition checks, the commit and the snapshot.
    db.run('BEGIN IMMEDIATE');
    try {
      body();
      db.run('COMMIT');
    } catch (error) {
      db.run('ROLLBACK');
      throw error;
    }
    if (this.path === undefined) return;
    try {
      this.persist();
    } catch (error) {
      // Memory is ahead of disk. Go back to the last snapshot so that what callers read
      // is what survives a restart; the caller sees the write fail and may retry it.
      this.reloadFromDisk();
      throw error;
    }
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private database(): Database {
    if (this.db === undefined) throw new InfrastructureError('sqlite:closed', 'the store has been closed');
    return this.db;
  }

  /** Atomic replace: a crash at any point leaves the previous or the new snapshot. */
  persist(): void {
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

/**
 * A file last written by better-sqlite3 that was not closed cleanly (a crash, or a process
 * still running) has committed transactions in its `-wal` file that sql.js, reading only
 * the main file, would not see — a consumed nonce would look unused. Refuse it.
 */
function refuseUnappliedLog(path: string): void {
  let size = 0;
  try {
    size = statSync(`${path}-wal`).size;
  } catch {
    return;
  }
  if (size > 0) {
    throw new InfrastructureError(
      'sqlite:open',
      `${path} has an unapplied write-ahead log (${path}-wal): it is in use by, or was not closed cleanly by, the better-sqlite3 store; the sql.js fallback cannot read it`,
    );
  }
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
