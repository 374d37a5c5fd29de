/**
 * Builds every Lambda entry point (cdk/paths.ts `Entry`) exactly as the stacks do
 * (cdk/handler-bundling.ts), for the bundle-size test and `bench/bundles.ts`. esbuild takes
 * well under a second per handler.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { handlerEsbuildOptions, packageOf } from './handler-bundling.js';
import { Entry } from './paths.js';

export type HandlerName = keyof typeof Entry;

/**
 * Size budget per handler bundle, KiB (minified, source map excluded), checked by
 * test/cdk/handler-bundles.test.ts. What the bundles measured (2026-12-02: 583-600 KiB) plus
 * about 10%. The target of 400 KiB is out of reach while the AWS SDK is bundled: the SDK
 * with @smithy is ~380 KiB of each bundle; everything else is ~205-220 KiB.
 */
export const HANDLER_BUNDLE_BUDGET_KIB: Readonly<Record<HandlerName, number>> = {
  partyInbox: 640,
  coordinatorInbox: 660,
  requestIntake: 660,
  sweeper: 650,
};

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

/** Builds every handler into `outDir/<handler>.mjs`, in one esbuild run. */
export async function buildHandlerBundles(outDir: string): Promise<HandlerBundle[]> {
  const result = await build(handlerEsbuildOptions(Entry, outDir));
  const handlers = Object.keys(Entry) as HandlerName[];
  return Promise.all(
    handlers.map(async (handler) => {
      const file = join(outDir, `${handler}.mjs`);
      const output = Object.entries(result.metafile.outputs).find(([path]) => resolve(path) === file)?.[1];
      if (output === undefined) throw new Error(`esbuild wrote no bundle for ${handler}`);
      return {
        handler,
        file,
        bytes: (await stat(file)).size,
        packages: packageBytes(output.inputs),
        // esbuild also lists inputs it tree-shook away entirely: only those with code count.
        inputs: Object.entries(output.inputs)
          .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
          .map(([input]) => input),
      };
    }),
  );
}
