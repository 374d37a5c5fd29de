/**
 * How every handler bundle is built, in one place: the CDK construct (NodejsFunction, which
 * runs the local esbuild), the bundle-size test and the bundle bench all read these
 * options, so what is measured is what is deployed. No CDK import here: the test and the
 * bench build with esbuild directly.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BuildOptions } from 'esbuild';

/**
 * Files every bundle needs beside it. tiny-secp256k1 (the independent BIP340 verifier,
 * imported dynamically when a secp256k1-tr key is first used) is bundled, and its loader
 * reads `secp256k1.wasm` with readFileSync relative to `import.meta.url`: the bundle's own
 * directory. (Its package exports only "."; the CommonJS entry lives in lib/cjs/, the WASM in lib/.)
 */
export const BUNDLE_SIDE_FILES: readonly string[] = [join(dirname(dirname(createRequire(import.meta.url).resolve('tiny-secp256k1'))), 'secp256k1.wasm')];

/**
 * ESM bundles of CommonJS dependencies still call require() for Node built-ins: give them one.
 */
const REQUIRE_BANNER = "import { createRequire as __frostlineCreateRequire } from 'node:module'; const require = __frostlineCreateRequire(import.meta.url);";

/** The NodejsFunction `bundling` settings, as plain values (the construct maps `format`). */
export const HANDLER_BUNDLING = {
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: REQUIRE_BANNER,
  // Bundle the AWS SDK too: the version we tested, not whatever the runtime ships.
  externalModules: [] as string[],
  minify: true,
  sourceMap: true,
  sourcesContent: false,
} as const;

/**
 * The same build as esbuild options (what NodejsFunction passes to esbuild for the settings
 * above, platform node): each entry point to `outdir/<name>.mjs`. The stacks build one
 * function per esbuild run; several entries in one run give the same bundles (no code
 * splitting), only faster. Source maps are separate files and not part of a bundle's size.
 */
export function handlerEsbuildOptions(entryPoints: Readonly<Record<string, string>>, outdir: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: { ...entryPoints },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: HANDLER_BUNDLING.format,
    target: HANDLER_BUNDLING.target,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    banner: { js: HANDLER_BUNDLING.banner },
    external: [...HANDLER_BUNDLING.externalModules],
    minify: HANDLER_BUNDLING.minify,
    sourcemap: HANDLER_BUNDLING.sourceMap,
    sourcesContent: HANDLER_BUNDLING.sourcesContent,
    metafile: true,
    logLevel: 'silent',
  };
}

/** The npm package a metafile input belongs to (`@scope/name` or `name`), or undefined for our own code. */
export function packageOf(input: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  return match?.[1];
}
