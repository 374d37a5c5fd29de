/**
 * The CLI's commands over the embedded local cluster. Each command is one invocation:
 * state (vaults, stores, pinned keys) lives in the data directory between invocations.
 * Each runs with the data directory's lock held (data-dir.ts), so concurrent invocations
 * take turns instead of overwriting each other's stores; only `keygen` and `demo` may
 * create a cluster.
 */
import type { TaprootOption } from '../protocol/derivation/key.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { LocalCluster, type UnhealthyParty } from '../dev/cluster.js';
import { FrostlineError } from '../ports/errors.js';
import { bytesToHex, decodeHex, utf8ToBytes } from '../protocol/encoding.js';
import { COORDINATOR, type KeygenResultBody, type SignResultBody } from '../protocol/messages.js';
import { PartyPolicySchema } from '../protocol/config-schemas.js';
import { ed25519Suite, verifyEd25519WithOpenSSL, type Suite } from '../protocol/suite.js';
import { DEFAULT_SUITE_NAME, suiteById, suiteFor } from '../protocol/suites.js';
import { FileKeyPins, pinOf, type KeyPins, type PinnedKey } from '../client/key-pins.js';
import { attestedKeyOf, checkedSignature, signingKeyHex } from '../client/result-checks.js';
import type { ExpectedKey } from '../protocol/attestation.js';
import { CLUSTER_FILE, withDataDir } from './data-dir.js';
import { DkgProgress } from './dkg-progress.js';
import { listKeyRecords } from './key-records.js';
import { assertWithinPolicy, policyMessageLimit } from './message-input.js';
import { createOutput, printKey, timed, type Output } from './output.js';

export function defaultDataDir(): string {
  return process.env.FROSTLINE_HOME ?? join(homedir(), '.frostline');
}

function assertOk<T extends KeygenResultBody | SignResultBody>(result: T, what: string): T & { ok: true } {
  if (!result.ok) {
    const blame = result.error?.blame?.length ? ` (blame: ${result.error.blame.join(', ')})` : '';
    throw new FrostlineError(result.error?.code ?? 'failed', `${what} failed: ${result.error?.message ?? 'unknown error'}${blame}`);
  }
  return result as T & { ok: true };
}

/** The pinned keys of a local data directory (public data). */
function localPins(dataDir: string): FileKeyPins {
  return new FileKeyPins(join(dataDir, 'pinned-keys.json'));
}

/** Verifies a keygen result's attestations against the parties' pinned identity keys, and pins the key. */
async function pinKeygen(cluster: LocalCluster, pins: KeyPins, result: KeygenResultBody, expected: ExpectedKey): Promise<PinnedKey> {
  const pin = pinOf(attestedKeyOf(result, cluster.directory.parties, expected, result.requestId));
  await pins.pin(pin);
  return pin;
}

/** The pinned key, or else the coordinator's record of it, accepted only as its parties attested it. */
async function pinnedKey(cluster: LocalCluster, pins: KeyPins, keyId: string): Promise<PinnedKey> {
  const existing = await pins.get(keyId);
  if (existing !== undefined) return existing;
  const record = await cluster.coordinator.getKey(keyId);
  if (record === undefined) throw new FrostlineError('unknown-key', `no key "${keyId}"`);
  const pin = pinOf(attestedKeyOf({ ...record, requestId: '-', ok: true }, cluster.directory.parties, { keyId }, '-'));
  await pins.pin(pin);
  return pin;
}

/** Runs a DKG among `parties`, reporting each round on stderr as every party completes it. */
async function keygenWithProgress(
  cluster: LocalCluster,
  progress: DkgProgress,
  options: { keyId: string; threshold: number; parties: readonly string[]; suite?: string },
): Promise<KeygenResultBody> {
  progress.start(cluster.outcomes, options.parties);
  try {
    return await cluster.keygen(options);
  } finally {
    progress.stop();
  }
}

/** The local cluster's signing policy (cluster.json), for the message limit. */
async function localPolicy(dataDir: string) {
  const file = z.object({ policy: PartyPolicySchema }).safeParse(JSON.parse(await readFile(join(dataDir, CLUSTER_FILE), 'utf8')));
  return file.success ? file.data.policy : undefined;
}

export interface DemoOptions {
  readonly threshold: number;
  readonly parties: number;
  readonly message: string;
  readonly json: boolean;
  readonly dataDir?: string;
}

/** `npm start`: a whole t-of-n cluster in this process — DKG, one signature, an OpenSSL check. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const out = createOutput(options.json);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'frostline-demo-')));
  try {
    await withDataDir(dataDir, { create: true, command: 'frostline demo', log: out.step }, (dir) => demo(options, dir, temporary));
  } finally {
    if (temporary) await rm(dataDir, { recursive: true, force: true });
  }
}

async function demo(options: DemoOptions, dataDir: string, temporary: boolean): Promise<void> {
  const out = createOutput(options.json);
  out.step(`frostline demo: ${options.threshold}-of-${options.parties} (data in ${dataDir}${temporary ? ', removed afterwards' : ''})`);
  const progress = new DkgProgress(out.step);
  const [cluster, setupMs] = await timed(() => LocalCluster.open({ dataDir, parties: options.parties, wrapHandler: progress.wrapHandler }));
  out.step(`  [1/4] ${options.parties} parties, coordinator and initiator ready (own vault, store and inbox each)  ${setupMs} ms`);
  try {
    const keyId = `demo-${Date.now().toString(36)}`;
    const parties = [...cluster.parties.keys()].slice(0, options.parties);
    const [keygen, keygenMs] = await timed(() => keygenWithProgress(cluster, progress, { keyId, threshold: options.threshold, parties }));
    const pins = localPins(dataDir);
    const pin = await pinKeygen(cluster, pins, assertOk(keygen, 'keygen'), { keyId, threshold: options.threshold, parties });
    const publicKey = pin.publicKey;
    out.step(`  [2/4] DKG complete, all ${options.parties} parties attested key "${keyId}" (signatures checked, key pinned)  ${keygenMs} ms`);
    out.step(`        group public key ${publicKey}`);

    const message = utf8ToBytes(options.message);
    const [signed, signMs] = await timed(() => cluster.sign({ keyId, message }));
    const signature = bytesToHex(checkedSignature(assertOk(signed, 'signing'), pin, { keyId, message }, signed.requestId));
    out.step(`  [3/4] signed by ${signed.signers?.join(', ') ?? '?'}  ${signMs} ms`);

    const [valid, verifyMs] = await timed(async () => verifyEd25519WithOpenSSL(decodeHex(publicKey, 'publicKey', ed25519Suite.sizes.publicKey), message, decodeHex(signature, 'signature', ed25519Suite.sizes.signature)));
    if (!valid) throw new FrostlineError('verification-failed', 'the signature does not verify with node:crypto');
    out.step(`  [4/4] node:crypto (OpenSSL) verifies the Ed25519 signature  ${verifyMs} ms`);
    out.result(
      [`public key  ${publicKey}`, `message     ${JSON.stringify(options.message)}`, `signature   ${signature}`, `timings     keygen ${keygenMs} ms, sign ${signMs} ms`].join('\n'),
      { ok: true, requestId: signed.requestId, keyId, publicKey, message: bytesToHex(message), signature, threshold: options.threshold, parties: options.parties },
    );
  } finally {
    await cluster.close();
  }
}

export interface KeygenOptions {
  readonly dataDir: string;
  readonly keyId: string;
  readonly threshold: number;
  readonly parties: number;
  /** The key's suite by name. @default 'ed25519' */
  readonly suite?: string;
  readonly json: boolean;
}

/** Creates the cluster if the data directory has none: the one local command that may. */
export async function runKeygen(options: KeygenOptions): Promise<void> {
  const out = createOutput(options.json);
  await withDataDir(options.dataDir, { create: true, command: `frostline keygen --key-id ${options.keyId}`, log: out.step }, async (dataDir) => {
    const progress = new DkgProgress(out.step);
    const cluster = await LocalCluster.open({ dataDir, parties: options.parties, wrapHandler: progress.wrapHandler });
    try {
      // Every pinned party, healthy or not: a broken one fails the keygen (and is named), it is not left out silently.
      const parties = Object.keys(cluster.directory.parties)
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .slice(0, options.parties);
      out.step(`generating key "${options.keyId}": ${options.threshold}-of-${parties.length} among ${parties.join(', ')}`);
      const suite = suiteFor(options.suite ?? DEFAULT_SUITE_NAME);
      const [result, ms] = await timed(() => keygenWithProgress(cluster, progress, { keyId: options.keyId, threshold: options.threshold, parties, suite: suite.name }));
      const unhealthyParties = warnUnhealthy(cluster, out);
      const { publicKey } = await pinKeygen(cluster, localPins(dataDir), assertOk(result, 'keygen'), { keyId: options.keyId, threshold: options.threshold, parties, suite: suite.id });
      out.result(`key ${options.keyId}  ${publicKey}  ${suite.name}  (${ms} ms)`, {
        ok: true,
        requestId: result.requestId,
        keyId: options.keyId,
        suite: suite.name,
        publicKey,
        threshold: options.threshold,
        parties,
        ...unhealthyField(unhealthyParties),
      });
    } finally {
      await cluster.close();
    }
  });
}

export interface SignOptions {
  readonly dataDir: string;
  readonly keyId: string;
  readonly message: Uint8Array;
  readonly requestId?: string;
  /** Non-hardened derivation path: sign under the child key. */
  readonly path?: string | undefined;
  /** secp256k1-tr: sign for the BIP341 output key (README "Derivation"). */
  readonly taproot?: TaprootOption | undefined;
  readonly json: boolean;
}

export async function runSign(options: SignOptions): Promise<void> {
  const out = createOutput(options.json);
  await withDataDir(options.dataDir, { create: false, command: `frostline sign --key ${options.keyId}`, log: out.step }, async (dataDir) => {
    const policy = await localPolicy(dataDir);
    assertWithinPolicy(options.message, policy === undefined ? undefined : policyMessageLimit([policy], options.keyId), options.keyId, `the local cluster (${join(dataDir, CLUSTER_FILE)})`);
    const cluster = await LocalCluster.open({ dataDir });
    try {
      const pin = await pinnedKey(cluster, localPins(dataDir), options.keyId);
      out.step(`signing ${options.message.length} bytes with key "${options.keyId}"`);
      const [result, ms] = await timed(() =>
        cluster.sign({
          keyId: options.keyId,
          message: options.message,
          ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
          ...(options.path !== undefined ? { path: options.path } : {}),
          ...(options.taproot !== undefined ? { taproot: options.taproot } : {}),
        }),
      );
      const unhealthyParties = warnUnhealthy(cluster, out);
      const ok = assertOk(result, 'signing');
      const suite = suiteById(pin.suite);
      await suite?.prepareVerifier();
      const requested = { keyId: options.keyId, message: options.message, path: options.path, taproot: options.taproot };
      const signature = bytesToHex(checkedSignature(ok, pin, requested, ok.requestId));
      // With a path or taproot: the child (output) key, derived here from the pin (checkedSignature verified under it).
      const publicKey = signingKeyHex(pin, requested);
      out.result(`signature ${signature}\nsigners   ${ok.signers?.join(', ') ?? '?'}${ok.duplicate ? ' (repeated request: first result)' : ''}  (${ms} ms)`, {
        ok: true,
        requestId: ok.requestId,
        keyId: options.keyId,
        suite: suite?.name ?? pin.suite,
        publicKey,
        ...(options.path !== undefined ? { path: options.path } : {}),
        ...(options.taproot !== undefined ? { taproot: options.taproot } : {}),
        message: bytesToHex(options.message),
        signature,
        signers: ok.signers ?? [],
        duplicate: ok.duplicate,
        ...unhealthyField(unhealthyParties),
      });
    } finally {
      await cluster.close();
    }
  });
}

/**
 * One stderr line per node the run saw failing (the signature may still be fine: t healthy
 * parties suffice), so that a broken party is never silent. Returned for --json.
 */
function warnUnhealthy(cluster: LocalCluster, out: Output): UnhealthyParty[] {
  const unhealthy = cluster.unhealthy();
  for (const u of unhealthy) {
    const counts = u.failedDeliveries + u.deadLettered > 0 ? ` (${u.failedDeliveries} failed deliveries, ${u.deadLettered} dead-lettered)` : '';
    out.step(`warning: party ${u.party} failed: ${u.reason}${counts}`);
  }
  return unhealthy;
}

/** `unhealthyParties` in --json only when there are some: a healthy run's shape is unchanged. */
function unhealthyField(unhealthy: readonly UnhealthyParty[]): { unhealthyParties?: readonly UnhealthyParty[] } {
  return unhealthy.length > 0 ? { unhealthyParties: unhealthy } : {};
}

export interface VerifyOptions {
  readonly publicKey: string;
  /** The scheme to verify (its independent verifier: OpenSSL or libsecp256k1). */
  readonly suite: Suite;
  readonly message: Uint8Array;
  readonly signature: string;
  readonly json: boolean;
}

/** Verifies with node:crypto only; returns false (the command exits 1) when the signature is invalid. */
export async function runVerify(options: VerifyOptions): Promise<boolean> {
  const out = createOutput(options.json);
  const { suite } = options;
  await suite.prepareVerifier();
  const valid = suite.verifyFinal(
    decodeHex(options.publicKey, '--public-key', suite.sizes.publicKey),
    options.message,
    decodeHex(options.signature, '--signature', suite.sizes.signature),
  );
  out.result(
    valid ? `valid ${suite.scheme} signature` : 'INVALID signature',
    valid
      ? { ok: true, valid, publicKey: options.publicKey }
      : { ok: false, code: 'invalid-signature', message: 'the signature does not verify under this public key over this message', valid, publicKey: options.publicKey },
  );
  return valid;
}

/** The pinned key data of `keyId` in the local data directory (pinned from its parties' attestations if need be). */
export async function localPinnedKey(dataDir: string, keyId: string, command: string): Promise<PinnedKey> {
  return withDataDir(dataDir, { create: false, command }, async (dir) => {
    const cluster = await LocalCluster.open({ dataDir: dir });
    try {
      return await pinnedKey(cluster, localPins(dir), keyId);
    } finally {
      await cluster.close();
    }
  });
}

/** A local key's group public key and suite (its RFC 9591 context string), as pinned. */
export async function publicKeyOf(dataDir: string, keyId: string): Promise<{ publicKey: string; suite: string }> {
  return withDataDir(dataDir, { create: false, command: `frostline verify --key ${keyId}` }, async (dir) => {
    const cluster = await LocalCluster.open({ dataDir: dir });
    try {
      const pin = await pinnedKey(cluster, localPins(dir), keyId);
      return { publicKey: pin.publicKey, suite: pin.suite };
    } finally {
      await cluster.close();
    }
  });
}

export async function runKeys(options: { dataDir: string; json: boolean }): Promise<void> {
  const out = createOutput(options.json);
  await withDataDir(options.dataDir, { create: false, command: 'frostline keys', log: out.step }, async (dataDir) => {
    const cluster = await LocalCluster.open({ dataDir });
    try {
      const store = cluster.stores.get(COORDINATOR);
      if (store === undefined) throw new FrostlineError('coordinator-unavailable', 'the coordinator\'s store is not open');
      const keys = await listKeyRecords(store, Math.floor(Date.now() / 1000));
      // The epoch only once a refresh or reshare moved a key past 0 (earlier output unchanged).
      const epochText = (epoch: number | undefined) => ((epoch ?? 0) > 0 ? `  epoch ${epoch}` : '');
      const human = keys.length === 0 ? 'no keys yet (run: frostline keygen --key-id NAME)' : keys.map((k) => `${k.keyId}  ${k.threshold}-of-${k.parties.length}  ${k.publicKey}${epochText(k.epoch)}`).join('\n');
      out.result(human, { ok: true, keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey, threshold: k.threshold, parties: k.parties, ...((k.epoch ?? 0) > 0 ? { epoch: k.epoch } : {}) })) });
    } finally {
      await cluster.close();
    }
  });
}

/** `frostline key --key ID` on the local cluster: the key as its parties attested it (and pinned). */
export async function runKey(options: { dataDir: string; keyId: string; json: boolean }): Promise<void> {
  const out = createOutput(options.json);
  await withDataDir(options.dataDir, { create: false, command: `frostline key --key ${options.keyId}`, log: out.step }, async (dataDir) => {
    const cluster = await LocalCluster.open({ dataDir });
    try {
      printKey(out, await pinnedKey(cluster, localPins(dataDir), options.keyId));
    } finally {
      await cluster.close();
    }
  });
}
