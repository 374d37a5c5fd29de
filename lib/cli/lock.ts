/**
 * An exclusive lock file per data directory, held by one `frostline` command from start to
 * end: a second command waits for the first instead, and says so. The native store
 * (better-sqlite3, WAL) could be shared by several processes, but the sql.js fallback keeps
 * each store in memory and writes it back whole, so two processes on one directory would
 * overwrite each other's writes; and each command runs the whole local deployment (queues,
 * transport) in its own process.
 *
 * The lock is a file created with O_EXCL holding the holder's pid, host and command. A
 * holder that died without removing it (SIGKILL, a crash) is detected by its pid on the
 * same host, and the lock is taken over — under a second, short-lived lock, so that two
 * waiters never both remove a live holder's file.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { FrostlineError } from '../ports/errors.js';
import { ioError } from './failure.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly since: string;
}

export interface LockOptions {
  /** What the holder is doing, shown to whoever waits, e.g. `frostline sign`. */
  readonly command: string;
  /** How long to wait for another holder. */
  readonly timeoutMs: number;
  /** Told once when the lock is held by someone else and this call starts waiting. */
  readonly onWait?: (holder: LockHolder | undefined) => void;
}

export interface HeldLock {
  release(): Promise<void>;
}

/** A lock file nobody wrote into for this long is a creator that died between create and write. */
const EMPTY_LOCK_STALE_MS = 10_000;

export async function acquireLock(path: string, options: LockOptions): Promise<HeldLock> {
  const me: LockHolder = { pid: process.pid, host: hostname(), command: options.command, since: new Date().toISOString() };
  const started = Date.now();
  let announced = false;
  for (;;) {
    if (await tryCreate(path, me)) return held(path, me);
    const holder = await readHolder(path);
    if (await isStale(path, holder)) {
      await breakStale(path, holder);
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= options.timeoutMs) {
      const who = holder === undefined ? 'another frostline command' : `${holder.command} (pid ${holder.pid}${holder.host !== me.host ? ` on ${holder.host}` : ''}, since ${holder.since})`;
      throw new FrostlineError(
        'locked',
        `${path} is held by ${who}; gave up after ${Math.round(waited / 1000)} s (FROSTLINE_LOCK_TIMEOUT=SECONDS waits longer; if that process is gone, delete the lock file)`,
      );
    }
    if (!announced) {
      announced = true;
      options.onWait?.(holder);
    }
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 100)));
  }
}

async function tryCreate(path: string, me: LockHolder): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(`cannot create the lock file ${path}`, error);
  }
  try {
    await handle.writeFile(`${JSON.stringify(me)}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

function held(path: string, me: LockHolder): HeldLock {
  // A command that ends with process.exit() still removes its lock.
  const onExit = () => {
    try {
      if (ownedBy(readFileSync(path, 'utf8'), me)) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      process.removeListener('exit', onExit);
      try {
        if (ownedBy(await readFile(path, 'utf8'), me)) await unlink(path);
      } catch {
        // already gone: nothing to release
      }
    },
  };
}

function ownedBy(text: string, me: LockHolder): boolean {
  const holder = parseHolder(text);
  return holder !== undefined && holder.pid === me.pid && holder.since === me.since;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, host, command, since } = value as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof command !== 'string' || typeof since !== 'string') return undefined;
    return { pid, host, command, since };
  } catch {
    return undefined;
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Dead holder on this host, or an empty file left by a creator that died before writing it. */
async function isStale(path: string, holder: LockHolder | undefined): Promise<boolean> {
  if (holder !== undefined) return holder.host === hostname() && !alive(holder.pid);
  try {
    return Date.now() - (await stat(path)).mtimeMs > EMPTY_LOCK_STALE_MS;
  } catch {
    return false; // gone: the next attempt creates it
  }
}

/** Removes a stale lock file, unless someone else is doing so or it changed meanwhile. */
async function breakStale(path: string, seen: LockHolder | undefined): Promise<void> {
  const breaker = `${path}.break`;
  let handle;
  try {
    handle = await open(breaker, 'wx', 0o600);
  } catch {
    // Another waiter is breaking it; a breaker that died long ago is removed.
    try {
      if (Date.now() - (await stat(breaker)).mtimeMs > EMPTY_LOCK_STALE_MS) await unlink(breaker);
    } catch {
      // gone meanwhile
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    return;
  }
  try {
    await handle.close();
    const now = await readHolder(path);
    const same = seen === undefined ? now === undefined : now !== undefined && now.pid === seen.pid && now.since === seen.since;
    if (same) await unlink(path).catch(() => {});
  } finally {
    await unlink(breaker).catch(() => {});
  }
}
