/**
 * `frostline config pin`: fetches every identity public key with KMS `GetPublicKey` — each
 * party's and the coordinator's (by their deterministic alias ARNs) and those of initiators
 * configured with `kmsKeyArn` — and writes them into the config's `pinned` section. The
 * next deploy hands them to the functions, which verify every message against them.
 *
 * Credentials: each key is read with the profile given for its account, else the default
 * profile. The identity keys' policies let every frostline account read every identity
 * key, so one account's credentials can pin (or re-check) all of them.
 *
 * An existing pin is never replaced silently: a changed key is either a rotation you did,
 * or someone else's key. Replacing needs `replace: true` and is listed.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createKmsClient } from '../adapters/aws/clients.js';
import { type DeploymentConfig, parseDeploymentConfigText } from '../config/deployment.js';
import { coordinatorNames, partyNames } from '../config/names.js';
import { ConfigError, FrostlineError } from '../ports/errors.js';
import { IdentityAlgorithm, type IdentityPublicKey } from '../ports/key-vault.js';
import { assertUsablePublicKey } from '../protocol/identity.js';
import { ioError } from './failure.js';
import { runShowEndpoints } from './show-endpoints.js';

/** The part of the KMS client this command uses (tests pass a fake). */
export type PinKmsClient = Pick<KMSClient, 'send'>;

export interface PinOptions {
  /** AWS profile per account id, e.g. `{ "111111111111": "p1-admin" }`. */
  readonly profiles?: Readonly<Record<string, string>>;
  /** Profile for accounts without an entry in `profiles`. @default the SDK's default chain */
  readonly profile?: string;
  /** Replace pins that differ from the key now in KMS (after a rotation). @default false */
  readonly replace?: boolean;
  /** Fetch and compare, but do not write. @default false */
  readonly dryRun?: boolean;
  /** Endpoint override (emulators). */
  readonly endpoint?: string;
  /** Builds the client for one account and region. @default a KMSClient with the account's profile */
  readonly kmsClient?: (account: string, region: string) => PinKmsClient;
}

export type PinStatus = 'added' | 'unchanged' | 'replaced';

export interface PinResult {
  /** By config path (`pinned.parties.p1`, ...). */
  readonly keys: Readonly<Record<string, { readonly key: IdentityPublicKey; readonly status: PinStatus }>>;
  readonly written: boolean;
}

const KEY_SPEC = { [IdentityAlgorithm.ed25519]: 'ECC_NIST_EDWARDS25519', [IdentityAlgorithm.p256]: 'ECC_NIST_P256' } as const;
const ALG_OF_SPEC: Record<string, IdentityAlgorithm> = { ECC_NIST_EDWARDS25519: IdentityAlgorithm.ed25519, ECC_NIST_P256: IdentityAlgorithm.p256 };

interface Target {
  readonly path: string;
  readonly account: string;
  readonly region: string;
  readonly keyId: string;
  /** Identity keys must match identityKeySpec; an initiator's KMS key may be either kind. */
  readonly expected: IdentityAlgorithm | undefined;
  readonly current: IdentityPublicKey | undefined;
}

function targetsOf(config: DeploymentConfig): Target[] {
  const c = coordinatorNames(config);
  const targets: Target[] = [
    {
      path: 'pinned.coordinator',
      account: config.coordinator.account,
      region: config.coordinator.region,
      keyId: c.identityKeyAliasArn,
      expected: config.identityKeySpec,
      current: config.pinned.coordinator,
    },
  ];
  for (const party of config.parties) {
    targets.push({
      path: `pinned.parties.${party.id}`,
      account: party.account,
      region: party.region,
      keyId: partyNames(config, party).identityKeyAliasArn,
      expected: config.identityKeySpec,
      current: config.pinned.parties[party.id],
    });
  }
  for (const initiator of config.initiators) {
    const arn = initiator.kmsKeyArn;
    if (arn === undefined) continue;
    const [, , , region = '', account = ''] = arn.split(':');
    targets.push({ path: `pinned.initiators.${initiator.id}`, account, region, keyId: arn, expected: undefined, current: config.pinned.initiators[initiator.id] });
  }
  return targets;
}

async function fetchKey(client: PinKmsClient, target: Target): Promise<IdentityPublicKey> {
  let output;
  try {
    output = await client.send(new GetPublicKeyCommand({ KeyId: target.keyId }));
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    throw new FrostlineError('pin-failed', `${target.path}: kms:GetPublicKey ${target.keyId} failed (${name}: ${message})`, { cause: error });
  }
  const spec = output.KeySpec ?? output.CustomerMasterKeySpec;
  const alg = spec === undefined ? undefined : ALG_OF_SPEC[spec];
  if (alg === undefined || output.KeyUsage !== 'SIGN_VERIFY') {
    throw new FrostlineError('pin-failed', `${target.path}: ${target.keyId} is ${String(spec)}/${String(output.KeyUsage)}, not an Ed25519 or P-256 SIGN_VERIFY key`);
  }
  if (target.expected !== undefined && alg !== target.expected) {
    throw new FrostlineError('pin-failed', `${target.path}: ${target.keyId} is ${spec}; identityKeySpec ${target.expected} needs ${KEY_SPEC[target.expected]}`);
  }
  if (output.PublicKey === undefined) throw new FrostlineError('pin-failed', `${target.path}: kms:GetPublicKey returned no key`);
  const key = { alg, spki: Buffer.from(output.PublicKey).toString('hex') };
  try {
    assertUsablePublicKey(key);
  } catch (error) {
    throw new FrostlineError('pin-failed', `${target.path}: the key KMS returned is not a usable ${alg} SPKI`, { cause: error });
  }
  return key;
}

/**
 * Reads one request-signing key (an initiator's or an approver's) from KMS with the same
 * checks as `pin`: an Ed25519 or P-256 SIGN_VERIFY key whose SPKI we can use.
 */
export function readKmsPublicKey(client: PinKmsClient, keyArn: string, label: string): Promise<IdentityPublicKey> {
  return fetchKey(client, { path: label, account: '', region: '', keyId: keyArn, expected: undefined, current: undefined });
}

/**
 * Pins every identity key into the config file at `configPath`. All keys are fetched
 * first; the file is written (atomically) only if every fetch succeeded and no existing
 * pin would change without `replace`.
 */
export async function pinIdentityKeys(configPath: string, options: PinOptions = {}): Promise<PinResult> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw ioError(`cannot read the deployment config ${configPath}`, error);
  }
  const config = parseDeploymentConfigText(text, configPath);
  const clients = new Map<string, PinKmsClient>();
  const clientFor = (account: string, region: string): PinKmsClient => {
    const cacheKey = `${account}/${region}`;
    let client = clients.get(cacheKey);
    if (client === undefined) {
      const profile = options.profiles?.[account] ?? options.profile;
      client =
        options.kmsClient?.(account, region) ??
        new KMSClient({ region, ...(profile !== undefined ? { profile } : {}), ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}) });
      clients.set(cacheKey, client);
    }
    return client;
  };

  const targets = targetsOf(config);
  const settled = await Promise.allSettled(targets.map((target) => fetchKey(clientFor(target.account, target.region), target)));
  const problems: string[] = [];
  const keys: Record<string, { key: IdentityPublicKey; status: PinStatus }> = {};
  settled.forEach((outcome, i) => {
    const target = targets[i];
    if (target === undefined) return;
    if (outcome.status === 'rejected') {
      problems.push(outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
      return;
    }
    const key = outcome.value;
    const current = target.current;
    const status: PinStatus = current === undefined ? 'added' : current.alg === key.alg && current.spki === key.spki ? 'unchanged' : 'replaced';
    if (status === 'replaced' && options.replace !== true) {
      problems.push(`${target.path}: KMS now holds a different key than the one pinned; if you rotated it, pin again with --replace`);
    }
    keys[target.path] = { key, status };
  });
  if (problems.length > 0) throw new ConfigError(`cannot pin identity keys (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);

  const changed = Object.values(keys).some((k) => k.status !== 'unchanged');
  if (options.dryRun === true || !changed) return { keys, written: false };

  // Edit the file as JSON, leaving every other field as the operator wrote it.
  const json = JSON.parse(text) as Record<string, unknown>;
  const pinned: { coordinator?: IdentityPublicKey; parties: Record<string, IdentityPublicKey>; initiators: Record<string, IdentityPublicKey> } = {
    parties: { ...config.pinned.parties },
    initiators: { ...config.pinned.initiators },
  };
  for (const [path, { key }] of Object.entries(keys)) {
    const [, section, name] = path.split('.');
    if (section === 'coordinator') pinned.coordinator = key;
    else if (section === 'parties' && name !== undefined) pinned.parties[name] = key;
    else if (section === 'initiators' && name !== undefined) pinned.initiators[name] = key;
  }
  json.pinned = { ...(pinned.coordinator !== undefined ? { coordinator: pinned.coordinator } : {}), parties: pinned.parties, initiators: pinned.initiators };
  const updated = `${JSON.stringify(json, null, 2)}\n`;
  parseDeploymentConfigText(updated, configPath); // never write a config that would not load
  const temporary = `${configPath}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, updated, { mode: 0o644 });
  await rename(temporary, configPath);
  return { keys, written: true };
}

// ---- the `frostline config pin` command ---------------------------------------------

/** `frostline config pin <file>` (added to the program in program.ts). */
export function configCommand(): Command {
  const config = new Command('config').description('deployment config operations');
  config
    .command('pin')
    .description('fetch every identity public key from KMS (GetPublicKey) into the config\'s "pinned" section')
    .argument('<file>', 'deployment config file, e.g. deploy/prod.config.json')
    .option('--profile <name>', 'AWS profile for accounts without --profile-for')
    .option('--profile-for <account=profile>', 'AWS profile for one account (repeatable)', collectProfile, {})
    .option('--replace', 'replace pins that differ from KMS (after a rotation)')
    .option('--dry-run', 'fetch and compare only')
    .addOption(
      new Option('--endpoint <url>', 'an AWS emulator: each key is read as its own account, with fake credentials (no --profile)').argParser((value: string) => {
        if (!/^https?:\/\/\S+$/.test(value)) throw new InvalidArgumentError('expected an http(s) URL');
        return value;
      }),
    )
    .option('--json', 'print one JSON object on stdout')
    .action(async (file: string, o: { profile?: string; profileFor: Record<string, string>; replace?: boolean; dryRun?: boolean; endpoint?: string; json?: boolean }) => {
      const endpoint = o.endpoint;
      if (endpoint !== undefined && (o.profile !== undefined || Object.keys(o.profileFor).length > 0)) {
        throw new FrostlineError('usage', '--endpoint and --profile/--profile-for are mutually exclusive: an emulator gets fake credentials, never a profile\'s');
      }
      const result = await pinIdentityKeys(file, {
        profiles: o.profileFor,
        profile: o.profile,
        replace: o.replace === true,
        dryRun: o.dryRun === true,
        ...(endpoint !== undefined ? { kmsClient: (account: string, region: string) => createKmsClient({ endpoint, region, accountId: account }) } : {}),
      });
      if (o.json === true) {
        const keys = Object.fromEntries(Object.entries(result.keys).map(([path, { key, status }]) => [path, { status, alg: key.alg, spki: key.spki }]));
        process.stdout.write(`${JSON.stringify({ ok: true, file, written: result.written, keys })}\n`);
        return;
      }
      for (const [path, { status }] of Object.entries(result.keys)) process.stdout.write(`${status.padEnd(9)} ${path}\n`);
      process.stdout.write(result.written ? `wrote ${file}\n` : `${file} unchanged\n`);
    });
  config
    .command('show-endpoints')
    .description("print the request queue URL and each initiator's result queue URL (computed from the config: what an application needs)")
    .requiredOption('--config <file>', 'deployment config file, e.g. deploy/prod.config.json')
    .option('--initiator <id>', 'only this initiator')
    .option('--json', 'print one JSON object on stdout')
    .action(async (o: { config: string; initiator?: string; json?: boolean }) => {
      await runShowEndpoints(o);
    });
  return config;
}

function collectProfile(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^(\d{12})=(.+)$/.exec(value);
  if (match?.[1] === undefined || match[2] === undefined) throw new InvalidArgumentError('expected <12-digit account>=<profile>');
  return { ...previous, [match[1]]: match[2] };
}
