/**
 * Builds the frostline CDK app from a deployment config: one PartyStack per party and the
 * CoordinatorStack, or only the stack a selector names, with cdk-nag's AwsSolutions checks
 * over all of it: a finding fails the synthesis unless the construct that causes it
 * acknowledges it, with its reason (cdk/constructs/queue-handler.ts has the only one).
 */
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { DeploymentConfig } from '../lib/config/deployment.js';
import { ConfigError } from '../lib/ports/errors.js';
import { CoordinatorStack } from './coordinator-stack.js';
import { PartyStack } from './party-stack.js';

/** Which stacks to build: every one, one party, or the coordinator. */
export type Selection = { readonly kind: 'all' } | { readonly kind: 'party'; readonly party: string } | { readonly kind: 'coordinator' };

export interface FrostlineApp {
  readonly app: App;
  readonly parties: ReadonlyMap<string, PartyStack>;
  readonly coordinator: CoordinatorStack | undefined;
}

export interface BuildAppOptions {
  readonly config: DeploymentConfig;
  /** @default every stack */
  readonly selection?: Selection;
  /** Passed to the App (tests: outdir, context such as skipped bundling). */
  readonly appProps?: AppProps;
  /** An existing App to add to (the CLI entry point's). */
  readonly app?: App;
}

export function buildApp(options: BuildAppOptions): FrostlineApp {
  const { config } = options;
  const selection = options.selection ?? { kind: 'all' };
  if (selection.kind === 'party' && !config.parties.some((p) => p.id === selection.party)) {
    throw new ConfigError(`-c party=${selection.party}: no such party (config has ${config.parties.map((p) => p.id).join(', ')})`);
  }
  const app = options.app ?? new App(options.appProps);
  const parties = new Map<string, PartyStack>();
  for (const party of config.parties) {
    if (selection.kind === 'coordinator' || (selection.kind === 'party' && selection.party !== party.id)) continue;
    parties.set(party.id, new PartyStack(app, `Party-${party.id}`, { config, party }));
  }
  const coordinator = selection.kind === 'party' ? undefined : new CoordinatorStack(app, 'Coordinator', { config });
  // Acknowledgements are also written into the templates' Metadata, for auditors.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  return { app, parties, coordinator };
}

/** The selector from CDK context: `-c party=p2`, `-c coordinator=true`, or neither. */
export function selectionFromContext(context: { party?: unknown; coordinator?: unknown }): Selection {
  const party = context.party;
  const coordinator = context.coordinator === true || context.coordinator === 'true';
  if (party !== undefined && coordinator) throw new ConfigError('give at most one of -c party=<id> and -c coordinator=true');
  if (party !== undefined) {
    if (typeof party !== 'string' || party.length === 0) throw new ConfigError('-c party=<id> needs a party id');
    return { kind: 'party', party };
  }
  return coordinator ? { kind: 'coordinator' } : { kind: 'all' };
}
