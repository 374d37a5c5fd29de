/**
 * Starts the project's pinned moto server for `frostline dev up`.
 *
 * scripts/emulator.mjs stays the one implementation (pinned version, project-local venv,
 * free port, readiness check): it is dependency-free Node that CI and the test setup run
 * before anything is built, so it cannot import compiled code, and a TypeScript copy here
 * would drift from it. This module finds it at run time — from lib/ in a checkout and from
 * dist/lib/ after a build alike — and imports it, checking the shape of what it exports.
 * An installed package has no scripts/ and no venv: there, start an emulator yourself and
 * pass its endpoint.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../ports/errors.js';

export interface RunningEmulator {
  /** e.g. `http://127.0.0.1:40123` */
  readonly endpoint: string;
  stop(): Promise<void>;
}

type StartEmulator = (options?: { log?: (line: string) => void }) => Promise<unknown>;

/** How far up from this file the checkout's root can be (lib/dev, dist/lib/dev). */
const MAX_LEVELS = 6;

/** The checkout's scripts/emulator.mjs, if this module runs from a checkout. */
export function findEmulatorScript(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let level = 0; level < MAX_LEVELS; level++) {
    const candidate = join(dir, 'scripts', 'emulator.mjs');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function isStartEmulator(value: unknown): value is StartEmulator {
  return typeof value === 'function';
}

function isRunningEmulator(value: unknown): value is RunningEmulator {
  if (typeof value !== 'object' || value === null) return false;
  return 'endpoint' in value && typeof value.endpoint === 'string' && 'stop' in value && typeof value.stop === 'function';
}

/** Starts moto (creating the venv on first use, which takes a minute) and resolves once it answers. */
export async function startEmulator(options: { log?: (line: string) => void } = {}): Promise<RunningEmulator> {
  const script = findEmulatorScript();
  if (script === undefined) {
    throw new ConfigError('no scripts/emulator.mjs next to this frostline (an installed package has none); start an AWS emulator and pass --endpoint URL');
  }
  const module: unknown = await import(pathToFileURL(script).href);
  const start = typeof module === 'object' && module !== null && 'startEmulator' in module ? module.startEmulator : undefined;
  if (!isStartEmulator(start)) throw new ConfigError(`${script} does not export startEmulator()`);
  const emulator = await start(options.log !== undefined ? { log: options.log } : {});
  if (!isRunningEmulator(emulator)) throw new ConfigError(`startEmulator() in ${script} returned no endpoint`);
  return emulator;
}
