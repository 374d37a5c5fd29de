/**
 * Where the project's files are, for bundling: found from this module's own location, so
 * that the app works from source (tests) and compiled (`dist/cdk`) alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name: unknown = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
      if (name === 'frostline') return dir;
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the frostline project root above ${start}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** The Lambda entry points, bundled by esbuild (cdk never imports them). */
export const Entry = {
  partyInbox: join(PROJECT_ROOT, 'functions', 'party-inbox.ts'),
  coordinatorInbox: join(PROJECT_ROOT, 'functions', 'coordinator-inbox.ts'),
  requestIntake: join(PROJECT_ROOT, 'functions', 'request-intake.ts'),
  sweeper: join(PROJECT_ROOT, 'functions', 'sweeper.ts'),
} as const;

export const LOCK_FILE = join(PROJECT_ROOT, 'package-lock.json');
