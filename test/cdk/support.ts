/** Shared fixtures for the CDK tests: configs and apps synthesized without bundling. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type FrostlineApp, type Selection } from '../../cdk/app-builder.js';
import { PROJECT_ROOT } from '../../cdk/paths.js';
import { type DeploymentConfig, type DeploymentConfigInput, parseDeploymentConfig } from '../../lib/config/deployment.js';

export const EXAMPLE_CONFIG_PATH = join(PROJECT_ROOT, 'deploy', 'example.config.json');

export function exampleInput(): DeploymentConfigInput {
  return JSON.parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')) as DeploymentConfigInput;
}

export function exampleConfig(overrides: Partial<DeploymentConfigInput> = {}): DeploymentConfig {
  return parseDeploymentConfig({ ...exampleInput(), ...overrides });
}

/** The state after the first deploy pass: nothing pinned yet. */
export function unpinnedConfig(): DeploymentConfig {
  return exampleConfig({ pinned: {} });
}

export function ed25519Key(): { alg: 'ed25519'; spki: string } {
  return { alg: 'ed25519', spki: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('hex') };
}

export function p256Key(): { alg: 'p256'; spki: string } {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  return { alg: 'p256', spki: key.export({ format: 'der', type: 'spki' }).toString('hex') };
}

/**
 * The app with bundling skipped (`aws:cdk:bundling-stacks: []`, what `cdk deploy <stack>`
 * does for unselected stacks): the NodejsFunctions are real, their code is a placeholder.
 * The real bundling is covered once, in synth.test.ts.
 */
export function appWithoutBundling(config: DeploymentConfig, selection?: Selection): FrostlineApp {
  return buildApp({
    config,
    ...(selection !== undefined ? { selection } : {}),
    appProps: { outdir: assemblyDir(), context: { 'aws:cdk:bundling-stacks': [] } },
  });
}

// Without an outdir CDK writes each assembly to a fresh os.tmpdir()/cdk.out* and never
// removes it; these go under one directory per test file, removed when the file ends.
// (This module is imported while a test file is collected, so the hook belongs to that file.)
let assemblies: string | undefined;
let assemblyCount = 0;
afterAll(() => {
  if (assemblies !== undefined) rmSync(assemblies, { recursive: true, force: true });
  assemblies = undefined;
});
function assemblyDir(): string {
  assemblies ??= mkdtempSync(join(tmpdir(), 'frostline-cdk-test-'));
  return join(assemblies, String(assemblyCount++));
}

export function templateOf(stack: Stack): Template {
  return Template.fromStack(stack);
}

export type Statement = {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Principal?: unknown;
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

export function statementsOf(document: unknown): Statement[] {
  const statements = (document as { Statement?: Statement[] }).Statement;
  if (!Array.isArray(statements)) throw new Error('not a policy document');
  return statements;
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** Every resource of a type, as [logicalId, properties]. */
export function resourcesOf(template: Template, type: string): [string, Record<string, unknown>][] {
  return Object.entries(template.findResources(type)).map(([id, resource]) => [id, (resource as { Properties: Record<string, unknown> }).Properties]);
}

/** Resolves `Fn::Join ['', ['arn:', {Ref: AWS::Partition}, ':iam::1:root']]` to a plain string with partition aws. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if ('Ref' in record && record.Ref === 'AWS::Partition') return 'aws';
  const join = record['Fn::Join'];
  if (Array.isArray(join) && join[0] === '' && Array.isArray(join[1])) {
    const parts = (join[1] as unknown[]).map(plain);
    if (parts.every((p) => typeof p === 'string')) return parts.join('');
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, plain(v)]));
}

export { App };
