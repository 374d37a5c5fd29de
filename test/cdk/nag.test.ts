import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, test } from 'vitest';
import { buildApp } from '../../cdk/app-builder.js';
import type { DeploymentConfig } from '../../lib/config/deployment.js';
import { exampleConfig, unpinnedConfig } from './support.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function outdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'frostline-nag-'));
  dirs.push(dir);
  return dir;
}

interface Report {
  pluginReports: { pluginName?: string; summary?: { status?: string }; violations?: { ruleName: string }[] }[];
}

/** Synthesizes (bundling skipped) with AwsSolutionsChecks; synth throws on any finding. */
function synthReport(config: DeploymentConfig): { report: Report; acknowledged: string[] } {
  const dir = outdir();
  const { app } = buildApp({ config, appProps: { outdir: dir, context: { 'aws:cdk:bundling-stacks': [] } } });
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as Report;
  const acknowledged = assembly.stacks.flatMap((stack) =>
    Object.values(stack.template.Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress?: { id: string; reason: string }[] } } }>).flatMap(
      (resource) => (resource.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((rule) => `${stack.stackName}:${rule.id}:${rule.reason.length > 40 ? 'reasoned' : 'SHORT'}`),
    ),
  );
  return { report, acknowledged };
}

describe('cdk-nag AwsSolutionsChecks', () => {
  test('the example (pinned) app has zero unacknowledged findings; the only acknowledgement is L1 per function', () => {
    const { report, acknowledged } = synthReport(exampleConfig());
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
    expect(acknowledged.sort()).toEqual(
      [
        ...['frostline-p1', 'frostline-p2', 'frostline-p3'].map((s) => `${s}:AwsSolutions-L1:reasoned`),
        ...Array.from({ length: 3 }, () => 'frostline-coordinator:AwsSolutions-L1:reasoned'),
      ].sort(),
    );
  });

  test('the unpinned (first pass) app has zero unacknowledged findings', () => {
    const { report } = synthReport(unpinnedConfig());
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  test('control: the checks do run and fail the synthesis on a finding', () => {
    const app = new App({ outdir: outdir() });
    const stack = new Stack(app, 'Control');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4/);
  });
});
