/**
 * The environment-variable contract of the Lambda functions: the CDK stacks set exactly
 * these variables and the functions read them once, at cold start. A deployment that
 * cannot work fails there, with every problem listed in one ConfigError, rather than on
 * the first message of a signing round.
 *
 * Values are public data only (key ids, queue URLs, pinned public keys, policy); nothing
 * secret is ever configured through the environment. Lambda limits all variables of a
 * function to 4 KB together: with P-256/Ed25519 SPKIs (~180/~90 hex characters each) and
 * queue URLs that fits roughly ten parties, initiators and approvers. The CDK stacks measure
 * every function's environment at synth (`environmentSize`) and stop with the largest
 * variables named, rather than fail in CloudFormation.
 */
import * as z from 'zod/mini';
import { ConfigError } from '../ports/errors.js';
import { IdentityAlgorithm } from '../ports/key-vault.js';
import type { Directory } from '../protocol/directory.js';
import { DirectorySchema, PartyPolicySchema as PolicySchema } from '../protocol/config-schemas.js';
import { assertUsablePublicKey } from '../protocol/identity.js';
import { COORDINATOR, Name } from '../protocol/messages.js';
import type { PartyPolicy } from '../protocol/requests.js';

/** Variable names, shared with the CDK stacks that set them. */
export const RuntimeEnv = {
  /** `party` or `coordinator`: which handler this function runs. */
  role: 'FROSTLINE_ROLE',
  /** The party's own name (party role only). */
  partyId: 'FROSTLINE_PARTY_ID',
  /** Set by Lambda itself. */
  region: 'AWS_REGION',
  tableName: 'FROSTLINE_TABLE_NAME',
  /** Symmetric KMS key that wraps data keys (id, ARN or alias); party role only. */
  masterKeyId: 'FROSTLINE_MASTER_KEY_ID',
  /** Asymmetric KMS SIGN_VERIFY key for envelope signatures. */
  identityKeyId: 'FROSTLINE_IDENTITY_KEY_ID',
  /** `ed25519` (default) or `p256` (emulators, regions without Ed25519 KMS keys). */
  identityAlgorithm: 'FROSTLINE_IDENTITY_ALGORITHM',
  /** JSON `Directory`: `{ coordinator, parties: {id: key}, initiators: {id: key} }`. */
  directory: 'FROSTLINE_DIRECTORY',
  /** JSON `PartyPolicy` (party role only): `{ maxMessageBytes, initiators: {id: {keygen, keys}}, keys?: {keyId: rules} }`. */
  policy: 'FROSTLINE_PARTY_POLICY',
  /** JSON `{ coordinator: url, parties: {id: url}, initiators: {id: url} }`. */
  queueUrls: 'FROSTLINE_QUEUE_URLS',
  /**
   * `on` (default) or `off`: sign the per-signature envelopes with a delegated key certified
   * by the identity key (README "Messages"), or every envelope with KMS `Sign`.
   */
  delegatedKeys: 'FROSTLINE_DELEGATED_KEYS',
  /** Emulator only: the 12-digit account this function acts as; needs an endpoint override. */
  emulatorAccountId: 'FROSTLINE_EMULATOR_ACCOUNT_ID',
  /** The SDK's standard endpoint override; read here only to allow `emulatorAccountId`. */
  endpoint: 'AWS_ENDPOINT_URL',
} as const;
export type RuntimeEnvName = (typeof RuntimeEnv)[keyof typeof RuntimeEnv];

export const Role = { party: 'party', coordinator: 'coordinator' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface QueueUrls {
  /** The coordinator's inbox (parties send here). */
  readonly coordinator: string;
  readonly parties: Readonly<Record<string, string>>;
  /** Each initiator's result queue. */
  readonly initiators: Readonly<Record<string, string>>;
}

interface CommonConfig {
  readonly region: string;
  readonly tableName: string;
  readonly identityKeyId: string;
  readonly identityAlgorithm: IdentityAlgorithm;
  readonly directory: Directory;
  readonly queueUrls: QueueUrls;
  /** False when FROSTLINE_DELEGATED_KEYS is `off`; absent means on. */
  readonly delegatedKeys?: false;
  /** Present only together with an endpoint override (never sent to real AWS). */
  readonly emulatorAccountId?: string;
}

export type PartyRuntimeConfig = CommonConfig & {
  readonly role: 'party';
  readonly partyId: string;
  readonly policy: PartyPolicy;
  /** Wraps the data keys that seal the party's shares, nonces and DKG state. */
  readonly masterKeyId: string;
};
export type CoordinatorRuntimeConfig = CommonConfig & {
  readonly role: 'coordinator';
  readonly partyId?: never;
  readonly policy?: never;
  /**
   * Not used: the coordinator holds public data only and never wraps a data key (its vault
   * refuses to; see lib/lambda/wiring.ts). Accepted so that set-ups which provision
   * one per account keep loading; the CDK stack does not set it.
   */
  readonly masterKeyId?: string;
};
export type RuntimeConfig = PartyRuntimeConfig | CoordinatorRuntimeConfig;

// ---- schemas ------------------------------------------------------------------------

const QueueUrl = z.string().check(z.regex(/^https?:\/\/[^\s/]+\/\S+$/, 'expected an SQS queue URL'));
const QueueUrlsSchema = z.strictObject({
  coordinator: QueueUrl,
  parties: z._default(z.record(Name, QueueUrl), {}),
  initiators: z._default(z.record(Name, QueueUrl), {}),
});

/** A JSON-valued variable: parse errors and schema issues are reported alike. */
function json<T extends z.ZodMiniType>(schema: T) {
  const parsed = z.transform((text: string, payload) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // zod/mini's transform context has no addIssue: the issue goes on the payload, as addIssue would put it.
      payload.issues.push({ code: 'custom', message: 'is not valid JSON', input: text });
      return z.NEVER;
    }
  });
  return z.pipe(z.pipe(z.string(), parsed), schema);
}

const required = z.string().check(z.minLength(1, 'is required'));

const FIELDS = {
  role: z.enum([Role.party, Role.coordinator]),
  partyId: z.optional(Name),
  region: z.string().check(z.regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1')),
  tableName: required.check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'expected a DynamoDB table name')),
  masterKeyId: z.optional(required),
  identityKeyId: required,
  identityAlgorithm: z._default(z.enum([IdentityAlgorithm.ed25519, IdentityAlgorithm.p256]), IdentityAlgorithm.ed25519),
  directory: json(DirectorySchema),
  policy: z.optional(json(PolicySchema)),
  queueUrls: json(QueueUrlsSchema),
  delegatedKeys: z._default(z.enum(['on', 'off']), 'on'),
  emulatorAccountId: z.optional(z.string().check(z.regex(/^\d{12}$/, 'expected 12 digits'))),
  endpoint: z.optional(z.string().check(z.regex(/^https?:\/\/\S+$/, 'expected an http(s) URL'))),
} as const satisfies Record<keyof typeof RuntimeEnv, z.ZodMiniType>;

type Parsed = { -readonly [K in keyof typeof FIELDS]?: z.output<(typeof FIELDS)[K]> };

/**
 * Reads and validates the runtime configuration. Every problem (missing, malformed,
 * inconsistent) is collected and reported in one ConfigError that names the variables;
 * values are never echoed, in case a secret was pasted into the wrong variable.
 */
export function loadRuntimeConfig(env: Readonly<Record<string, string | undefined>> = process.env): RuntimeConfig {
  const result = checkRuntimeConfig(env);
  if (result.config === undefined) throw new ConfigError(configErrorMessage('runtime', result.problems));
  return result.config;
}

/** `loadRuntimeConfig` without the throw: the configuration, or every problem with it. */
export function checkRuntimeConfig(env: Readonly<Record<string, string | undefined>> = process.env): {
  readonly config: RuntimeConfig | undefined;
  readonly problems: readonly string[];
} {
  const problems: string[] = [];
  const parsed: Parsed = {};
  const invalid = new Set<keyof typeof FIELDS>();
  for (const field of Object.keys(FIELDS) as (keyof typeof FIELDS)[]) {
    const name = RuntimeEnv[field];
    const raw = env[name];
    // An empty variable is treated as unset: CDK and shells produce them for "nothing".
    const result = FIELDS[field].safeParse(raw === '' ? undefined : raw);
    if (result.success) {
      // Sound: result.data is the output of FIELDS[field], which is Parsed[field].
      (parsed as Record<string, unknown>)[field] = result.data;
    } else {
      invalid.add(field);
      for (const issue of result.error.issues) {
        const path = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
        problems.push(`${name}${path}: ${raw === undefined || raw === '' ? 'is required' : issue.message}`);
      }
    }
  }
  problems.push(...crossChecks(parsed, invalid));
  if (problems.length > 0) return { config: undefined, problems };
  return { config: assemble(parsed), problems: [] };
}

/** The one-line-per-problem message of a ConfigError (`what`: runtime, sweeper, ...). */
export function configErrorMessage(what: string, problems: readonly string[]): string {
  return `invalid ${what} configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`;
}

/** Checks between variables; each runs only when the variables it needs parsed. */
function crossChecks(config: Parsed, invalid: ReadonlySet<keyof typeof FIELDS>): string[] {
  const problems: string[] = [];
  const { role, partyId, directory, policy, queueUrls } = config;
  if (role === Role.party) {
    if (partyId === undefined) {
      if (!invalid.has('partyId')) problems.push(`${RuntimeEnv.partyId}: is required for role party`);
    } else if (directory !== undefined && !Object.hasOwn(directory.parties, partyId)) {
      problems.push(`${RuntimeEnv.partyId}: party "${partyId}" is not in ${RuntimeEnv.directory}.parties`);
    }
    if (policy === undefined && !invalid.has('policy')) problems.push(`${RuntimeEnv.policy}: is required for role party`);
    if (config.masterKeyId === undefined && !invalid.has('masterKeyId')) problems.push(`${RuntimeEnv.masterKeyId}: is required for role party`);
  }
  if (role === Role.coordinator) {
    if (partyId !== undefined && partyId !== COORDINATOR) problems.push(`${RuntimeEnv.partyId}: must be unset for role coordinator`);
    if (policy !== undefined) problems.push(`${RuntimeEnv.policy}: applies to parties only; unset it for role coordinator`);
    if (directory !== undefined && queueUrls !== undefined) {
      for (const party of Object.keys(directory.parties)) {
        if (!Object.hasOwn(queueUrls.parties, party)) problems.push(`${RuntimeEnv.queueUrls}: no inbox for party "${party}"`);
      }
      for (const initiator of Object.keys(directory.initiators)) {
        if (!Object.hasOwn(queueUrls.initiators, initiator)) {
          problems.push(`${RuntimeEnv.queueUrls}: no result queue for initiator "${initiator}"`);
        }
      }
    }
  }
  if (directory !== undefined) {
    const keys: [string, { alg: IdentityAlgorithm; spki: string }][] = [
      ['coordinator', directory.coordinator],
      ...Object.entries(directory.parties).map(([id, key]): [string, typeof key] => [`parties.${id}`, key]),
      ...Object.entries(directory.initiators).map(([id, key]): [string, typeof key] => [`initiators.${id}`, key]),
      ...Object.entries(directory.approvers ?? {}).map(([id, key]): [string, typeof key] => [`approvers.${id}`, key]),
    ];
    for (const [where, key] of keys) {
      try {
        assertUsablePublicKey(key);
      } catch {
        problems.push(`${RuntimeEnv.directory} at ${where}: not a usable ${key.alg} public key`);
      }
    }
  }
  if (config.emulatorAccountId !== undefined && config.endpoint === undefined) {
    // The account header means nothing to AWS, but an emulator setting in production is a
    // deployment mistake worth stopping for.
    problems.push(`${RuntimeEnv.emulatorAccountId}: is for emulators only and needs ${RuntimeEnv.endpoint}`);
  }
  return problems;
}

function assemble(config: Parsed): RuntimeConfig {
  const { role, region, tableName, masterKeyId, identityKeyId, identityAlgorithm, directory, queueUrls } = config;
  if (
    role === undefined ||
    region === undefined ||
    tableName === undefined ||
    identityKeyId === undefined ||
    identityAlgorithm === undefined ||
    directory === undefined ||
    queueUrls === undefined
  ) {
    // Unreachable after a clean validation; kept so the types need no assertion.
    throw new ConfigError('invalid runtime configuration: a required variable is missing');
  }
  const common: CommonConfig = {
    region,
    tableName,
    identityKeyId,
    identityAlgorithm,
    directory,
    queueUrls,
    emulatorAccountId: config.emulatorAccountId,
    ...(config.delegatedKeys === 'off' ? { delegatedKeys: false as const } : {}),
  };
  if (role === Role.coordinator) return { ...common, role, masterKeyId };
  if (config.partyId === undefined || config.policy === undefined || masterKeyId === undefined) {
    throw new ConfigError('invalid runtime configuration: party id, policy or master key missing');
  }
  return { ...common, role, partyId: config.partyId, policy: config.policy, masterKeyId };
}

/** The environment for a configuration: what the CDK stacks (and tests) set. */
export function runtimeEnvironment(config: RuntimeConfig): Record<string, string> {
  const env: Record<string, string> = {
    [RuntimeEnv.role]: config.role,
    [RuntimeEnv.region]: config.region,
    [RuntimeEnv.tableName]: config.tableName,
    [RuntimeEnv.identityKeyId]: config.identityKeyId,
    [RuntimeEnv.identityAlgorithm]: config.identityAlgorithm,
    [RuntimeEnv.directory]: JSON.stringify(config.directory),
    [RuntimeEnv.queueUrls]: JSON.stringify(config.queueUrls),
  };
  if (config.role === Role.party) {
    env[RuntimeEnv.partyId] = config.partyId;
    env[RuntimeEnv.policy] = JSON.stringify(config.policy);
  }
  if (config.masterKeyId !== undefined) env[RuntimeEnv.masterKeyId] = config.masterKeyId;
  if (config.emulatorAccountId !== undefined) env[RuntimeEnv.emulatorAccountId] = config.emulatorAccountId;
  if (config.delegatedKeys === false) env[RuntimeEnv.delegatedKeys] = 'off';
  return env;
}

// ---- Lambda's environment size limit -------------------------------------------------

/** Lambda refuses a function whose variables (names and values, UTF-8) exceed 4 KB together. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Bytes an environment counts against `LAMBDA_ENVIRONMENT_LIMIT_BYTES`, and its largest variables. */
export function environmentSize(env: Readonly<Record<string, string>>): { readonly bytes: number; readonly largest: readonly (readonly [string, number])[] } {
  const utf8 = new TextEncoder();
  const sizes = Object.entries(env).map(([name, value]): [string, number] => [name, utf8.encode(name).length + utf8.encode(value).length]);
  return { bytes: sizes.reduce((sum, [, bytes]) => sum + bytes, 0), largest: sizes.sort((a, b) => b[1] - a[1]).slice(0, 3) };
}
