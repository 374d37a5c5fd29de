/**
 * `npm start` and `npm run bench` build first; when nothing changed that build must cost
 * next to nothing: the mtime check skips tsc, and tsc itself is incremental, so that when it
 * does run (an input touched but not changed) it emits nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { staleInput, writeStamp } from '../../scripts/build-if-changed.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');

function readTsconfig(path: string): { compilerOptions?: Record<string, unknown> } {
  const parsed = ts.parseConfigFileTextToJson(path, readFileSync(path, 'utf8'));
  if (parsed.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(parsed.error.messageText, '\n'));
  return parsed.config as { compilerOptions?: Record<string, unknown> };
}

describe('the build before npm start and npm run bench', () => {
  it('runs the up-to-date check, and tsc is incremental with its build info under git-ignored dist/', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.prestart).toBe('node scripts/build-if-changed.mjs');
    expect(scripts.bench).toMatch(/^node scripts\/build-if-changed\.mjs && /);
    const options = readTsconfig(join(ROOT, 'tsconfig.build.json')).compilerOptions ?? {};
    expect(options.incremental).toBe(true);
    expect(options.tsBuildInfoFile).toMatch(/^dist\//);
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('dist/');
  });
});

describe('staleInput', () => {
  let root: string;
  const past = (seconds: number) => new Date(Date.now() - seconds * 1000);
  const touch = (path: string, at: Date) => utimesSync(join(root, path), at, at);

  beforeEach(() => {
    root = mkdtempSync(join(ROOT, '.frostline-test-build-'));
    mkdirSync(join(root, 'lib', 'deep'), { recursive: true });
    writeFileSync(join(root, 'lib', 'deep', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(root, 'lib', 'b.ts'), 'export const b = 1;\n');
    writeFileSync(join(root, 'tsconfig.json'), '{}\n');
    for (const path of ['lib/deep/a.ts', 'lib/b.ts', 'lib/deep', 'lib', 'tsconfig.json']) touch(path, past(100));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const INPUTS = ['lib', 'tsconfig.json', 'node_modules/.package-lock.json'];

  it('is stale without a stamp, up to date after one, stale again when a file changes or goes', () => {
    expect(staleInput(root, 'dist/.build-stamp', INPUTS)).toBe('dist/.build-stamp');
    writeStamp(root, past(50).getTime(), 'dist/.build-stamp');
    expect(staleInput(root, 'dist/.build-stamp', INPUTS)).toBeUndefined();

    touch('lib/deep/a.ts', past(10));
    expect(staleInput(root, 'dist/.build-stamp', INPUTS)).toBe(join('lib', 'deep', 'a.ts'));
    touch('lib/deep/a.ts', past(100));
    expect(staleInput(root, 'dist/.build-stamp', INPUTS)).toBeUndefined();

    // A deleted source leaves no file to compare, but its directory changed.
    unlinkSync(join(root, 'lib', 'b.ts'));
    expect(staleInput(root, 'dist/.build-stamp', INPUTS)).toBe('lib');
  });
});

describe('tsc with the build options', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(ROOT, '.frostline-test-build-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('emits nothing the second time when nothing changed', () => {
    writeFileSync(join(root, 'a.ts'), 'export const a: number = 1;\n');
    // The real build options (incremental, build info under outDir), narrowed to one small file.
    writeFileSync(
      join(root, 'tsconfig.json'),
      JSON.stringify({ extends: '../tsconfig.build.json', compilerOptions: { rootDir: '.', outDir: 'dist', types: [], tsBuildInfoFile: 'dist/.tsbuildinfo' }, include: ['a.ts'] }),
    );
    const tsc = () => {
      const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
      expect(result.status, result.stdout + result.stderr).toBe(0);
    };
    tsc();
    const output = join(root, 'dist', 'a.js');
    const first = statSync(output).mtimeMs;
    expect(statSync(join(root, 'dist', '.tsbuildinfo')).isFile()).toBe(true);
    tsc();
    expect(statSync(output).mtimeMs).toBe(first);
  });
});
