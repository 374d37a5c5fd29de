/**
 * The layering, checked on the real module graph: dependencies point inward (DESIGN.md,
 * "Code layout"), nothing imports in a circle (madge), and the client entry point bundles
 * without the AWS SDK or either SQLite engine (esbuild's metafile lists every module a bundle pulls in).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCES = ['lib', 'functions', 'cdk', 'bin', 'bench'];

/** madge over the sources: the import graph (file -> files it imports), or its cycles. */
function madge(...args: string[]): unknown {
  const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'madge'), ['--json', '--no-spinner', '--extensions', 'ts', ...args, ...SOURCES], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error !== undefined) throw result.error;
  return JSON.parse(result.stdout);
}

/** The modules (paths relative to the root) that a bundle of `entry` contains. */
async function bundledInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

const AWS_SDK = /node_modules\/@aws-sdk\//;
const SQL_JS = /node_modules\/sql\.js\//;
const BETTER_SQLITE3 = /node_modules\/better-sqlite3\//;

describe('the client entry point (frostline/client)', () => {
  it('bundles without @aws-sdk/*, sql.js or better-sqlite3', async () => {
    const inputs = await bundledInputs('lib/client/index.ts');
    expect(inputs.filter((path) => AWS_SDK.test(path) || SQL_JS.test(path) || BETTER_SQLITE3.test(path))).toEqual([]);
    // It is the SDK, not an empty bundle: the client and the protocol checks are in it.
    expect(inputs).toContain('lib/client/client.ts');
    expect(inputs).toContain('lib/protocol/attestation.ts');
  });

  it('the check sees them where they are: frostline/aws has the AWS SDK, frostline/dev both SQLite engines', async () => {
    expect((await bundledInputs('lib/adapters/aws/index.ts')).some((path) => AWS_SDK.test(path))).toBe(true);
    const dev = await bundledInputs('lib/dev/index.ts');
    expect(dev.some((path) => SQL_JS.test(path))).toBe(true);
    expect(dev.some((path) => BETTER_SQLITE3.test(path))).toBe(true);
  });
});

describe('package exports', () => {
  it('each subpath names a built entry whose source exists', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    expect(Object.keys(manifest.exports)).toEqual(['.', './client', './aws', './dev']);
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const source = target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, source)), `${subpath} -> ${source}`).toBe(true);
      expect(target.types, subpath).toBe(target.default.replace(/\.js$/, '.d.ts'));
    }
  });
});

/** Which lib/ layers each layer may import (besides itself). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'lib/ports': [],
  'lib/protocol': ['lib/ports'],
  'lib/config': ['lib/protocol', 'lib/ports'],
  'lib/client': ['lib/protocol', 'lib/ports'],
  'lib/adapters/local': ['lib/protocol', 'lib/ports'],
  'lib/adapters/aws': ['lib/client', 'lib/config', 'lib/protocol', 'lib/ports'],
  'lib/lambda': ['lib/adapters/aws', 'lib/config', 'lib/protocol', 'lib/ports'],
  'lib/dev': ['lib/lambda', 'lib/adapters/aws', 'lib/adapters/local', 'lib/client', 'lib/config', 'lib/protocol', 'lib/ports'],
  'lib/cli': ['lib/dev', 'lib/lambda', 'lib/adapters/aws', 'lib/adapters/local', 'lib/client', 'lib/config', 'lib/protocol', 'lib/ports'],
};

function layerOf(file: string): string | undefined {
  return Object.keys(MAY_IMPORT)
    .filter((layer) => file.startsWith(`${layer}/`))
    .sort((a, b) => b.length - a.length)[0];
}

describe('layers point inward', () => {
  let graph: Record<string, string[]>;
  beforeAll(() => {
    graph = madge() as Record<string, string[]>;
    // The graph is real: madge resolved the `.js` specifiers to the TypeScript sources.
    expect(graph['lib/index.ts']).toContain('lib/client/index.ts');
    expect(graph['functions/party-inbox.ts']).toEqual(['lib/lambda/handlers.ts']);
  }, 300_000);

  const edges = () => Object.entries(graph).flatMap(([from, targets]) => targets.map((to) => ({ from, to })));

  it('nothing in lib/ imports from outside lib/ (functions, cdk, bin, bench)', () => {
    expect(edges().filter(({ from, to }) => from.startsWith('lib/') && !to.startsWith('lib/'))).toEqual([]);
    // Also by plain text, should a specifier ever escape madge's resolution.
    const escapes = Object.keys(graph)
      .filter((file) => file.startsWith('lib/'))
      .filter((file) => /from '(?:\.\.\/)+(?:functions|cdk|bin|bench|test)\//.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(escapes).toEqual([]);
  });

  it('each lib/ layer imports only the layers beneath it', () => {
    const violations = edges().filter(({ from, to }) => {
      const source = layerOf(from);
      const target = layerOf(to);
      if (source === undefined || target === undefined || source === target) return false;
      return !(MAY_IMPORT[source] ?? []).includes(target);
    });
    expect(violations).toEqual([]);
    // Every file of lib/ is in a layer but the package's own entry point.
    expect(Object.keys(graph).filter((file) => file.startsWith('lib/') && layerOf(file) === undefined)).toEqual(['lib/index.ts']);
  });

  it('functions/ are entry points onto lib/lambda; cdk names them as paths only and imports lib/config, never lib/lambda or lib/dev', () => {
    const entries = Object.entries(graph).filter(([file]) => file.startsWith('functions/') && !file.startsWith('functions/sdk-layer/'));
    expect(entries.map(([file]) => file).sort()).toEqual(['functions/coordinator-inbox.ts', 'functions/party-inbox.ts', 'functions/request-intake.ts', 'functions/sweeper.ts']);
    for (const [file, targets] of entries) {
      expect(targets, file).toHaveLength(1);
      expect(targets[0], file).toMatch(/^lib\/lambda\//);
    }
    // The AWS SDK layer's sources bundle npm packages only: none of our code rides in the layer.
    const layerFiles = Object.keys(graph).filter((file) => file.startsWith('functions/sdk-layer/'));
    expect(layerFiles.sort()).toEqual(['functions/sdk-layer/credential-provider.ts', 'functions/sdk-layer/index.ts', 'functions/sdk-layer/no-event-streams.ts']);
    expect(edges().filter(({ from }) => from.startsWith('functions/sdk-layer/'))).toEqual([]);
    const cdkImports = edges().filter(({ from }) => from.startsWith('cdk/'));
    expect(cdkImports.filter(({ to }) => to.startsWith('functions/') || to.startsWith('lib/lambda/') || to.startsWith('lib/dev/'))).toEqual([]);
  });
});

describe('no circular imports', () => {
  it('madge --circular finds none in lib, functions, cdk, bin and bench', () => {
    expect(madge('--circular')).toEqual([]);
  }, 300_000);
});
