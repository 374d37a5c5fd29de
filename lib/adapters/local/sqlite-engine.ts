/**
 * Chooses the store's SQLite engine: native `better-sqlite3` when it loads, else sql.js.
 *
 * `better-sqlite3` is an optional dependency: its native build may fail at `npm ci` (no
 * compiler, an unsupported platform) without failing the install. It is imported
 * dynamically and probed once per process; if it is unusable the store falls back to sql.js
 * and says so once on stderr, since every write then rewrites the whole file.
 *
 * `FROSTLINE_STORE` overrides the choice: `sqljs` forces the fallback (tests, or a platform
 * where the native module misbehaves), `better-sqlite3` forbids it (fail instead of falling
 * back), unset or `auto` chooses.
 */
import type { SqlJsStatic } from 'sql.js';
import { FrostlineError } from '../../ports/errors.js';
import type { StoreEngine } from './sqlite-connection.js';
import type { NativeDatabase } from './sqlite-native.js';

export type EngineChoice = 'auto' | StoreEngine;

export type LoadedEngine = { readonly engine: 'better-sqlite3'; readonly Database: NativeDatabase } | { readonly engine: 'sql.js'; readonly sql: SqlJsStatic };

export interface EngineLoaders {
  readonly native: () => Promise<NativeDatabase>;
  readonly wasm: () => Promise<SqlJsStatic>;
  /** Told, once per process, why the native engine is not used. */
  readonly warn: (line: string) => void;
}

export function engineChoice(value: string | undefined): EngineChoice {
  switch (value) {
    case undefined:
    case '':
    case 'auto':
      return 'auto';
    case 'sqljs':
    case 'sql.js':
      return 'sql.js';
    case 'better-sqlite3':
    case 'native':
      return 'better-sqlite3';
    default:
      throw new FrostlineError('invalid-config', `FROSTLINE_STORE must be auto, better-sqlite3 or sqljs, not '${value}'`);
  }
}

/** Loads each engine once per process; a failed load is forgotten so that a later open can retry. */
export class EngineSelector {
  private native: Promise<NativeDatabase> | undefined;
  private wasm: Promise<SqlJsStatic> | undefined;
  private warned = false;

  constructor(private readonly loaders: EngineLoaders) {}

  async load(choice: EngineChoice): Promise<LoadedEngine> {
    if (choice === 'sql.js') return { engine: 'sql.js', sql: await this.loadWasm() };
    try {
      return { engine: 'better-sqlite3', Database: await this.loadNative() };
    } catch (error) {
      if (choice === 'better-sqlite3') {
        throw new FrostlineError('invalid-config', `store: better-sqlite3 unavailable (${firstLine(error)}) and FROSTLINE_STORE=better-sqlite3 forbids the sql.js fallback`, {
          cause: error,
        });
      }
      if (!this.warned) {
        this.warned = true;
        this.loaders.warn(`frostline: store: better-sqlite3 unavailable (${firstLine(error)}); using sql.js fallback, slower`);
      }
      return { engine: 'sql.js', sql: await this.loadWasm() };
    }
  }

  private loadNative(): Promise<NativeDatabase> {
    this.native ??= forgetOnFailure(this.loaders.native(), () => (this.native = undefined));
    return this.native;
  }

  private loadWasm(): Promise<SqlJsStatic> {
    this.wasm ??= forgetOnFailure(this.loaders.wasm(), () => (this.wasm = undefined));
    return this.wasm;
  }
}

function forgetOnFailure<T>(loading: Promise<T>, forget: () => void): Promise<T> {
  loading.catch(forget);
  return loading;
}

/**
 * Imports better-sqlite3 and opens an in-memory database: the addon itself is loaded lazily
 * by the first `new Database`, so a failed native build only shows there.
 */
export async function importNative(): Promise<NativeDatabase> {
  const Database = (await import('better-sqlite3')).default;
  new Database(':memory:').close();
  return Database;
}

export async function importWasm(): Promise<SqlJsStatic> {
  const initSqlJs = (await import('sql.js')).default;
  return initSqlJs();
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
