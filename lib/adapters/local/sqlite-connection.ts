/**
 * The few SQLite operations the embedded store needs, implemented by two engines: the
 * native `better-sqlite3` (the default) and sql.js compiled to WebAssembly (the fallback
 * where the native module did not build). The item logic in sqlite-backend.ts is written
 * once against this interface, so both engines keep exactly the same store semantics.
 */

export type StoreEngine = 'better-sqlite3' | 'sql.js';

export type SqlParam = string | number | null;

export interface SqlConnection {
  readonly engine: StoreEngine;
  /** The rows a statement returns, each as positional column values. */
  rows(sql: string, params: readonly SqlParam[]): unknown[][];
  /**
   * Runs `body` inside one `BEGIN IMMEDIATE` transaction: the write lock is taken before the
   * first read, so conditions checked in `body` still hold at commit. Commits — durably —
   * when `body` returns, rolls back and rethrows when it throws.
   */
  transaction(body: () => void): void;
  /** Runs a statement that returns no rows (inside `transaction`). */
  run(sql: string, params: readonly SqlParam[]): void;
  close(): void;
}

export const SCHEMA = `CREATE TABLE IF NOT EXISTS items (
  pk TEXT NOT NULL,
  sk TEXT NOT NULL,
  data TEXT NOT NULL,
  version INTEGER NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (pk, sk)
)`;
