/**
 * The deployment config's schema and types (lib/config/deployment.ts parses and checks it):
 * apart, so that the physical names (names.ts), which the checks use, can be typed by it
 * without an import cycle.
 */
import { z } from 'zod';
import { IdentityAlgorithm } from '../ports/key-vault.js';
import { IdentityPublicKeySchema, KeyRulesSchema } from '../protocol/config-schemas.js';
import { COORDINATOR, Name } from '../protocol/messages.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../protocol/requests.js';

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
export const MAX_MESSAGE_BYTES = 128 * 1024;

/**
 * Per-key rules, by key id ("*": every key without its own entry). The protocol's schema;
 * the one of a key id applies whole (rules are not merged field by field).
 */
const PolicySchema = z.strictObject({
  keys: z.record(z.union([Name, z.literal('*')]), KeyRulesSchema).default({}),
});

const PartySchema = z.strictObject({
  id: Name.check(z.refine((id) => id !== COORDINATOR, `"${COORDINATOR}" is reserved`)),
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
    id: Name.check(z.refine((id) => id !== COORDINATOR, `"${COORDINATOR}" is reserved`)),
    /** The AWS principal the initiator application runs as: it sends requests and reads its results. */
    principalArn: PrincipalArn,
    /** The request-signing key, given directly ... */
    publicKey: z.optional(PublicKeySchema),
    /** ... or held in KMS (its public key is fetched by `frostline config pin`). */
    kmsKeyArn: KmsKeyArn.optional(),
    /** Key ids this initiator may sign with; "*" means every key. */
    keys: z.array(z.union([Name, z.literal('*')])).default([]),
    /** May it ask for new keys (DKG)? */
    keygen: z.boolean().default(false),
    /** Key ids it may refresh or reshare; "*" means every key. Absent: none. */
    reshare: z.array(z.union([Name, z.literal('*')])).optional(),
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
  /**
   * How often the sweeper runs, in minutes. Besides timing out stalled sessions it moves a
   * one-round signature whose signer went silent to two rounds, so this bounds the extra
   * latency a dead signer costs (README, "Sign in one round"): keep it short.
   */
  sweepEveryMinutes: z.number().int().min(1).max(60).default(1),
  /** A session not done or failed this many minutes after it started is timed out by the sweeper. */
  stalledAfterMinutes: z.number().int().min(1).max(24 * 60).default(15),
});

const PinnedSchema = z.strictObject({
  coordinator: z.optional(PublicKeySchema),
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
