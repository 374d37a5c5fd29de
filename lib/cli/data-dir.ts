/**
 * The local data directory of a CLI command: found (or, for the commands that make a
 * cluster, created) before anything else, and locked for the command's whole run.
 *
 * Only `keygen` and `demo` create a cluster. Every other command refuses a directory
 * without `cluster.json`: a mistyped `--data-dir` must not quietly become a new cluster
 * with fresh secrets, which the next `keygen` would then fill.
 *
 * Directories are created one level at a time, not with `mkdir -p` semantics: Node's
 * recursive mkdir loops forever when mkdir fails with ENOENT under a parent that exists
 * (e.g. `/proc/nope`: /proc exists, yet nothing can be created in it), which hung
 * `frostline keys --data-dir /proc/nope` at 100% CPU.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FrostlineError } from '../ports/errors.js';
import { ioError } from './failure.js';
import { acquireLock, type LockHolder } from './lock.js';

export const CLUSTER_FILE = 'cluster.json';
export const LOCK_FILE = 'frostline.lock';

/** How long a command waits for another one on the same directory. @default 120 s */
export function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FROSTLINE_LOCK_TIMEOUT;
  if (raw === undefined || raw === '') return 120_000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new FrostlineError('usage', `FROSTLINE_LOCK_TIMEOUT=${raw}: expected a number of seconds`);
  return seconds * 1000;
}

export interface DataDirOptions {
  /** Create the directory (keygen, demo); otherwise it must hold a cluster already. */
  readonly create: boolean;
  /** The command, as shown to another command that waits for this one. */
  readonly command: string;
  /** Progress lines (stderr). */
  readonly log?: (line: string) => void;
}

/**
 * Runs `work` on the data directory with its lock held: created first if `create`, else
 * refused with `no-cluster` unless it holds `cluster.json`.
 */
export async function withDataDir<T>(dataDir: string, options: DataDirOptions, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = resolve(dataDir);
  const kind = await kindOf(dir);
  if (kind === 'file') throw new FrostlineError('io', `--data-dir ${dir} is a file, not a directory`);
  if (kind === 'missing') {
    if (!options.create) throw noCluster(dir, 'does not exist');
    await makeDirectory(dir);
  }
  if (!options.create) await assertCluster(dir);
  const lock = await acquireLock(join(dir, LOCK_FILE), {
    command: options.command,
    timeoutMs: lockTimeoutMs(),
    onWait: (holder: LockHolder | undefined) =>
      options.log?.(`waiting for ${dir}: in use by ${holder === undefined ? 'another frostline command' : `${holder.command} (pid ${holder.pid})`} …`),
  });
  try {
    // Checked again under the lock: another command may have changed it meanwhile.
    if (!options.create) await assertCluster(dir);
    return await work(dir);
  } finally {
    await lock.release();
  }
}

async function kindOf(path: string): Promise<'directory' | 'file' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'file';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTDIR') throw new FrostlineError('io', `--data-dir ${path}: a parent of it is a file, not a directory`);
    throw ioError(`cannot read --data-dir ${path}`, error);
  }
}

function noCluster(dir: string, why: string): FrostlineError {
  return new FrostlineError(
    'no-cluster',
    `no frostline cluster in ${dir} (${why}); check --data-dir and $FROSTLINE_HOME, or create one with \`frostline keygen --data-dir ${dir} --key-id NAME\``,
  );
}

async function assertCluster(dir: string): Promise<void> {
  const kind = await kindOf(join(dir, CLUSTER_FILE));
  if (kind !== 'file') throw noCluster(dir, `it has no ${CLUSTER_FILE}`);
}

/** `mkdir -p`, one level at a time (see the module comment); new levels are private (0700). */
async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = dir;
  for (;;) {
    const kind = await kindOf(current);
    if (kind === 'directory') break;
    if (kind === 'file') throw new FrostlineError('io', `cannot create --data-dir ${dir}: ${current} is a file`);
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing) {
    try {
      await mkdir(level, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && (await kindOf(level)) === 'directory') continue; // made by a concurrent command
      throw ioError(`cannot create --data-dir ${dir}`, error);
    }
  }
}
