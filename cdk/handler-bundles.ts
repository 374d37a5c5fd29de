/**
 * Builds every Lambda entry point (cdk/paths.ts `Entry`) exactly as the stacks do
 * (cdk/handler-bundling.ts), for the bundle-size test and `bench/bundles.ts`, together with
 * the AWS SDK layer they import, installed where Node finds it from the bundles
 * (`outDir/node_modules/@frostline/aws-sdk`, as Lambda finds it under /opt/nodejs). esbuild
 * takes well under a second per handler.
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { AWS_SDK_LAYER_PACKAGE, BUNDLE_SIDE_FILES, awsSdkLayerEsbuildOptions, awsSdkLayerPackageJson, handlerEsbuildOptions, packageOf } from './handler-bundling.js';
import { Entry } from './paths.js';

export type HandlerName = keyof typeof Entry;

/**
 * Size budget per handler bundle, KiB (minified, source map and SDK layer excluded),
 * checked by test/cdk/handler-bundles.test.ts. The target is 400 KiB; the bundles measured
 * 206-224 KiB (2026-12-02) once the AWS SDK moved to its layer. Before, with the SDK
 * bundled, they were 586-603 KiB.
 */
export const HANDLER_BUNDLE_BUDGET_KIB: Readonly<Record<HandlerName, number>> = {
  partyInbox: 400,
  coordinatorInbox: 400,
  requestIntake: 400,
  sweeper: 400,
};

/**
 * The AWS SDK layer's module, KiB, also checked by the test: not a Lambda limit (a layer
 * may hold 250 MB unzipped) but every cold start parses it. Measured 230 KiB (2026-12-02);
 * the SDK's full default credential chain would add ~130 KiB, its event streams ~19 KiB.
 */
export const AWS_SDK_LAYER_BUDGET_KIB = 260;

/**
 * Inputs no handler may contain: full zod (its classic API defeats tree-shaking, ~440 KiB;
 * the handlers' schemas use zod/mini), its other locales, and the local SQLite back-ends.
 */
export function forbiddenInputs(inputs: readonly string[]): string[] {
  return inputs.filter(
    (input) =>
      /node_modules\/zod\/(?:v4\/classic|v3|v4\/locales\/(?!en\.js))/.test(input) ||
      packageOf(input) === 'sql.js' ||
      packageOf(input) === 'better-sqlite3',
  );
}

export interface HandlerBundle {
  readonly handler: HandlerName;
  /** The built bundle (ESM); its source map is next to it. */
  readonly file: string;
  /** Size of the bundle itself, source map excluded. */
  readonly bytes: number;
  /** Bytes in the output per npm package; our own code is under `(frostline)`. */
  readonly packages: Readonly<Record<string, number>>;
  /** Every input file with code in the bundle. */
  readonly inputs: readonly string[];
}

function packageBytes(inputs: Metafile['outputs'][string]['inputs']): Record<string, number> {
  const bytes: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
    const name = packageOf(input) ?? '(frostline)';
    bytes[name] = (bytes[name] ?? 0) + bytesInOutput;
  }
  return bytes;
}

export interface AwsSdkLayerBuild {
  /** The layer's module, `outDir/node_modules/@frostline/aws-sdk/index.mjs`. */
  readonly file: string;
  readonly bytes: number;
  readonly packages: Readonly<Record<string, number>>;
  readonly inputs: readonly string[];
}

/**
 * Builds the AWS SDK layer module into `outDir/node_modules/@frostline/aws-sdk`, where Node
 * resolves the bundles' `@frostline/aws-sdk` import from `outDir`.
 */
export async function buildAwsSdkLayer(outDir: string): Promise<AwsSdkLayerBuild> {
  const packageDir = join(outDir, 'node_modules', ...AWS_SDK_LAYER_PACKAGE.split('/'));
  const result = await build(awsSdkLayerEsbuildOptions(packageDir));
  await mkdir(packageDir, { recursive: true });
  await writeFile(join(packageDir, 'package.json'), awsSdkLayerPackageJson());
  return builtModule(result.metafile, join(packageDir, 'index.mjs'), 'AWS SDK layer module');
}

/** Size, per-package bytes and contributing inputs of one module esbuild wrote. */
async function builtModule(metafile: Metafile, file: string, what: string): Promise<Omit<HandlerBundle, 'handler'>> {
  const output = Object.entries(metafile.outputs).find(([path]) => resolve(path) === file)?.[1];
  if (output === undefined) throw new Error(`esbuild wrote no ${what}`);
  return {
    file,
    bytes: (await stat(file)).size,
    packages: packageBytes(output.inputs),
    // esbuild also lists inputs it tree-shook away entirely: only those with code count.
    inputs: Object.entries(output.inputs)
      .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
      .map(([input]) => input),
  };
}

/** Builds every handler into `outDir/<handler>.mjs`, in one esbuild run (see buildAwsSdkLayer for the SDK they import). */
export async function buildHandlerBundles(outDir: string): Promise<HandlerBundle[]> {
  const result = await build(handlerEsbuildOptions(Entry, outDir));
  // As the CDK's afterBundling hook does: libsecp256k1's WASM beside the bundles (BUNDLE_SIDE_FILES).
  await Promise.all(BUNDLE_SIDE_FILES.map((file) => copyFile(file, join(outDir, basename(file)))));
  const handlers = Object.keys(Entry) as HandlerName[];
  return Promise.all(
    handlers.map(async (handler) => ({ handler, ...(await builtModule(result.metafile, join(outDir, `${handler}.mjs`), `bundle for ${handler}`)) })),
  );
}
