#!/usr/bin/env node
/**
 * The build before `npm start` and `npm run bench`: `tsc -p tsconfig.build.json`, which is
 * incremental (its build info is kept in dist/), skipped outright when no input changed since
 * the last successful build. A no-op incremental tsc still loads and checks the whole program
 * (seconds to tens of seconds on a busy machine); comparing modification times takes
 * milliseconds, so the demo starts at once when nothing changed.
 *
 * Inputs: the sources tsc compiles (lib, bin, bench: files and directories, so that a
 * deleted or added file counts), the tsconfig files, package.json and the installed
 * packages (node_modules/.package-lock.json changes on every npm install). The stamp is
 * written with the time the build *started*, so that an edit made during a build is seen by
 * the next one.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STAMP = join('dist', '.build-stamp');
export const INPUTS = ['lib', 'bin', 'bench', 'cdk', 'functions', 'tsconfig.json', 'tsconfig.build.json', 'package.json', join('node_modules', '.package-lock.json')];

/** The first input (file or directory) modified after `stampPath` was, or `stampPath` itself if there is no stamp; undefined when up to date. */
export function staleInput(root, stampPath = STAMP, inputs = INPUTS) {
  let stamp;
  try {
    stamp = statSync(join(root, stampPath)).mtimeMs;
  } catch {
    return stampPath;
  }
  const pending = [...inputs];
  while (pending.length > 0) {
    const path = pending.pop();
    let info;
    try {
      info = statSync(join(root, path));
    } catch {
      continue; // an optional input (no package lock yet)
    }
    if (info.mtimeMs > stamp) return path;
    if (info.isDirectory()) {
      for (const entry of readdirSync(join(root, path))) pending.push(join(path, entry));
    }
  }
  return undefined;
}

export function writeStamp(root, startedMs, stampPath = STAMP) {
  const path = join(root, stampPath);
  mkdirSync(dirname(path), { recursive: true });
  closeSync(openSync(path, 'a'));
  const at = new Date(startedMs);
  utimesSync(path, at, at);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.cwd();
  const stale = staleInput(root);
  if (stale === undefined) process.exit(0);
  const started = Date.now();
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const result = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeStamp(root, started);
}
