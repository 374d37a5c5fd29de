/**
 * `frostline keygen|sign|key|audit verify --deployment FILE`: the same commands against a
 * development deployment (`frostline dev up`) through the initiator SDK — requests on the
 * coordinator's request queue, results on the initiator's own result queue, signed with
 * the initiator's key from its vault directory. Progress goes to stderr; results to stdout
 * (JSON with --json); a failure throws, and the entry point prints its code and message on
 * one line and exits non-zero.
 */
import { randomUUID } from 'node:crypto';
import { openDevDeployment, type DevDeploymentConnection } from '../adapters/aws/dev-deployment-file.js';
import type { FrostlineClient } from '../client/client.js';
import { FrostlineError } from '../ports/errors.js';
import { signApproval, type Approval } from '../protocol/approvals.js';
import { bytesToHex, decodeHex } from '../protocol/encoding.js';
import { verifyEd25519WithOpenSSL } from '../protocol/suite.js';
import { reportAudit, verifyPartyAudit } from './audit.js';
import { createOutput, failureJson, type Output, printKey, startProgress, timed } from './output.js';

export interface DeploymentTarget {
  /** Path of the deployment file written by `frostline dev up`. */
  readonly deployment: string;
  /** Overrides the file's endpoint (e.g. the emulator seen from a container). */
  readonly endpoint?: string;
  /** @default the file's default initiator */
  readonly initiator?: string;
  /** @default 120000 */
  readonly timeoutMs?: number;
  readonly json: boolean;
}

async function connect(target: DeploymentTarget): Promise<DevDeploymentConnection> {
  return openDevDeployment(target.deployment, target.endpoint !== undefined ? { endpoint: target.endpoint } : {});
}

/**
 * Runs one request with a progress ticker; Ctrl-C aborts the wait (the request may still
 * complete — repeating its request id fetches the result). With --json a failure is also
 * printed as JSON on stdout, before the entry point prints its one line on stderr.
 */
async function request<T>(
  connection: DevDeploymentConnection,
  target: DeploymentTarget,
  out: Output,
  label: string,
  work: (client: FrostlineClient, signal: AbortSignal) => Promise<T>,
): Promise<[T, number]> {
  const client = await connection.client(target.initiator, target.timeoutMs !== undefined ? { timeoutMs: target.timeoutMs } : {});
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
    if (target.json) out.result('', failureJson(error));
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

export async function runDeploymentKeygen(
  target: DeploymentTarget,
  options: { readonly keyId: string; readonly threshold: number; readonly parties?: number; readonly requestId?: string },
): Promise<void> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  const all = Object.keys(connection.file.parties);
  const count = options.parties ?? all.length;
  if (count > all.length) throw new FrostlineError('usage', `--parties ${count}: the deployment has ${all.length} parties`);
  if (options.threshold > count) throw new FrostlineError('usage', `--threshold ${options.threshold} is larger than the ${count} parties`);
  const parties = all.slice(0, count);
  const [result, ms] = await request(connection, target, out, `keygen "${options.keyId}" ${options.threshold}-of-${count} among ${parties.join(', ')}`, (client, signal) =>
    client.keygen({ keyId: options.keyId, threshold: options.threshold, parties, signal, ...(options.requestId !== undefined ? { requestId: options.requestId } : {}) }),
  );
  out.result(
    `key ${result.keyId}  ${result.publicKey}  ${result.threshold}-of-${result.parties.length} (${result.parties.join(', ')})${result.duplicate ? '  (repeated request: first result)' : ''}  ${ms} ms`,
    { ok: true, keyId: result.keyId, publicKey: result.publicKey, threshold: result.threshold, parties: result.parties, requestId: result.requestId, duplicate: result.duplicate },
  );
}

export async function runDeploymentSign(
  target: DeploymentTarget,
  options: { readonly keyId: string; readonly message: Uint8Array; readonly requestId?: string; readonly approvers?: readonly string[] },
): Promise<void> {
  const out = createOutput(target.json);
  const connection = await connect(target);
  const requestId = options.requestId ?? randomUUID();
  const approvals = await approvalsFor(connection, target, options.approvers ?? [], { keyId: options.keyId, message: options.message, requestId });
  const [result, ms] = await request(connection, target, out, `signing ${options.message.length} bytes with key "${options.keyId}"`, (client, signal) =>
    client.sign({ keyId: options.keyId, message: options.message, requestId, signal, ...(approvals.length > 0 ? { approvals } : {}) }),
  );
  // The SDK verified it already; checking again costs nothing and is what a relying party does.
  if (!verifyEd25519WithOpenSSL(decodeHex(result.publicKey, 'publicKey', 32), options.message, result.signature)) {
    throw new FrostlineError('verification-failed', 'the signature does not verify with node:crypto');
  }
  out.result(
    `signature ${result.signatureHex}\nsigners   ${result.signers.join(', ')}${result.duplicate ? ' (repeated request: first result)' : ''}  ${ms} ms`,
    {
      ok: true,
      keyId: result.keyId,
      publicKey: result.publicKey,
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
  connection: DevDeploymentConnection,
  target: DeploymentTarget,
  approvers: readonly string[],
  request: { keyId: string; message: Uint8Array; requestId: string },
): Promise<Approval[]> {
  if (approvers.length === 0) return [];
  const initiator = target.initiator ?? connection.file.defaultInitiator;
  return Promise.all(
    approvers.map(async (id) =>
      signApproval(await connection.approver(id), id, { initiator, requestId: request.requestId, keyId: request.keyId, message: bytesToHex(request.message) }),
    ),
  );
}

export async function runDeploymentKey(target: DeploymentTarget, keyId: string): Promise<void> {
  const out = createOutput(target.json);
  const [key] = await request(await connect(target), target, out, `looking up key "${keyId}"`, (client, signal) => client.getKey(keyId, { signal }));
  printKey(out, key);
}

/** Verifies a party's audit chain in its table in the emulated account; false if broken. */
export async function runDeploymentAuditVerify(target: DeploymentTarget, party: string): Promise<boolean> {
  const out = createOutput(target.json);
  const store = (await connect(target)).partyStore(party);
  return reportAudit(out, party, await verifyPartyAudit(store, party));
}
