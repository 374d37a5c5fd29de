/**
 * Bundles one TypeScript entry for Node with the locally installed esbuild (dependencies
 * stay external), for the scripts that run TypeScript without a tsc build. Written under a
 * temporary name and renamed, so concurrent runs never import a half-written file.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export async function bundleAndImport(entry, outfile) {
  const bundle = await build({
    entryPoints: [entry],
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
  return import(pathToFileURL(outfile).href);
}
