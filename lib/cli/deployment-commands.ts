/**
 * `frostline keygen|sign|key|audit verify|party purge-volatile` against a deployment, through the initiator SDK —
 * requests on the coordinator's request queue, results on the initiator's own result queue.
 * Two kinds of target:
 *
 * - `--deployment FILE`: a development deployment (`frostline dev up`); requests are signed
 *   with the initiator's key from its vault directory.
 * - `--config FILE`: a real deployment, from its pinned deployment config (the file
 *   `cdk deploy` uses); requests are signed with the initiator's KMS key or with
 *   `--key-file PEM`, credentials from `--profile` or the SDK's default chain.
 *
 * Progress goes to stderr; results to stdout (JSON with --json); a failure throws, and the
 * entry point prints its code and message on one line (and, with --json, the failure as
 * JSON on stdout) and exits non-zero.
 */
import type { TaprootOption } from '../protocol/derivation/key.js';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { openDeployment } from '../adapters/aws/deployment-connection.js';
import { openDevDeployment } from '../dev/dev-deployment-file.js';
import type { FrostlineClient } from '../client/client.js';
import { FileKeyPins, type PinnedKey } from '../client/key-pins.js';
import type { IdentitySigner } from '../client/initiator.js';
import { partyNames } from '../config/names.js';
import { missingPins, partyPolicyOf } from '../config/deployment.js';
import { UntrustedResultError } from '../client/errors.js';
import { attestedKeyOf } from '../client/result-checks.js';
import type { PartyPolicy } from '../protocol/requests.js';
import { ConfigError, FrostlineError } from '../ports/errors.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import type { ItemBackend } from '../ports/store.js';
import { signApproval, signLifecycleApproval, type Approval } from '../protocol/approvals.js';
import { bytesToHex, decodeHex } from '../protocol/encoding.js';
import { suiteFor } from '../protocol/suites.js';
import { reportAudit, verifyPartyAudit } from './audit.js';
import { purgePartyTable } from './purge.js';
import { assertWithinPolicy, policyMessageLimit } from './message-input.js';
import { createOutput, type Output, printKey, startProgress, timed } from './output.js';
import { approvedLifecycle, planLifecycle, printLifecycle, type LifecycleAsk } from './lifecycle-commands.js';
import { listKeyRecords } from './key-records.js';

interface TargetCommon {
  /** Emulator endpoint; for a dev deployment it overrides the file's. */
  readonly endpoint?: string;
  /** @default the dev file's default initiator, or the config's only one */
  readonly initiator?: string;
  /** @default 120000 */
  readonly timeoutMs?: number;
  readonly json: boolean;
}

/** A development deployment: the file written by `frostline dev up`. */
export interface DevDeploymentTarget extends TargetCommon {
  readonly deployment: string;
}

/** A real deployment: its pinned deployment config. */
export interface ConfigDeploymentTarget extends TargetCommon {
  readonly config: string;
  /** PKCS#8 PEM file of the initiator's private key (initiators with a `publicKey`). */
  readonly keyFile?: string;
  /** AWS profile for every call (not with `endpoint`). */
  readonly profile?: string;
  /** Region of every client, overriding the config's. */
  readonly region?: string;
}

export type DeploymentTarget = DevDeploymentTarget | ConfigDeploymentTarget;

/** What the commands need of either kind of deployment. */
interface Connection {
  readonly parties: readonly string[];
  /** The initiator requests are sent as. */
  readonly initiator: string;
  client(options: { timeoutMs?: number }): Promise<FrostlineClient>;
  /** Development only: an approver's local key. */
  approver(id: string): Promise<IdentitySigner>;
  partyStore(party: string): ItemBackend;
  /** The coordinator's table (audit anchors) and a party's pinned identity key. */
  coordinatorStore(): ItemBackend;
  partyKey(party: string): IdentityPublicKey | undefined;
  /** How a party's handler is brought back after a restore (completes "wait N s before …"). */
  partyResume(party: string): string;
  /** Every party's signing policy (for the message limit, checked before sending). */
  policies(): PartyPolicy[];
  /** Refuses a config whose party keys are not pinned yet: nothing could be checked against them. */
  assertPartiesPinned(): void;
}

/**
 * Where the CLI pins the group keys of a deployment: a file beside the deployment's own
 * file, so every later command checks results against the key its parties attested.
 */
export function pinsFileFor(target: { readonly deployment: string } | { readonly config: string }): string {
  const file = 'config' in target ? target.config : target.deployment;
  return `${file.replace(/\.json$/, '')}.pinned-keys.json`;
}

async function connect(target: DeploymentTarget): Promise<Connection> {
  if ('config' in target) return connectConfig(target);
  const dev = await openDevDeployment(target.deployment, target.endpoint !== undefined ? { endpoint: target.endpoint } : {});
  const initiator = target.initiator ?? dev.file.defaultInitiator;
  return {
    parties: Object.keys(dev.file.parties),
    initiator,
    client: (options) => dev.client(initiator, { ...options, pins: new FileKeyPins(pinsFileFor(target)) }),
    approver: (id) => dev.approver(id),
    partyStore: (party) => dev.partyStore(party),
    coordinatorStore: () => dev.coordinatorStore(),
    partyKey: (party) => (Object.hasOwn(dev.file.directory.parties, party) ? dev.file.directory.parties[party] : undefined),
    partyResume: (party) => `${party}'s inbox handler (run by \`frostline dev up\`) handles messages again`,
    policies: () => [dev.file.policy],
    assertPartiesPinned: () => {}, // `dev up` pins every key in the file it writes
  };
}

async function connectConfig(target: ConfigDeploymentTarget): Promise<Connection> {
  const deployment = await openDeployment(target.config, {
    endpoint: target.endpoint,
    profile: target.profile,
    region: target.region,
  });
  const keyFile = target.keyFile;
  return {
    parties: deployment.partyIds,
    get initiator() {
      return deployment.initiator(target.initiator).id;
    },
    client: async (options) => {
      const initiator = deployment.initiator(target.initiator).id;
      const privateKeyPem = keyFile === undefined ? undefined : await readKeyFile(keyFile);
      const pins = new FileKeyPins(pinsFileFor(target));
      return deployment.client(initiator, { ...options, pins, privateKeyPem });
    },
    approver: async () => {
      throw new FrostlineError('usage', '--approvers signs with local development keys and needs --deployment FILE; approvers of a real deployment sign on their own machines');
    },
    partyStore: (party) => deployment.partyStore(party),
    coordinatorStore: () => deployment.coordinatorStore(),
    partyKey: (party) => (Object.hasOwn(deployment.config.pinned.parties, party) ? deployment.config.pinned.parties[party] : undefined),
    partyResume: (party) => {
      const config = deployment.config.parties.find((p) => p.id === party);
      const handler = config === undefined ? `${party}'s inbox handler` : `Lambda function ${partyNames(deployment.config, config).handlerFunction}`;
      return `re-enabling the SQS event source mapping of ${handler}`;
    },
    policies: () => deployment.config.parties.map((party) => partyPolicyOf(deployment.config, party)),
    assertPartiesPinned: () => {
      const missing = missingPins(deployment.config).filter((pin) => pin.startsWith('pinned.parties.'));
      if (missing.length > 0) throw new ConfigError(`deployment config ${target.config} is not pinned (missing ${missing.join(', ')}): run \`frostline config pin\` on it after the first deploy pass`);
    },
  };
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'error';
    throw new ConfigError(`cannot read --key-file ${path} (${code})`);
  }
}

/**
 * Runs one request with a progress ticker; Ctrl-C aborts the wait (the request may still
 * complete — repeating its request id fetches the result).
 */
async function request<T>(
  connection: Connection,
  target: DeploymentTarget,
  out: Output,
  label: string,
  work: (client: FrostlineClient, signal: AbortSignal) => Promise<T>,
): Promise<[T, number]> {
  const client = await connection.client(target.timeoutMs !== undefined ? { timeoutMs: target.timeoutMs } : {});
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  const progress = startProgress(label);
  try {
    const result = await timed(() => work(client, abort.signal));
    progress.stop('done');
    return result;
  } catch (error) {
    progress.stop('failed');
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

export async function runDeploymentKeygen(
  target: DeploymentTarget,
  options: { readonly keyId: string; readonly threshold: number; readonly parties?: number; readonly requestId?: string; readonly suite?: string },
): Promise<void> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  const all = connection.parties;
  const count = options.parties ?? all.length;
  if (count > all.length) throw new FrostlineError('usage', `--parties ${count}: the deployment has ${all.length} parties`);
  if (options.threshold > count) throw new FrostlineError('usage', `--threshold ${options.threshold} is larger than the ${count} parties`);
  const parties = all.slice(0, count);
  const [result, ms] = await request(connection, target, out, `keygen "${options.keyId}" ${options.threshold}-of-${count} among ${parties.join(', ')}`, (client, signal) =>
    client.keygen({ keyId: options.keyId, threshold: options.threshold, parties, signal, requestId: options.requestId, ...(options.suite !== undefined ? { suite: options.suite } : {}) }),
  );
  out.result(
    `key ${result.keyId}  ${result.publicKey}  ${result.suite}  ${result.threshold}-of-${result.parties.length} (${result.parties.join(', ')})${result.duplicate ? '  (repeated request: first result)' : ''}  ${ms} ms`,
    { ok: true, keyId: result.keyId, suite: result.suite, publicKey: result.publicKey, threshold: result.threshold, parties: result.parties, requestId: result.requestId, duplicate: result.duplicate },
  );
}

export async function runDeploymentSign(
  target: DeploymentTarget,
  options: { readonly keyId: string; readonly message: Uint8Array; readonly requestId?: string; readonly approvers?: readonly string[]; readonly path?: string | undefined; readonly taproot?: TaprootOption | undefined },
): Promise<void> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  assertWithinPolicy(options.message, policyMessageLimit(connection.policies(), options.keyId), options.keyId, 'the deployment\'s parties');
  const requestId = options.requestId ?? randomUUID();
  const approvals = await approvalsFor(connection, options.approvers ?? [], { keyId: options.keyId, message: options.message, requestId });
  const [result, ms] = await request(connection, target, out, `signing ${options.message.length} bytes with key "${options.keyId}"`, (client, signal) =>
    client.sign({
      keyId: options.keyId,
      message: options.message,
      requestId,
      signal,
      ...(approvals.length > 0 ? { approvals } : {}),
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.taproot !== undefined ? { taproot: options.taproot } : {}),
    }),
  );
  // The SDK verified it already; checking again costs nothing and is what a relying party does.
  const suite = suiteFor(result.suite);
  if (!suite.verifyFinal(decodeHex(result.publicKey, 'publicKey', suite.sizes.publicKey), options.message, result.signature)) {
    throw new FrostlineError('verification-failed', 'the signature does not verify with node:crypto');
  }
  out.result(
    `signature ${result.signatureHex}\nsigners   ${result.signers.join(', ')}${result.duplicate ? ' (repeated request: first result)' : ''}  ${ms} ms`,
    {
      ok: true,
      keyId: result.keyId,
      suite: result.suite,
      publicKey: result.publicKey,
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.taproot !== undefined ? { taproot: options.taproot } : {}),
      message: bytesToHex(options.message),
      signature: result.signatureHex,
      signers: result.signers,
      requestId: result.requestId,
      duplicate: result.duplicate,
    },
  );
}

/** Approvals signed with approvers' local keys from the deployment (development only: real approvers sign on their own machines). */
async function approvalsFor(
  connection: Connection,
  approvers: readonly string[],
  request: { keyId: string; message: Uint8Array; requestId: string },
): Promise<Approval[]> {
  if (approvers.length === 0) return [];
  return Promise.all(
    approvers.map(async (id) => {
      const approver = await connection.approver(id);
      return signApproval(approver, id, { initiator: connection.initiator, requestId: request.requestId, keyId: request.keyId, message: bytesToHex(request.message) });
    }),
  );
}

/**
 * `frostline refresh|reshare|repair` against a deployment, through the SDK: the key's current
 * epoch is looked up (attested) first, the request checked against it, and the result
 * accepted only as every new party attested it. Every named party must be one of the
 * deployment's: a new party's account is added first (docs/deploy.md "Add a party account").
 */
export async function runDeploymentLifecycle(
  target: DeploymentTarget,
  options: { readonly keyId: string; readonly ask: LifecycleAsk; readonly requestId?: string; readonly approvers?: readonly string[] },
): Promise<void> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  const { ask } = options;
  const named = ask.mode === 'reshare' ? [...ask.parties, ...(ask.dealers ?? [])] : ask.mode === 'repair' ? [ask.party] : [];
  const unknown = [...new Set(named.filter((p) => !connection.parties.includes(p)))];
  if (unknown.length > 0) {
    throw new FrostlineError('usage', `${unknown.join(', ')}: not a party of this deployment (${connection.parties.join(', ')}); add a party's account first (docs/deploy.md "Add a party account")`);
  }
  const [result, ms] = await request(connection, target, out, `${ask.mode} of key "${options.keyId}"`, async (client, signal) => {
    const current = await client.getKey(options.keyId, { signal });
    const plan = planLifecycle(ask, current);
    out.step(`${plan.summary} (epoch ${current.epoch ?? 0} → ${(current.epoch ?? 0) + 1})`);
    const requestId = options.requestId ?? randomUUID();
    // Development approvers' local keys sign this exact request (keys whose rules have reshareApprovals).
    const approved = approvedLifecycle(plan, { initiator: connection.initiator, requestId, keyId: options.keyId, epoch: current.epoch ?? 0 });
    const approvals = await Promise.all((options.approvers ?? []).map(async (id) => signLifecycleApproval(await connection.approver(id), id, approved)));
    const common = { keyId: options.keyId, signal, requestId, ...(approvals.length > 0 ? { approvals } : {}) };
    return plan.mode === 'refresh'
      ? client.refresh(common)
      : client.reshare({ ...common, parties: plan.parties, threshold: plan.threshold, ...(plan.requestedDealers !== undefined ? { dealers: plan.requestedDealers } : {}) });
  });
  printLifecycle(out, result, ms);
}

export async function runDeploymentKey(target: DeploymentTarget, keyId: string): Promise<void> {
  const out = createOutput(target.json);
  const [key] = await request(await connect(target), target, out, `looking up key "${keyId}"`, (client, signal) => client.getKey(keyId, { signal }));
  printKey(out, key);
}

/**
 * The keys in the coordinator's registry, each listed only as all its parties attested it
 * (against the pinned party keys); any other record is named as untrusted.
 */
export async function runDeploymentKeys(target: DeploymentTarget): Promise<void> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  connection.assertPartiesPinned();
  const partyKeys: Record<string, IdentityPublicKey> = {};
  for (const party of connection.parties) {
    const key = connection.partyKey(party);
    if (key !== undefined) partyKeys[party] = key;
  }
  const records = await listKeyRecords(connection.coordinatorStore(), Math.floor(Date.now() / 1000));
  const keys: { keyId: string; publicKey: string; threshold: number; parties: readonly string[]; epoch?: number }[] = [];
  const untrusted: { keyId: string; reason: string }[] = [];
  for (const record of records) {
    try {
      const key = attestedKeyOf({ ...record, requestId: '-', ok: true }, partyKeys, { keyId: record.keyId }, '-');
      keys.push({ keyId: key.keyId, publicKey: key.publicKey, threshold: key.threshold, parties: key.parties, ...(key.epoch > 0 ? { epoch: key.epoch } : {}) });
    } catch (error) {
      if (!(error instanceof UntrustedResultError)) throw error;
      untrusted.push({ keyId: record.keyId, reason: error.message });
    }
  }
  const lines = keys.map((k) => `${k.keyId}  ${k.threshold}-of-${k.parties.length}  ${k.publicKey}${k.epoch !== undefined ? `  epoch ${k.epoch}` : ''}`);
  for (const u of untrusted) lines.push(`${u.keyId}  UNTRUSTED: ${u.reason}`);
  out.result(lines.length === 0 ? 'no keys yet (run: frostline keygen --key-id NAME with the same --deployment or --config)' : lines.join('\n'), {
    ok: true,
    keys,
    ...(untrusted.length > 0 ? { untrusted } : {}),
  });
}

/** The pinned key data of `keyId` (the pins file, else fetched, checked against its attestations and pinned). */
export async function deploymentPinnedKey(target: DeploymentTarget, keyId: string): Promise<PinnedKey> {
  const pinned = await new FileKeyPins(pinsFileFor(target)).get(keyId);
  if (pinned !== undefined) return pinned;
  const out = createOutput(target.json);
  const [key] = await request(await connect(target), target, out, `looking up key "${keyId}"`, (client, signal) => client.getKey(keyId, { signal }));
  // getKey reports the suite by name; pins (and derivation's chain code) use its context string.
  return { ...key, suite: suiteFor(key.suite).id };
}

/** A deployment key's group public key and suite (RFC 9591 context string), pinned or attested. */
export async function deploymentPublicKey(target: DeploymentTarget, keyId: string): Promise<{ publicKey: string; suite: string }> {
  const pinned = await new FileKeyPins(pinsFileFor(target)).get(keyId);
  if (pinned !== undefined) return { publicKey: pinned.publicKey, suite: pinned.suite };
  const out = createOutput(target.json);
  const [key] = await request(await connect(target), target, out, `looking up key "${keyId}"`, (client, signal) => client.getKey(keyId, { signal }));
  return { publicKey: key.publicKey, suite: suiteFor(key.suite).id };
}

/** Verifies a party's audit chain in its table (in the party's account); false if broken. */
export async function runDeploymentAuditVerify(target: DeploymentTarget, party: string): Promise<boolean> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  const store = connection.partyStore(party);
  const partyKey = connection.partyKey(party);
  // The anchor is the party's own signed head, kept in the coordinator's table.
  const anchors = partyKey !== undefined ? { coordinatorStore: connection.coordinatorStore(), partyKey } : undefined;
  return reportAudit(out, party, await verifyPartyAudit(store, party, anchors));
}

/**
 * Purges a party's table in the party's account after a restore (docs/deploy.md). Needs
 * credentials of that account allowed to Scan and DeleteItem on the table.
 */
export async function runDeploymentPurgeVolatile(target: DeploymentTarget, party: string): Promise<void> {
  const connection = await connect(target);
  // partyStore first: it names an unknown party before anything is read.
  const store = connection.partyStore(party);
  await purgePartyTable(store, { party, resume: connection.partyResume(party), json: target.json });
}
