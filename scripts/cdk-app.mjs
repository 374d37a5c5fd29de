#!/usr/bin/env node
/**
 * The CDK app command (cdk.json): compiles cdk/app.ts and what it imports from lib/ into
 * one ES module with the project's esbuild (dependencies stay external), then runs it.
 * Takes well under a second, where tsc takes ~12 s; type checking stays with
 * `npm run typecheck` and `npm test`.
 * CDK commands run side by side in the tests; bundleAndImport writes atomically for that.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleAndImport } from './bundle-node.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await bundleAndImport(join(root, 'cdk', 'app.ts'), join(root, 'dist', 'cdk', 'app.mjs'));
