/**
 * The store on `better-sqlite3`: SQLite itself, writing only the pages a transaction changes
 * (to the write-ahead log), so the cost of a write does not grow with the database.
 *
 * - WAL mode: readers never block the writer, and several processes (CLI commands) can use
 *   one party file at once.
 * - `synchronous = FULL`: every commit fsyncs the log before it returns. With NORMAL a
 *   commit survives a process crash but not a power loss or kernel panic, which may roll
 *   back the last transactions. A party marks a nonce consumed and only then releases its
 *   signature share; losing that mark would let a restarted party sign a second message with
 *   the same nonce, which reveals its key share. One fsync per commit is the price.
 *   `synchronous = NORMAL` is for the local coordinator's store only (LocalCluster): it holds
 *   no key, nonce or share, and the coordinator is trusted for liveness only, so the worst a
 *   power loss can do is make it forget its last steps, which is less than a malicious
 *   coordinator may do at will and every party already defends against (their nonces and
 *   shares are in their own FULL stores). SQLite: in WAL mode NORMAL never corrupts the
 *   database and keeps every commit across an application crash
 *   (https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html).
 * - `BEGIN IMMEDIATE` plus a busy timeout: a conditional write takes the database's one
 *   write lock before it reads, so of two processes' mutually exclusive writes exactly one
 *   commits; the other waits for the lock, then sees the winner's row and fails its condition.
 */
import { closeSync, fchmodSync, openSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { SCHEMA, type SqlConnection, type SqlParam } from './sqlite-connection.js';

export type NativeDatabase = typeof BetterSqlite3;

/** How long a write waits for another process's transaction before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 10_000;

export function openNative(Database: NativeDatabase, path: string, synchronous: 'full' | 'normal' = 'full'): SqlConnection {
  if (path !== ':memory:') createPrivate(path);
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    // The first statements read the header: a foreign file fails here, at open.
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    // NORMAL only with WAL: in rollback-journal mode it could corrupt the file on power loss.
    db.pragma(synchronous === 'normal' && path !== ':memory:' ? 'synchronous = NORMAL' : 'synchronous = FULL');
    db.exec(SCHEMA);
  } catch (error) {
    db.close();
    throw error;
  }
  return new NativeConnection(db);
}

class NativeConnection implements SqlConnection {
  readonly engine = 'better-sqlite3';
  // Prepared once per SQL text: the store issues a handful of distinct statements.
  private readonly statements = new Map<string, BetterSqlite3.Statement<SqlParam[]>>();

  constructor(private readonly db: BetterSqlite3.Database) {}

  rows(sql: string, params: readonly SqlParam[]): unknown[][] {
    return this.statement(sql).raw(true).all(...params) as unknown[][];
  }

  run(sql: string, params: readonly SqlParam[]): void {
    this.statement(sql).run(...params);
  }

  transaction(body: () => void): void {
    this.db.transaction(body).immediate();
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }

  private statement(sql: string): BetterSqlite3.Statement<SqlParam[]> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<SqlParam[]>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/**
 * Creates the file 0600 before SQLite opens it (SQLite would use 0644 less the umask); its
 * -wal and -shm files take the database file's mode.
 */
function createPrivate(path: string): void {
  const fd = openSync(path, 'a', 0o600);
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}
