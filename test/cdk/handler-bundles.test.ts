/**
 * Every Lambda bundle, built with the stacks' own esbuild options, stays inside its size
 * budget and holds neither full zod nor the SQLite back-ends; the AWS SDK layer they import
 * links with every one of them and gives the SDK clients credentials from the environment
 * only. A few seconds: esbuild and a few node processes.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AWS_SDK_LAYER_BUDGET_KIB,
  type AwsSdkLayerBuild,
  buildAwsSdkLayer,
  buildHandlerBundles,
  forbiddenInputs,
  HANDLER_BUNDLE_BUDGET_KIB,
  type HandlerBundle,
} from '../../cdk/handler-bundles.js';
import { handlerEsbuildOptions, handlerNodeOptions, packageOf, SOURCE_MAPS_NODE_OPTION, SOURCE_MAPS_SWITCH } from '../../cdk/handler-bundling.js';
import { build } from 'esbuild';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Entry, PROJECT_ROOT } from '../../cdk/paths.js';

let outDir: string;
let bundles: HandlerBundle[];
let layer: AwsSdkLayerBuild;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'frostline-bundles-'));
  [bundles, layer] = await Promise.all([buildHandlerBundles(outDir), buildAwsSdkLayer(outDir)]);
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

  it('none bundles the AWS SDK: every client comes from the layer', () => {
    for (const bundle of bundles) {
      const sdk = bundle.inputs.filter((input) => /^@aws-sdk\/|^@smithy\//.test(packageOf(input) ?? ''));
      expect(sdk, bundle.handler).toEqual([]);
    }
  });

  it('every bundle links against the built layer (each name it imports is exported)', async () => {
    // A missing export fails when the module graph links, before any of it runs; a bad
    // configuration fails later, in the cold start. So reaching the configuration error
    // means the bundle linked.
    for (const bundle of bundles) {
      const script = `await import(${JSON.stringify(pathToFileURL(bundle.file).href)})`;
      const failure: unknown = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH ?? '', FROSTLINE_ROLE: 'bogus' },
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      const stderr = String((failure as { stderr?: unknown } | undefined)?.stderr);
      expect(stderr, bundle.handler).not.toMatch(/does not provide an export named|ERR_MODULE_NOT_FOUND|Cannot find package/);
      expect(stderr, bundle.handler).toContain('- FROSTLINE_ROLE:');
    }
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

describe('source maps', () => {
  it('are off by default and on with the synth switch', () => {
    expect(handlerNodeOptions({})).toBeUndefined();
    expect(handlerNodeOptions({ [SOURCE_MAPS_SWITCH]: '0' })).toBeUndefined();
    expect(handlerNodeOptions({ [SOURCE_MAPS_SWITCH]: '1' })).toBe(SOURCE_MAPS_NODE_OPTION);
  });

  it('a deployed bundle maps stack traces to our sources once NODE_OPTIONS turns them on (the map is beside it)', async () => {
    const party = bundles.find((bundle) => bundle.handler === 'partyInbox');
    if (party === undefined) throw new Error('no party bundle');
    const script = `await import(${JSON.stringify(pathToFileURL(party.file).href)})`;
    const stderrOf = (nodeOptions?: string) =>
      promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH ?? '', FROSTLINE_ROLE: 'bogus', ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }) },
      }).then(
        () => '',
        (error: unknown) => String((error as { stderr?: unknown }).stderr),
      );
    const [plain, mapped] = await Promise.all([stderrOf(handlerNodeOptions({})), stderrOf(SOURCE_MAPS_NODE_OPTION)]);
    // The cold start's configuration error, thrown by lib/config/runtime.ts.
    expect(mapped).toMatch(/lib\/config\/runtime\.ts:\d+/);
    expect(plain).toContain('- FROSTLINE_ROLE:');
    expect(plain).not.toMatch(/lib\/config\/runtime\.ts/);
  });
});

describe('the AWS SDK layer', () => {
  /** Runs `body` (module code, with `KMSClient` imported from `from`) in a fresh node; returns its stdout or its failure. */
  async function withKmsClient(from: string, env: Record<string, string>, body: string): Promise<string> {
    const script = `const { KMSClient } = await import(${JSON.stringify(from)}); ${body}`;
    const run = promisify(execFile)(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: PROJECT_ROOT });
    return run.then(
      ({ stdout }) => stdout,
      (error: unknown) => `failed: ${String((error as { stderr?: unknown }).stderr)}`,
    );
  }
  const printCredentials = "const c = await new KMSClient({ region: 'eu-west-1' }).config.credentials(); process.stdout.write(c.accessKeyId + ' ' + c.secretAccessKey + ' ' + (c.sessionToken ?? '-'));";

  it('stays within its size budget and bundles no credential source but the environment, and no event streams', () => {
    expect(Math.ceil(layer.bytes / 1024)).toBeLessThanOrEqual(AWS_SDK_LAYER_BUDGET_KIB);
    const packages = Object.keys(layer.packages);
    expect(packages).toContain('@aws-sdk/client-kms');
    expect(packages).toContain('@aws-sdk/credential-provider-env');
    for (const unwanted of ['@aws-sdk/credential-provider-node', '@aws-sdk/credential-provider-ini', '@aws-sdk/credential-provider-sso', '@aws-sdk/nested-clients', '@smithy/credential-provider-imds']) {
      expect(packages).not.toContain(unwanted);
    }
    expect(forbiddenInputs(layer.inputs)).toEqual([]);
    expect(layer.inputs.filter((input) => input.includes('/event-streams/'))).toEqual([]);
  });

  it('gives the clients the credentials of the environment variables, as Lambda sets them', async () => {
    const layerUrl = pathToFileURL(layer.file).href;
    const env = { AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: 'lambda-secret', AWS_SESSION_TOKEN: 'lambda-token' };
    expect(await withKmsClient(layerUrl, env, printCredentials)).toBe('AKIDLAMBDA lambda-secret lambda-token');
  });

  it('reads no other source: a shared credentials file is ignored by the layer, used by the source (full chain)', async () => {
    const home = join(outDir, 'home');
    await mkdir(join(home, '.aws'), { recursive: true });
    await writeFile(join(home, '.aws', 'credentials'), '[default]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = file-secret\n');
    const env = { HOME: home, AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'), AWS_CONFIG_FILE: join(home, '.aws', 'config') };
    const fromLayer = await withKmsClient(pathToFileURL(layer.file).href, env, printCredentials);
    expect(fromLayer).toMatch(/^failed: /);
    expect(fromLayer).toContain('frostline Lambda bundles read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN only');
    // What tests, the CLI and local development import: the SDK package itself, default chain intact.
    expect(await withKmsClient('@aws-sdk/client-kms', env, printCredentials)).toBe('AKIDFROMFILE file-secret -');
  });
});

describe('libsecp256k1 in a bundle', () => {
  it('a bundle verifies BIP340 with the WASM file beside it (as the CDK places it), and cannot without it', async () => {
    // The suite module bundled exactly as the handlers are, next to them in outDir, where
    // buildHandlerBundles (like the CDK's afterBundling hook) copied secp256k1.wasm.
    const suiteModule = join(PROJECT_ROOT, 'lib', 'protocol', 'suites', 'secp256k1-tr.ts');
    const entry = join(outDir, 'probe-entry.mjs');
    await writeFile(entry, `export { secp256k1TrSuite } from ${JSON.stringify(suiteModule)};\n`);
    await build(handlerEsbuildOptions({ probe: entry }, outDir));
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const message = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const [publicKey, signature] = [schnorr.getPublicKey(secret), schnorr.sign(message, secret, new Uint8Array(32))];
    const script = (file: string) => `
      const { secp256k1TrSuite: s } = await import(${JSON.stringify(pathToFileURL(file).href)});
      await s.prepareVerifier();
      const hex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
      const ok = s.verifyFinal(hex('${bytesToHex(publicKey)}'), hex('${bytesToHex(message)}'), hex('${bytesToHex(signature)}'));
      const tampered = s.verifyFinal(hex('${bytesToHex(publicKey)}'), hex('${bytesToHex(message.map((b) => b ^ 1))}'), hex('${bytesToHex(signature)}'));
      process.stdout.write(JSON.stringify([ok, tampered]));`;
    const run = (file: string) => promisify(execFile)(process.execPath, ['--input-type=module', '-e', script(file)], { env: { PATH: process.env.PATH ?? '' } });
    expect(JSON.parse((await run(join(outDir, 'probe.mjs'))).stdout)).toEqual([true, false]);
    // The same bundle in a folder without the WASM file: the loader has nothing to read.
    const bare = join(outDir, 'no-wasm');
    await mkdir(bare, { recursive: true });
    await build(handlerEsbuildOptions({ probe: entry }, bare));
    await expect(run(join(bare, 'probe.mjs'))).rejects.toThrow(/secp256k1\.wasm/);
  });
});
