/**
 * How every handler bundle is built, in one place: the CDK construct (NodejsFunction, which
 * runs the local esbuild), the bundle-size test and the bundle bench all read these
 * options, so what is measured is what is deployed. No CDK import here: the test and the
 * bench build with esbuild directly.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { PROJECT_ROOT } from './paths.js';

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

/**
 * The package name under which the AWS SDK layer (cdk/constructs/aws-sdk-layer.ts) holds the
 * SDK, at `/opt/nodejs/node_modules/@frostline/aws-sdk`. A name of our own, not
 * `@aws-sdk/client-*`: a function deployed without the layer fails to start instead of
 * silently loading the runtime's own, untested SDK.
 */
export const AWS_SDK_LAYER_PACKAGE = '@frostline/aws-sdk';

/** The SDK clients the handlers import, each served by the layer (functions/sdk-layer/index.ts). */
const SDK_CLIENTS = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kms', '@aws-sdk/client-sqs'] as const;

/**
 * The NodejsFunction `bundling` settings, as plain values (the construct maps `format` and
 * passes `alias` as esbuild arguments).
 *
 * The AWS SDK is not in the handler bundles: with it each bundle was ~590 KiB, over the
 * 400 KiB budget, of which the SDK (even without its credential chain) was ~235 KiB and
 * frostline's own code with noble, zod and Powertools another ~205-235 KiB. The handlers'
 * `@aws-sdk/client-*` imports are rewritten to the layer's package and left external; the
 * layer is built from the same node_modules (package-lock.json's versions), so the SDK
 * that runs is still the one we tested, not whatever the runtime ships.
 */
export const HANDLER_BUNDLING = {
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: REQUIRE_BANNER,
  externalModules: [AWS_SDK_LAYER_PACKAGE] as string[],
  alias: Object.fromEntries(SDK_CLIENTS.map((client) => [client, AWS_SDK_LAYER_PACKAGE])) as Readonly<Record<string, string>>,
  minify: true,
  /**
   * The source map is built and deployed beside every bundle, but not read unless
   * `NODE_OPTIONS=--enable-source-maps` is set (see `handlerNodeOptions`): so a deployed
   * function can be switched to source-mapped stack traces without a rebuild.
   */
  sourceMap: true,
  sourcesContent: false,
} as const;

/** The option that makes Node read the bundle's source map at load (and map every stack trace). */
export const SOURCE_MAPS_NODE_OPTION = '--enable-source-maps';

/** Set to `1` when synthesizing (`FROSTLINE_SOURCE_MAPS=1 npx cdk deploy ...`) to deploy every function with source maps on. */
export const SOURCE_MAPS_SWITCH = 'FROSTLINE_SOURCE_MAPS';

/**
 * Every function's NODE_OPTIONS, or undefined for none (the default). Source maps are off
 * by default because Node parses the whole map (~450 KiB of JSON) at every cold start when
 * they are on: 10–15 ms of a ~100 ms module import (bench/bundles.ts measures both). What
 * is given up: stack traces of uncaught errors (a cold start that throws, a crash) name
 * minified positions in the bundle instead of our source files. The handlers never log
 * stacks of the errors they catch (only name, code and message), so nothing else changes.
 * To debug: deploy with `FROSTLINE_SOURCE_MAPS=1`, or set `NODE_OPTIONS=--enable-source-maps`
 * on one function's environment (the map is already beside its bundle).
 */
export function handlerNodeOptions(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  return env[SOURCE_MAPS_SWITCH] === '1' ? SOURCE_MAPS_NODE_OPTION : undefined;
}

/** `HANDLER_BUNDLING.alias` as NodejsFunction `esbuildArgs` (`--alias:from=to`). */
export function aliasEsbuildArgs(alias: Readonly<Record<string, string>>): { '--alias': string[] } {
  return { '--alias': Object.entries(alias).map(([from, to]) => `${from}=${to}`) };
}

/**
 * The same build as esbuild options (what NodejsFunction passes to esbuild for the settings
 * above, platform node): each entry point to `outdir/<name>.mjs`. The stacks build one
 * function per esbuild run; several entries in one run give the same bundles (no code
 * splitting), only faster. Source maps are separate files and not part of a bundle's size.
 */
export function handlerEsbuildOptions(entryPoints: Readonly<Record<string, string>>, outdir: string): BuildOptions & { metafile: true } {
  return {
    ...sharedEsbuildOptions(entryPoints, outdir),
    external: [...HANDLER_BUNDLING.externalModules],
    alias: { ...HANDLER_BUNDLING.alias },
    sourcemap: HANDLER_BUNDLING.sourceMap,
    sourcesContent: HANDLER_BUNDLING.sourcesContent,
  };
}

/** What the handler bundles and the SDK layer's module share: ESM for the Lambda runtime, minified. */
function sharedEsbuildOptions(entryPoints: Readonly<Record<string, string>>, outdir: string): BuildOptions & { metafile: true } {
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
    minify: HANDLER_BUNDLING.minify,
    metafile: true,
    logLevel: 'silent',
  };
}

/** The layer's entry point, and the modules it bundles in place of two parts of the SDK. */
export const AwsSdkLayerSource = {
  entry: join(PROJECT_ROOT, 'functions', 'sdk-layer', 'index.ts'),
  credentialProvider: join(PROJECT_ROOT, 'functions', 'sdk-layer', 'credential-provider.ts'),
  noEventStreams: join(PROJECT_ROOT, 'functions', 'sdk-layer', 'no-event-streams.ts'),
} as const;

/** Where the layer's module lies inside the layer (a zip extracted at /opt). */
export const AWS_SDK_LAYER_DIR = join('nodejs', 'node_modules', ...AWS_SDK_LAYER_PACKAGE.split('/'));

/**
 * The AWS SDK layer's module as esbuild options: `packageDir/index.mjs`, where `packageDir`
 * is `AWS_SDK_LAYER_DIR` in the layer (write `awsSdkLayerPackageJson()` next to it). Same target and minification as the
 * handlers. Two swaps, each explained (why, what it gives up) in its module:
 * `@aws-sdk/credential-provider-node` becomes the Lambda-only provider, which reads the
 * environment variables and nothing else (~130 KiB less), and `@smithy/core/event-streams`
 * a stub (~15 KiB less). No source map: the layer is the SDK's code, not ours.
 */
export function awsSdkLayerEsbuildOptions(packageDir: string): BuildOptions & { metafile: true } {
  return {
    ...sharedEsbuildOptions({ index: AwsSdkLayerSource.entry }, packageDir),
    alias: {
      '@aws-sdk/credential-provider-node': AwsSdkLayerSource.credentialProvider,
      '@smithy/core/event-streams': AwsSdkLayerSource.noEventStreams,
    },
  };
}

/** The layer package's package.json: an ES module with one entry point. */
export function awsSdkLayerPackageJson(): string {
  return `${JSON.stringify({ name: AWS_SDK_LAYER_PACKAGE, private: true, type: 'module', exports: './index.mjs' }, null, 2)}\n`;
}

/** The npm package a metafile input belongs to (`@scope/name` or `name`), or undefined for our own code. */
export function packageOf(input: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  return match?.[1];
}
