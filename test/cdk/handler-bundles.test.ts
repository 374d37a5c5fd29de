/**
 * Every Lambda bundle, built with the stacks' own esbuild options, stays inside its size
 * budget and holds neither full zod nor the SQLite back-ends. A few seconds: esbuild only.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHandlerBundles, forbiddenInputs, HANDLER_BUNDLE_BUDGET_KIB, type HandlerBundle } from '../../cdk/handler-bundles.js';
import { Entry } from '../../cdk/paths.js';

let outDir: string;
let bundles: HandlerBundle[];

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'frostline-bundles-'));
  bundles = await buildHandlerBundles(outDir);
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('handler bundles', () => {
  it('builds one bundle per entry point', () => {
    expect(bundles.map((bundle) => bundle.handler).sort()).toEqual(Object.keys(Entry).sort());
  });

  it('each stays within its size budget', () => {
    const sizes = Object.fromEntries(bundles.map((bundle) => [bundle.handler, Math.ceil(bundle.bytes / 1024)]));
    for (const bundle of bundles) {
      expect(sizes[bundle.handler], `${bundle.handler}: ${JSON.stringify(sizes)}`).toBeLessThanOrEqual(HANDLER_BUNDLE_BUDGET_KIB[bundle.handler]);
    }
  });

  it('none contains full zod, sql.js or better-sqlite3', () => {
    for (const bundle of bundles) expect(forbiddenInputs(bundle.inputs), bundle.handler).toEqual([]);
    // The check itself sees them: what the handlers had before they moved to zod/mini.
    expect(forbiddenInputs(['node_modules/zod/v4/classic/schemas.js', 'node_modules/sql.js/dist/sql-wasm.js', 'node_modules/zod/v4/locales/de.js'])).toHaveLength(3);
    expect(forbiddenInputs(['node_modules/zod/v4/mini/schemas.js', 'node_modules/zod/v4/locales/en.js'])).toEqual([]);
  });

  it('a built handler reports configuration problems in English (zod/mini has no locale of its own)', async () => {
    const party = bundles.find((bundle) => bundle.handler === 'partyInbox');
    if (party === undefined) throw new Error('no party bundle');
    const script = `await import(${JSON.stringify(pathToFileURL(party.file).href)})`;
    // A bad role: the cold start throws, listing the schema's own issue message.
    const run = promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', FROSTLINE_ROLE: 'bogus' },
    });
    const failure: unknown = await run.then(
      () => undefined,
      (error: unknown) => error,
    );
    // Only the problem's line: node also prints the minified source line that threw.
    const stderr = String((failure as { stderr?: unknown } | undefined)?.stderr);
    const problem = stderr.split('\n').find((line) => line.includes('- FROSTLINE_ROLE:'));
    expect(problem?.trim()).toBe('- FROSTLINE_ROLE: Invalid option: expected one of "party"|"coordinator"');
  });
});
