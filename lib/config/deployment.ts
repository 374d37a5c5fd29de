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
import { ConfigError } from '../ports/errors.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import type { Directory } from '../protocol/directory.js';
import { assertUsablePublicKey } from '../protocol/identity.js';
import type { KeyRules, PartyPolicy } from '../protocol/requests.js';
import { type DeploymentConfig, DeploymentConfigSchema, type InitiatorConfig, MAX_MESSAGE_BYTES, type PartyConfig } from './deployment-schema.js';
import { nameLengthProblems } from './names.js';

// The schema and its types live apart (deployment-schema.ts); this module stays their one entry.
export * from './deployment-schema.js';

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
      const reshareApprovers = rule.reshareApprovals?.approvers ?? [];
      for (const id of duplicates(reshareApprovers)) problems.push(`${where}.${keyId}.reshareApprovals.approvers: "${id}" appears more than once`);
      for (const id of new Set(reshareApprovers)) {
        if (!Object.hasOwn(config.approvers, id)) problems.push(`${where}.${keyId}.reshareApprovals.approvers: "${id}" is not in approvers (no pinned key)`);
      }
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
  const named = new Set(Object.values(partyPolicyOf(config, party).keys ?? {}).flatMap((rule) => [...(rule.approvals?.approvers ?? []), ...(rule.reshareApprovals?.approvers ?? [])]));
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
  const initiators: Record<string, { keygen: boolean; keys: string[]; reshare?: string[] }> = {};
  for (const initiator of config.initiators) {
    initiators[initiator.id] = { keygen: initiator.keygen, keys: [...initiator.keys], ...(initiator.reshare !== undefined ? { reshare: [...initiator.reshare] } : {}) };
  }
  const keys: Record<string, KeyRules> = { ...config.policy.keys, ...(party.policy?.keys ?? {}) };
  return { maxMessageBytes: config.limits.maxMessageBytes, initiators, ...(Object.keys(keys).length > 0 ? { keys } : {}) };
}
