/**
 * The deployment file of a development deployment (`DevDeployment`, `frostline dev up`)
 * and a client's connection built from it alone. Kept apart from the provisioning code so
 * that a client loads neither the Lambda handlers nor Powertools.
 *
 * The file holds public data only — endpoint, region, account ids, table names, queue URLs,
 * the pinned public keys and the policy — and the paths of the local key directories of
 * initiators and approvers; their private keys stay in those directories.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import type { KeyPins } from '../client/key-pins.js';
import { FrostlineClient } from '../client/client.js';
import { ConfigError } from '../ports/errors.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { DirectorySchema, PartyPolicySchema } from '../protocol/config-schemas.js';
import type { Directory } from '../protocol/directory.js';
import { Name } from '../protocol/messages.js';
import type { PartyPolicy } from '../protocol/requests.js';
import { FileKeyVault } from '../adapters/local/file-key-vault.js';
import { createDynamoDbClient, createSqsClient } from '../adapters/aws/clients.js';
import { DynamoItemBackend } from '../adapters/aws/dynamodb-backend.js';
import { SqsResultInbox } from '../adapters/aws/sqs-result-inbox.js';
import { SqsTransport } from '../adapters/aws/sqs-transport.js';

export const DEV_DEPLOYMENT_FORMAT = 'frostline-dev-deployment';

// ---- the deployment file -------------------------------------------------------------

const AccountId = z.string().regex(/^\d{12}$/, 'expected a 12-digit account id');
const QueueUrl = z.string().regex(/^https?:\/\/[^\s/]+\/\S+$/, 'expected an SQS queue URL');
const TableName = z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'expected a DynamoDB table name');
const KeyDir = z.string().min(1, 'expected a directory');

const DevDeploymentFileSchema = z
  .strictObject({
    format: z.literal(DEV_DEPLOYMENT_FORMAT),
    version: z.literal(1),
    endpoint: z.string().regex(/^https?:\/\/\S+$/, 'expected an http(s) URL'),
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1'),
    coordinator: z.strictObject({ account: AccountId, tableName: TableName, inboxQueueUrl: QueueUrl, requestQueueUrl: QueueUrl }),
    parties: z.record(Name, z.strictObject({ account: AccountId, tableName: TableName, inboxQueueUrl: QueueUrl })),
    initiators: z.record(Name, z.strictObject({ account: AccountId, resultQueueUrl: QueueUrl, keyDir: KeyDir })),
    approvers: z.record(Name, z.strictObject({ keyDir: KeyDir })),
    defaultInitiator: Name,
    directory: DirectorySchema,
    policy: PartyPolicySchema,
  })
  .superRefine((file, ctx) => {
    const same = (what: string, a: object, b: object) => {
      const left = Object.keys(a).sort().join(',');
      const right = Object.keys(b).sort().join(',');
      if (left !== right) ctx.addIssue({ code: 'custom', path: ['directory', what], message: `pinned ${what} (${left}) differ from the deployment's (${right})` });
    };
    same('parties', file.directory.parties, file.parties);
    same('initiators', file.directory.initiators, file.initiators);
    same('approvers', file.directory.approvers ?? {}, file.approvers);
    if (!Object.hasOwn(file.initiators, file.defaultInitiator)) {
      ctx.addIssue({ code: 'custom', path: ['defaultInitiator'], message: 'is not one of the initiators' });
    }
  });

/**
 * Everything a client needs to use a development deployment: endpoint, accounts, queue
 * URLs, the pinned public keys and the policy — public data — and where the initiators'
 * and approvers' key directories are (relative paths are relative to the file).
 */
export type DevDeploymentFile = Omit<z.infer<typeof DevDeploymentFileSchema>, 'directory' | 'policy'> & {
  readonly directory: Directory;
  readonly policy: PartyPolicy;
};

/** Parses a deployment file's text; every problem is reported in one ConfigError, values are never echoed. */
export function parseDevDeploymentFile(text: string, source = 'deployment file'): DevDeploymentFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${source} is not valid JSON`);
  }
  const result = DevDeploymentFileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
    throw new ConfigError(`${source} is not a frostline development deployment (${problems.join('; ')})`);
  }
  return result.data;
}

/** Reads a deployment file; key directories come back as absolute paths. */
export async function readDevDeploymentFile(path: string): Promise<DevDeploymentFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'error';
    throw new ConfigError(`cannot read deployment file ${path} (${code})`);
  }
  return withKeyDirs(parseDevDeploymentFile(text, path), (dir) => resolve(dirname(path), dir));
}

/**
 * Writes a deployment file atomically. Key directories are stored relative to the file, so
 * that the file and its key directories can be moved together.
 */
export async function writeDevDeploymentFile(path: string, file: DevDeploymentFile): Promise<void> {
  const base = dirname(resolve(path));
  const stored = withKeyDirs(file, (dir) => (isAbsolute(dir) ? relative(base, dir) || '.' : dir));
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o644 });
  await rename(temporary, path);
}

function withKeyDirs(file: DevDeploymentFile, map: (dir: string) => string): DevDeploymentFile {
  const mapAll = <T extends { keyDir: string }>(table: Record<string, T>): Record<string, T> =>
    Object.fromEntries(Object.entries(table).map(([id, entry]) => [id, { ...entry, keyDir: map(entry.keyDir) }]));
  return { ...file, initiators: mapAll(file.initiators), approvers: mapAll(file.approvers) };
}

// ---- a client's view of a deployment -------------------------------------------------

export interface DevClientOptions {
  /** Where verified group keys are pinned (the CLI keeps a file beside the deployment file). @default in memory */
  readonly pins?: KeyPins;
  /** @default 120000 */
  readonly timeoutMs?: number;
  /** Longest single long poll of the result queue. @default 1000 */
  readonly pollWaitMs?: number;
}

/** A client's connection to a development deployment, built from its deployment file alone. */
export class DevDeploymentConnection {
  readonly endpoint: string;

  constructor(
    readonly file: DevDeploymentFile,
    options: { readonly endpoint?: string } = {},
  ) {
    this.endpoint = options.endpoint ?? file.endpoint;
  }

  get initiatorIds(): string[] {
    return Object.keys(this.file.initiators);
  }

  /**
   * An SDK client for one initiator: requests go to the coordinator's request queue,
   * results come from the initiator's own result queue, requests are signed with the key in
   * its vault directory — which must be the key pinned for it.
   */
  async client(initiatorId: string = this.file.defaultInitiator, options: DevClientOptions = {}): Promise<FrostlineClient> {
    const entry = Object.hasOwn(this.file.initiators, initiatorId) ? this.file.initiators[initiatorId] : undefined;
    if (entry === undefined) {
      throw new ConfigError(`no initiator "${initiatorId}" in this deployment (it has ${this.initiatorIds.join(', ')})`);
    }
    const vault = await this.#openPinnedVault(`initiator "${initiatorId}"`, entry.keyDir, this.file.directory.initiators[initiatorId]);
    const sqs = createSqsClient({ endpoint: this.endpoint, region: this.file.region, accountId: entry.account });
    const requestQueueUrl = this.file.coordinator.requestQueueUrl;
    const requests = new SqsTransport(sqs, (destination) => {
      // An initiator talks to the coordinator's request queue and nowhere else.
      if (destination.kind === 'coordinator') return requestQueueUrl;
      throw new ConfigError(`an initiator sends to the coordinator only, not to ${destination.kind} "${destination.id}"`);
    });
    return new FrostlineClient({
      initiatorId,
      signer: vault,
      coordinatorKey: this.file.directory.coordinator,
      partyKeys: this.file.directory.parties,
      requests,
      results: new SqsResultInbox(sqs, entry.resultQueueUrl),
      pins: options.pins,
      timeoutMs: options.timeoutMs,
      pollWaitMs: options.pollWaitMs,
    });
  }

  /** An approver's key, for `signApproval`. */
  async approver(approverId: string): Promise<FileKeyVault> {
    const entry = Object.hasOwn(this.file.approvers, approverId) ? this.file.approvers[approverId] : undefined;
    if (entry === undefined) throw new ConfigError(`no approver "${approverId}" in this deployment`);
    return this.#openPinnedVault(`approver "${approverId}"`, entry.keyDir, this.file.directory.approvers?.[approverId]);
  }

  /** The coordinator's table, in its emulated account (audit anchors). */
  coordinatorStore(): DynamoItemBackend {
    const dynamodb = createDynamoDbClient({ endpoint: this.endpoint, region: this.file.region, accountId: this.file.coordinator.account });
    return new DynamoItemBackend(dynamodb, this.file.coordinator.tableName);
  }

  /** A party's table, read in the party's own emulated account (audit verification). */
  partyStore(partyId: string): DynamoItemBackend {
    const entry = Object.hasOwn(this.file.parties, partyId) ? this.file.parties[partyId] : undefined;
    if (entry === undefined) {
      throw new ConfigError(`no party "${partyId}" in this deployment (it has ${Object.keys(this.file.parties).join(', ')})`);
    }
    const dynamodb = createDynamoDbClient({ endpoint: this.endpoint, region: this.file.region, accountId: entry.account });
    return new DynamoItemBackend(dynamodb, entry.tableName);
  }

  async #openPinnedVault(who: string, keyDir: string, pinned: IdentityPublicKey | undefined): Promise<FileKeyVault> {
    // FileKeyVault.open creates missing keys; a client must never mint a key silently.
    if (!existsSync(keyDir)) throw new ConfigError(`the key directory of ${who} (${keyDir}) does not exist`);
    const vault = await FileKeyVault.open(keyDir);
    const actual = await vault.identityPublicKey();
    if (pinned === undefined || pinned.alg !== actual.alg || pinned.spki !== actual.spki) {
      throw new ConfigError(`the key in ${keyDir} is not the key pinned for ${who} in the deployment file`);
    }
    return vault;
  }
}

/** Reads a deployment file and connects to it (`endpoint` overrides the file's). */
export async function openDevDeployment(path: string, options: { readonly endpoint?: string } = {}): Promise<DevDeploymentConnection> {
  return new DevDeploymentConnection(await readDevDeploymentFile(path), options);
}
