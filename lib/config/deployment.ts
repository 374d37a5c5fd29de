/**
 * The deployment configuration file: which parties run in which AWS accounts, where the
 * coordinator runs, which initiators may ask for what, and (once `frostline config pin`
 * has run) every identity public key. The CDK app builds every stack from this one file;
 * `loadDeploymentConfig` reports every problem in it at once.
 *
 * Everything in it is public: account ids, regions, principal ARNs, public keys, policy.
 *
 * Policy: every party enforces the initiators' grants and `limits.maxMessageBytes`, plus
 * per-key rules (`policy.keys`: message size, m-of-k approvals, rate limits) given once for
 * all parties and optionally per party (`parties[].policy.keys`, whose rule for a key id
 * replaces the global rule for that id). Approvers' public keys are pinned in `approvers`;
 * a party's directory carries only the approvers its rules name.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../ports/errors.js';
import { IdentityAlgorithm, type IdentityPublicKey } from '../ports/key-vault.js';
import { IdentityPublicKeySchema, KeyRulesSchema } from '../protocol/config-schemas.js';
import type { Directory } from '../protocol/directory.js';
import { assertUsablePublicKey } from '../protocol/identity.js';
import { COORDINATOR, Name } from '../protocol/messages.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type KeyRules, type PartyPolicy } from '../protocol/requests.js';
import { nameLengthProblems } from './names.js';

const Account = z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id');
const Region = z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1');
const Partition = z.enum(['aws', 'aws-us-gov', 'aws-cn']);
const TopicArn = z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'expected an SNS topic ARN');
/** An IAM role or user that an initiator application runs as. */
const PrincipalArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:(?:role|user)\/[\w+=,.@/-]{1,512}$/, 'expected an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)');
const KmsKeyArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key\/[0-9a-f-]{36}|alias\/[\w/-]+)$/, 'expected a KMS key or alias ARN');

/** A pinned public key: the protocol's own schema, so config and runtime accept the same keys. */
export const PublicKeySchema = IdentityPublicKeySchema;

/** Largest message any rule may allow (as `limits.maxMessageBytes`). */
const MAX_MESSAGE_BYTES = 128 * 1024;

/**
 * Per-key rules, by key id ("*": every key without its own entry). The protocol's schema;
 * the one of a key id applies whole (rules are not merged field by field).
 */
const PolicySchema = z.strictObject({
  keys: z.record(z.union([Name, z.literal('*')]), KeyRulesSchema).default({}),
});

const PartySchema = z.strictObject({
  id: Name.refine((id) => id !== COORDINATOR, `"${COORDINATOR}" is reserved`),
  account: Account,
  region: Region,
  /**
   * Bump to rotate the identity key: the next deploy creates a new KMS key, points the
   * alias at it and schedules the old one for deletion. Re-pin afterwards.
   */
  identityKeyVersion: z.number().int().min(1).max(999).default(1),
  /** Alarms of this party's stack notify this topic (in the party's account). */
  alarmTopicArn: TopicArn.optional(),
  /** This party's own key rules: each replaces the global `policy.keys` rule of the same key id. */
  policy: PolicySchema.optional(),
});

const CoordinatorSchema = z.strictObject({
  account: Account,
  region: Region,
  identityKeyVersion: z.number().int().min(1).max(999).default(1),
  alarmTopicArn: TopicArn.optional(),
});

const InitiatorSchema = z
  .strictObject({
    id: Name.refine((id) => id !== COORDINATOR, `"${COORDINATOR}" is reserved`),
    /** The AWS principal the initiator application runs as: it sends requests and reads its results. */
    principalArn: PrincipalArn,
    /** The request-signing key, given directly ... */
    publicKey: PublicKeySchema.optional(),
    /** ... or held in KMS (its public key is fetched by `frostline config pin`). */
    kmsKeyArn: KmsKeyArn.optional(),
    /** Key ids this initiator may sign with; "*" means every key. */
    keys: z.array(z.union([Name, z.literal('*')])).default([]),
    /** May it ask for new keys (DKG)? */
    keygen: z.boolean().default(false),
  })
  .refine((i) => (i.publicKey === undefined) !== (i.kmsKeyArn === undefined), {
    message: 'give exactly one of publicKey or kmsKeyArn',
  });

const LimitsSchema = z.strictObject({
  /** Largest message (bytes to sign) any party will sign, unless a key's rule says otherwise. */
  maxMessageBytes: z.number().int().min(1).max(MAX_MESSAGE_BYTES).default(DEFAULT_MAX_MESSAGE_BYTES),
  /** Reserved concurrency of each party's inbox handler. */
  partyConcurrency: z.number().int().min(2).max(100).default(5),
  /** Reserved concurrency of each coordinator handler. */
  coordinatorConcurrency: z.number().int().min(2).max(200).default(10),
  /** Timeout of every queue handler, in seconds. */
  handlerTimeoutSeconds: z.number().int().min(5).max(300).default(30),
  /** Receives before a message goes to the dead-letter queue. */
  maxReceiveCount: z.number().int().min(1).max(50).default(5),
  /** CloudWatch Logs retention of every function. */
  logRetentionDays: z
    .union([z.literal(7), z.literal(14), z.literal(30), z.literal(60), z.literal(90), z.literal(180), z.literal(365), z.literal(731)])
    .default(90),
  /** How often the sweeper runs, in minutes. */
  sweepEveryMinutes: z.number().int().min(1).max(60).default(5),
  /** A session not done or failed this many minutes after it started is timed out by the sweeper. */
  stalledAfterMinutes: z.number().int().min(1).max(24 * 60).default(15),
});

const PinnedSchema = z.strictObject({
  coordinator: PublicKeySchema.optional(),
  parties: z.record(Name, PublicKeySchema).default({}),
  /** Initiators configured with `kmsKeyArn` only. */
  initiators: z.record(Name, PublicKeySchema).default({}),
});

export const DeploymentConfigSchema = z.strictObject({
  /** Prefix of every stack and physical resource name; lets two deployments share accounts. */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,14}$/, 'expected 1-15 characters a-z, 0-9, "-", starting with a letter')
    .default('frostline'),
  partition: Partition.default('aws'),
  /** `ed25519` (default) or `p256` for regions and emulators without Ed25519 KMS keys. */
  identityKeySpec: z.enum([IdentityAlgorithm.ed25519, IdentityAlgorithm.p256]).default(IdentityAlgorithm.ed25519),
  coordinator: CoordinatorSchema,
  parties: z.array(PartySchema).min(2).max(32),
  initiators: z.array(InitiatorSchema).min(1).max(32),
  limits: LimitsSchema.default(LimitsSchema.parse({})),
  /** Key rules every party enforces (per-party additions in `parties[].policy`). */
  policy: PolicySchema.default(PolicySchema.parse({})),
  /** People or systems whose signatures count towards approval quorums: id -> pinned public key. */
  approvers: z.record(Name, PublicKeySchema).default({}),
  /** Written by `frostline config pin`; receivers verify every message against these keys. */
  pinned: PinnedSchema.default(PinnedSchema.parse({})),
});

export type DeploymentConfig = z.output<typeof DeploymentConfigSchema>;
export type DeploymentConfigInput = z.input<typeof DeploymentConfigSchema>;
export type PartyConfig = DeploymentConfig['parties'][number];
export type InitiatorConfig = DeploymentConfig['initiators'][number];
export type CoordinatorConfig = DeploymentConfig['coordinator'];
export type DeploymentLimits = DeploymentConfig['limits'];

/** Checks between fields, each reported with its path. */
function crossChecks(config: DeploymentConfig): string[] {
  const problems: string[] = [];
  const duplicates = (values: readonly string[]) => [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
  for (const id of duplicates(config.parties.map((p) => p.id))) problems.push(`parties: id "${id}" appears more than once`);
  for (const id of duplicates(config.initiators.map((i) => i.id))) problems.push(`initiators: id "${id}" appears more than once`);
  for (const account of duplicates(config.parties.map((p) => p.account))) {
    problems.push(`parties: account ${account} holds more than one party; each party needs its own account`);
  }
  for (const party of config.parties) {
    if (party.account === config.coordinator.account) {
      problems.push(`parties: party "${party.id}" is in the coordinator's account ${party.account}; the coordinator must not share an account with a party`);
    }
  }
  const partyIds = new Set(config.parties.map((p) => p.id));
  for (const id of Object.keys(config.pinned.parties)) {
    if (!partyIds.has(id)) problems.push(`pinned.parties.${id}: no such party`);
  }
  for (const [id, key] of Object.entries(config.pinned.initiators)) {
    const initiator = config.initiators.find((i) => i.id === id);
    if (initiator === undefined) problems.push(`pinned.initiators.${id}: no such initiator`);
    else if (initiator.kmsKeyArn === undefined) problems.push(`pinned.initiators.${id}: initiator "${id}" has a publicKey; pin only kmsKeyArn initiators`);
    problems.push(...keyProblems(`pinned.initiators.${id}`, key));
  }
  for (const initiator of config.initiators) {
    if (initiator.publicKey !== undefined) problems.push(...keyProblems(`initiators.${initiator.id}.publicKey`, initiator.publicKey));
    if (initiator.keys.length === 0 && !initiator.keygen) {
      problems.push(`initiators.${initiator.id}: may neither sign (keys is empty) nor keygen; remove it or grant something`);
    }
  }
  const identityKeys: [string, IdentityPublicKey | undefined][] = [
    ['pinned.coordinator', config.pinned.coordinator],
    ...Object.entries(config.pinned.parties).map(([id, key]): [string, IdentityPublicKey] => [`pinned.parties.${id}`, key]),
  ];
  for (const [where, key] of identityKeys) {
    if (key === undefined) continue;
    if (key.alg !== config.identityKeySpec) problems.push(`${where}: is ${key.alg} but identityKeySpec is ${config.identityKeySpec}`);
    problems.push(...keyProblems(where, key));
  }
  for (const [id, key] of Object.entries(config.approvers)) problems.push(...keyProblems(`approvers.${id}`, key));
  const rulesAt: [string, Readonly<Record<string, KeyRules>>][] = [
    ['policy.keys', config.policy.keys],
    ...config.parties.map((party): [string, Readonly<Record<string, KeyRules>>] => [`parties.${party.id}.policy.keys`, party.policy?.keys ?? {}]),
  ];
  for (const [where, rules] of rulesAt) {
    for (const [keyId, rule] of Object.entries(rules)) {
      if (rule.maxMessageBytes !== undefined && rule.maxMessageBytes > MAX_MESSAGE_BYTES) {
        problems.push(`${where}.${keyId}.maxMessageBytes: at most ${MAX_MESSAGE_BYTES}`);
      }
      const approvers = rule.approvals?.approvers ?? [];
      for (const id of duplicates(approvers)) problems.push(`${where}.${keyId}.approvals.approvers: "${id}" appears more than once`);
      for (const id of new Set(approvers)) {
        if (!Object.hasOwn(config.approvers, id)) problems.push(`${where}.${keyId}.approvals.approvers: "${id}" is not in approvers (no pinned key)`);
      }
    }
  }
  problems.push(...nameLengthProblems(config));
  return problems;
}

function keyProblems(where: string, key: IdentityPublicKey): string[] {
  try {
    assertUsablePublicKey(key);
    return [];
  } catch {
    return [`${where}: not a usable ${key.alg} public key`];
  }
}

/** Validates a parsed JSON value; every problem is listed in one ConfigError. */
export function parseDeploymentConfig(value: unknown, source = 'deployment config'): DeploymentConfig {
  const result = DeploymentConfigSchema.safeParse(value);
  const problems = result.success
    ? crossChecks(result.data)
    : result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  if (problems.length > 0 || !result.success) {
    throw new ConfigError(`invalid ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
  return result.data;
}

/** Reads, parses and validates the deployment config file. */
export async function loadDeploymentConfig(path: string): Promise<DeploymentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read deployment config ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseDeploymentConfigText(text, path);
}

/** Parses the file's text (JSON); the synchronous core of `loadDeploymentConfig`. */
export function parseDeploymentConfigText(text: string, path: string): DeploymentConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`deployment config ${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseDeploymentConfig(json, `deployment config ${path}`);
}

// ---- what the runtime needs, derived from the config ----------------------------------

/** The initiator's request-signing public key: given, or pinned from KMS. */
export function initiatorPublicKey(config: DeploymentConfig, initiator: InitiatorConfig): IdentityPublicKey | undefined {
  return initiator.publicKey ?? (Object.hasOwn(config.pinned.initiators, initiator.id) ? config.pinned.initiators[initiator.id] : undefined);
}

/** Which public keys are still unpinned, as config paths (empty when the directory is complete). */
export function missingPins(config: DeploymentConfig): string[] {
  const missing: string[] = [];
  if (config.pinned.coordinator === undefined) missing.push('pinned.coordinator');
  for (const party of config.parties) {
    if (!Object.hasOwn(config.pinned.parties, party.id)) missing.push(`pinned.parties.${party.id}`);
  }
  for (const initiator of config.initiators) {
    if (initiatorPublicKey(config, initiator) === undefined) missing.push(`pinned.initiators.${initiator.id}`);
  }
  return missing;
}

/**
 * The coordinator's runtime Directory, or undefined until every identity key is pinned.
 * No approvers: the parties check approvals, the coordinator relays them.
 */
export function directoryOf(config: DeploymentConfig): Directory | undefined {
  const coordinator = config.pinned.coordinator;
  if (coordinator === undefined || missingPins(config).length > 0) return undefined;
  const parties: Record<string, IdentityPublicKey> = {};
  for (const party of config.parties) {
    const key = config.pinned.parties[party.id];
    if (key === undefined) return undefined;
    parties[party.id] = key;
  }
  const initiators: Record<string, IdentityPublicKey> = {};
  for (const initiator of config.initiators) {
    const key = initiatorPublicKey(config, initiator);
    if (key === undefined) return undefined;
    initiators[initiator.id] = key;
  }
  return { coordinator, parties, initiators };
}

/** A party's Directory: the common one plus the approvers its policy names (and no others). */
export function partyDirectoryOf(config: DeploymentConfig, party: PartyConfig): Directory | undefined {
  const directory = directoryOf(config);
  if (directory === undefined) return undefined;
  const named = new Set(Object.values(partyPolicyOf(config, party).keys ?? {}).flatMap((rule) => rule.approvals?.approvers ?? []));
  const approvers: Record<string, IdentityPublicKey> = {};
  for (const id of [...named].sort()) {
    const key = Object.hasOwn(config.approvers, id) ? config.approvers[id] : undefined;
    if (key !== undefined) approvers[id] = key;
  }
  return Object.keys(approvers).length > 0 ? { ...directory, approvers } : directory;
}

/**
 * What one party enforces: the initiators' grants, the message limit, and the key rules
 * (global, with this party's own rule replacing the global one of the same key id).
 */
export function partyPolicyOf(config: DeploymentConfig, party: PartyConfig): PartyPolicy {
  const initiators: Record<string, { keygen: boolean; keys: string[] }> = {};
  for (const initiator of config.initiators) initiators[initiator.id] = { keygen: initiator.keygen, keys: [...initiator.keys] };
  const keys: Record<string, KeyRules> = { ...config.policy.keys, ...(party.policy?.keys ?? {}) };
  return { maxMessageBytes: config.limits.maxMessageBytes, initiators, ...(Object.keys(keys).length > 0 ? { keys } : {}) };
}
