/**
 * Deterministic physical names, derived from the deployment config alone. Every
 * cross-account reference (queue URLs, role ARNs, key alias ARNs) is known before anything
 * is deployed, so the stacks never read each other's outputs: each account is deployed on
 * its own, in any order.
 *
 * Names stay within the tightest limits involved: IAM role names (64), SQS queue names
 * (80), DynamoDB table names (255), CloudFormation stack names (128). The config's `name`
 * (<= 15) and ids (<= 63, a-z0-9-) keep every name below them; `assertNameLengths` checks.
 */
import type { DeploymentConfig, InitiatorConfig, PartyConfig } from './deployment-schema.js';

export type QueueRef = { readonly name: string; readonly arn: string; readonly url: string };

export interface PartyNames {
  readonly stack: string;
  readonly table: string;
  readonly inbox: QueueRef;
  readonly inboxDlq: QueueRef;
  readonly handlerRole: string;
  readonly handlerRoleArn: string;
  readonly handlerFunction: string;
  readonly sharesKeyAlias: string;
  readonly identityKeyAlias: string;
  /** Cross-account GetPublicKey and `config pin` address the key by this ARN. */
  readonly identityKeyAliasArn: string;
}

export interface CoordinatorNames {
  readonly stack: string;
  readonly table: string;
  readonly inbox: QueueRef;
  readonly inboxDlq: QueueRef;
  readonly requests: QueueRef;
  readonly requestsDlq: QueueRef;
  readonly inboxRole: string;
  readonly inboxRoleArn: string;
  readonly intakeRole: string;
  readonly intakeRoleArn: string;
  readonly sweeperRole: string;
  readonly sweeperRoleArn: string;
  readonly inboxFunction: string;
  readonly intakeFunction: string;
  readonly sweeperFunction: string;
  readonly identityKeyAlias: string;
  readonly identityKeyAliasArn: string;
}

export interface InitiatorNames {
  readonly results: QueueRef;
  readonly resultsDlq: QueueRef;
}

function queue(config: DeploymentConfig, account: string, region: string, name: string): QueueRef {
  const domain = config.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return {
    name,
    arn: `arn:${config.partition}:sqs:${region}:${account}:${name}`,
    url: `https://sqs.${region}.${domain}/${account}/${name}`,
  };
}

function roleArn(config: DeploymentConfig, account: string, role: string): string {
  return `arn:${config.partition}:iam::${account}:role/${role}`;
}

function aliasArn(config: DeploymentConfig, account: string, region: string, alias: string): string {
  return `arn:${config.partition}:kms:${region}:${account}:${alias}`;
}

export function partyNames(config: DeploymentConfig, party: PartyConfig): PartyNames {
  const base = `${config.name}-${party.id}`;
  const handlerRole = `${base}-inbox-handler`;
  const identityKeyAlias = `alias/${config.name}/${party.id}/identity`;
  return {
    stack: base,
    table: `${base}-store`,
    inbox: queue(config, party.account, party.region, `${base}-inbox`),
    inboxDlq: queue(config, party.account, party.region, `${base}-inbox-dlq`),
    handlerRole,
    handlerRoleArn: roleArn(config, party.account, handlerRole),
    handlerFunction: `${base}-inbox`,
    sharesKeyAlias: `alias/${config.name}/${party.id}/shares`,
    identityKeyAlias,
    identityKeyAliasArn: aliasArn(config, party.account, party.region, identityKeyAlias),
  };
}

export function coordinatorNames(config: DeploymentConfig): CoordinatorNames {
  const { account, region } = config.coordinator;
  const base = `${config.name}-coordinator`;
  const identityKeyAlias = `alias/${config.name}/coordinator/identity`;
  return {
    stack: base,
    table: `${base}-sessions`,
    inbox: queue(config, account, region, `${base}-inbox`),
    inboxDlq: queue(config, account, region, `${base}-inbox-dlq`),
    requests: queue(config, account, region, `${config.name}-requests`),
    requestsDlq: queue(config, account, region, `${config.name}-requests-dlq`),
    inboxRole: `${base}-inbox-handler`,
    inboxRoleArn: roleArn(config, account, `${base}-inbox-handler`),
    intakeRole: `${base}-intake-handler`,
    intakeRoleArn: roleArn(config, account, `${base}-intake-handler`),
    sweeperRole: `${base}-sweeper`,
    sweeperRoleArn: roleArn(config, account, `${base}-sweeper`),
    inboxFunction: `${base}-inbox`,
    intakeFunction: `${base}-intake`,
    sweeperFunction: `${base}-sweeper`,
    identityKeyAlias,
    identityKeyAliasArn: aliasArn(config, account, region, identityKeyAlias),
  };
}

export function initiatorNames(config: DeploymentConfig, initiator: InitiatorConfig): InitiatorNames {
  const { account, region } = config.coordinator;
  return {
    results: queue(config, account, region, `${config.name}-results-${initiator.id}`),
    resultsDlq: queue(config, account, region, `${config.name}-results-${initiator.id}-dlq`),
  };
}

/**
 * The coordinator's roles that send to party inboxes: both handlers start or advance
 * sessions, and the sweeper moves a one-round attempt whose signer went silent to two
 * rounds (it sends `sign.commit`).
 */
export function coordinatorSenderRoleArns(config: DeploymentConfig): string[] {
  const names = coordinatorNames(config);
  return [names.inboxRoleArn, names.intakeRoleArn, names.sweeperRoleArn];
}

const LIMITS = { role: 64, queue: 80, table: 255, stack: 128, function: 64, alias: 256 } as const;

/** Every derived name against its service limit; one list of problems. */
export function nameLengthProblems(config: DeploymentConfig): string[] {
  const problems: string[] = [];
  const check = (kind: keyof typeof LIMITS, name: string) => {
    if (name.length > LIMITS[kind]) problems.push(`${kind} name "${name}" is ${name.length} characters; the limit is ${LIMITS[kind]} (shorten name or ids)`);
  };
  for (const party of config.parties) {
    const n = partyNames(config, party);
    check('stack', n.stack);
    check('table', n.table);
    check('queue', n.inboxDlq.name);
    check('role', n.handlerRole);
    check('function', n.handlerFunction);
    check('alias', n.identityKeyAlias);
  }
  const c = coordinatorNames(config);
  for (const role of [c.inboxRole, c.intakeRole, c.sweeperRole]) check('role', role);
  for (const fn of [c.inboxFunction, c.intakeFunction, c.sweeperFunction]) check('function', fn);
  for (const initiator of config.initiators) check('queue', initiatorNames(config, initiator).resultsDlq.name);
  return problems;
}
