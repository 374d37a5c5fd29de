#!/usr/bin/env node
/**
 * The CDK app command (cdk.json): compiles cdk/app.ts and what it imports from lib/ into
 * one ES module with the project's esbuild (dependencies stay external), then runs it.
 * Takes well under a second, where tsc takes ~12 s; type checking stays with
 * `npm run typecheck` and `npm test`.
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'cdk', 'app.mjs');
await build({
  entryPoints: [join(root, 'cdk', 'app.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
});
await import(pathToFileURL(outfile).href);
