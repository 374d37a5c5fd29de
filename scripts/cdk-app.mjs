#!/usr/bin/env node
/**
 * The CDK app command (cdk.json): compiles cdk/app.ts and what it imports from lib/ into
 * one ES module with the project's esbuild (dependencies stay external), then runs it.
 * Takes well under a second, where tsc takes ~12 s; type checking stays with
 * `npm run typecheck` and `npm test`.
 *
 * The bundle is written to a temporary name and renamed into place, so that CDK commands
 * running side by side (tests synthesize concurrently) never import a half-written file.
 */
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'cdk', 'app.mjs');
const bundle = await build({
  entryPoints: [join(root, 'cdk', 'app.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
  write: false,
});
const [output] = bundle.outputFiles;
const temporary = `${outfile}.${process.pid}.tmp`;
mkdirSync(dirname(outfile), { recursive: true });
writeFileSync(temporary, output.contents);
renameSync(temporary, outfile);
await import(pathToFileURL(outfile).href);
