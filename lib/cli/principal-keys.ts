/**
 * `frostline initiator create` and `frostline approver create`: make (or look up) the key
 * an initiator signs its requests with, or an approver its approvals, and print the entry
 * that goes into the deployment config. Without this an operator had to work out SPKI hex
 * from OpenSSL by hand.
 *
 * Local mode writes a new Ed25519 PKCS#8 PEM (mode 0600, never over an existing file) and
 * prints its public key; the private key is never printed. KMS mode only reads an
 * existing key's public key (GetPublicKey): creating a KMS key is the key owner's
 * decision, made in their own account with their own key policy.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { createKmsClient } from '../adapters/aws/clients.js';
import { FrostlineError } from '../ports/errors.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { readKmsPublicKey } from './config-pin.js';
import { ioError } from './failure.js';
import { createOutput } from './output.js';

export type PrincipalKind = 'initiator' | 'approver';

export interface CreatePrincipalOptions {
  readonly kind: PrincipalKind;
  readonly id: string;
  /** Local mode: directory of the new `<id>.pem`. */
  readonly out?: string;
  /** KMS mode: an existing asymmetric SIGN_VERIFY key (key or alias ARN). */
  readonly kmsKeyArn?: string;
  /** Initiators only: the IAM principal the application runs as. */
  readonly principalArn?: string;
  readonly keys?: readonly string[];
  readonly keygen?: boolean;
  readonly profile?: string;
  readonly endpoint?: string;
  readonly json?: boolean;
}

export interface CreatedPrincipal {
  readonly publicKey: IdentityPublicKey;
  readonly keyFile?: string;
  /** Where the entry goes in the deployment config, and the entry itself. */
  readonly section: 'initiators' | 'approvers';
  readonly entry: Record<string, unknown>;
}

const PRINCIPAL_PLACEHOLDER = 'arn:aws:iam::<account>:role/<the role the application runs as>';

/** Writes a new Ed25519 key as PKCS#8 PEM, readable by its owner only; refuses to overwrite. */
async function writeLocalKey(dir: string, id: string): Promise<{ path: string; publicKey: IdentityPublicKey }> {
  const path = join(dir, `${id}.pem`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(`cannot create ${dir}`, error);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  let file;
  try {
    // 'wx': an existing key may already be pinned somewhere; overwriting it would lock its owner out.
    file = await open(path, 'wx', 0o600);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'EEXIST') {
      throw new FrostlineError('usage', `${path} exists: choose another --out directory or --id (a key already in a config must not be replaced silently)`);
    }
    throw ioError(`cannot create ${path}`, error);
  }
  try {
    await file.writeFile(pem);
  } catch (error) {
    throw ioError(`cannot write ${path}`, error);
  } finally {
    await file.close();
  }
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { path, publicKey: { alg: 'ed25519', spki: spki.toString('hex') } };
}

function kmsClientFor(arn: string, options: CreatePrincipalOptions): Pick<KMSClient, 'send'> {
  const [, , , region = '', account = ''] = arn.split(':');
  if (options.endpoint !== undefined) return createKmsClient({ endpoint: options.endpoint, region, accountId: account });
  return createKmsClient({ region, ...(options.profile !== undefined ? { profile: options.profile } : {}) });
}

export async function createPrincipal(options: CreatePrincipalOptions): Promise<CreatedPrincipal> {
  if ((options.out === undefined) === (options.kmsKeyArn === undefined)) {
    throw new FrostlineError('usage', 'give exactly one of --out DIR (a new local key) or --kms-key-arn ARN (an existing KMS key)');
  }
  if (options.kmsKeyArn === undefined && (options.profile !== undefined || options.endpoint !== undefined)) {
    throw new FrostlineError('usage', '--profile and --endpoint need --kms-key-arn ARN');
  }
  if (options.profile !== undefined && options.endpoint !== undefined) {
    throw new FrostlineError('usage', "--profile and --endpoint are mutually exclusive: an emulator endpoint gets fake credentials, never a profile's");
  }
  let publicKey: IdentityPublicKey;
  let keyFile: string | undefined;
  if (options.kmsKeyArn !== undefined) {
    publicKey = await readKmsPublicKey(kmsClientFor(options.kmsKeyArn, options), options.kmsKeyArn, `${options.kind} ${options.id}`);
  } else {
    const written = await writeLocalKey(options.out ?? '.', options.id);
    publicKey = written.publicKey;
    keyFile = written.path;
  }
  if (options.kind === 'approver') {
    // Approvers are pinned by public key only (the config has no KMS form for them).
    return { publicKey, keyFile, section: 'approvers', entry: { [options.id]: publicKey } };
  }
  const entry = {
    id: options.id,
    principalArn: options.principalArn ?? PRINCIPAL_PLACEHOLDER,
    ...(options.kmsKeyArn !== undefined ? { kmsKeyArn: options.kmsKeyArn } : { publicKey }),
    keys: options.keys ?? [],
    keygen: options.keygen === true,
  };
  return { publicKey, keyFile, section: 'initiators', entry };
}

/** The command's action: creates, then prints the config entry (stdout) and what to do next. */
export async function runCreatePrincipal(options: CreatePrincipalOptions): Promise<void> {
  const created = await createPrincipal(options);
  const out = createOutput(options.json === true);
  const lines: string[] = [];
  if (created.keyFile !== undefined) lines.push(`wrote ${created.keyFile} (Ed25519, PKCS#8 PEM, mode 0600): keep it secret; only the ${options.kind} signs with it`);
  else lines.push(`read the public key of ${options.kmsKeyArn ?? ''} (kms:GetPublicKey)`);
  lines.push(`public key ${created.publicKey.alg} ${created.publicKey.spki}`);
  lines.push(`add to "${created.section}" in the deployment config:`);
  lines.push(JSON.stringify(created.entry, null, 2));
  if (options.kind === 'initiator' && options.principalArn === undefined) lines.push(`then replace principalArn with the IAM role or user the application runs as`);
  if (options.kind === 'initiator' && options.kmsKeyArn !== undefined) lines.push('`frostline config pin` pins this public key (pinned.initiators) before the second deploy pass');
  out.result(lines.join('\n'), {
    ok: true,
    kind: options.kind,
    id: options.id,
    ...(created.keyFile !== undefined ? { keyFile: created.keyFile } : {}),
    publicKey: created.publicKey,
    section: created.section,
    entry: created.entry,
  });
}
