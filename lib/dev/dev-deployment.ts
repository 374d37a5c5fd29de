/**
 * A development deployment on an AWS API emulator (moto server): every party and the
 * coordinator in an emulated account of its own, with its own KMS keys, table and queues
 * (what `PartyStack` / `CoordinatorStack` create in AWS, minus IAM), the real Lambda
 * handlers (lib/lambda, which functions/ deploys) fed by `SqsEventSourceRunner`s, and
 * initiators and approvers whose keys live in local `FileKeyVault` directories.
 *
 * It describes itself as a *deployment file* — public data plus the paths of the local key
 * directories — from which a client (another process, e.g. `frostline sign --deployment`)
 * reopens it with `openDevDeployment`. The file holds no secret: the initiators' private
 * keys stay in their vault directories, the nodes' keys in the emulator's KMS.
 *
 * Not for production: in AWS the CDK stacks create the resources and Lambda's event-source
 * mappings run the handlers.
 */
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  createCoordinatorInboxHandler,
  createPartyInboxHandler,
  createRequestIntakeHandler,
} from '../lambda/handlers.js';
import type { InboxProcessor } from '../lambda/inbox-handler.js';
import { METRICS_NAMESPACE, protocolLogger } from '../lambda/observability.js';
import { createCoordinator, createParty } from '../lambda/wiring.js';
import type { FrostlineClient } from '../client/client.js';
import type { CoordinatorRuntimeConfig, PartyRuntimeConfig, QueueUrls } from '../config/runtime.js';
import { ConfigError } from '../ports/errors.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import type { Transport } from '../ports/transport.js';
import { PartyPolicySchema } from '../protocol/config-schemas.js';
import type { Coordinator } from '../protocol/coordinator.js';
import type { Directory } from '../protocol/directory.js';
import { NAME_PATTERN } from '../protocol/messages.js';
import type { Party } from '../protocol/party.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type PartyPolicy } from '../protocol/requests.js';
import { FileKeyVault } from '../adapters/local/file-key-vault.js';
import { type AwsClients, createAwsClients } from '../adapters/aws/clients.js';
import {
  DEV_DEPLOYMENT_FORMAT,
  type DevClientOptions,
  DevDeploymentConnection,
  type DevDeploymentFile,
  writeDevDeploymentFile,
} from './dev-deployment-file.js';
import { KmsKeyVault } from '../adapters/aws/kms-key-vault.js';
import { type NodeAccount, provisionNodeAccount, type QueueOptions } from './provision.js';
import { drain, type RecordFailure, type SqsBatchHandler, SqsEventSourceRunner } from './sqs-event-source-runner.js';

export * from './dev-deployment-file.js';

export const DEV_REGION = 'eu-west-1';
/** The initiator a deployment gets when none are named. */
export const DEFAULT_DEV_INITIATOR = 'app';

/**
 * Receives before a result is dead-lettered. Higher than the inboxes': a result is released
 * (received, then made visible again) each time another client of the same initiator sees
 * it first — several CLI invocations may wait on one queue — and must survive that.
 */
const RESULT_QUEUE_MAX_RECEIVES = 20;

/** Distinct random 12-digit account ids, so that deployments sharing one emulator never meet. */
export function newEmulatorAccountId(): string {
  return String(randomInt(100_000_000_000, 999_999_999_999));
}

export type DevLogLevel = 'SILENT' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Fault injection and replacement points, for tests of failure handling. */
export interface DevDeploymentHooks {
  /** Adds SDK middleware (fault injection) to a node's handler clients. */
  readonly configureClients?: (node: string, clients: AwsClients) => void;
  /** Wraps a node's outgoing transport (duplicate, drop). */
  readonly transport?: (node: string, transport: Transport) => Transport;
  /** Wraps a node's processor (crash, poison). `intake` is the request queue's. */
  readonly processor?: (node: string, processor: InboxProcessor) => InboxProcessor;
  /** Replaces how a party's handler is built (e.g. from the environment through functions/party-inbox.ts). */
  readonly partyHandler?: (id: string, config: PartyRuntimeConfig) => Promise<SqsBatchHandler | undefined>;
}

export interface DevDeploymentOptions {
  /** The emulator, e.g. `http://127.0.0.1:5000`. */
  readonly endpoint: string;
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** Party ids, e.g. `['p1', 'p2', 'p3']`; at least two. */
  readonly parties: readonly string[];
  /** Initiators, each with its own result queue and key. @default ['app'] */
  readonly initiators?: readonly string[];
  /** Approvers for approval quorums, each with its own key. @default none */
  readonly approvers?: readonly string[];
  /**
   * Where the local keys live: `<keyDir>/initiators/<id>` and `<keyDir>/approvers/<id>`,
   * each a `FileKeyVault` directory. Existing keys there are reused.
   */
  readonly keyDir: string;
  /** Every party's policy. @default each initiator may run keygen, use every key and refresh or reshare it */
  readonly policy?: PartyPolicy;
  /** Receives before a party or coordinator message is dead-lettered. @default 3 */
  readonly maxReceiveCount?: number;
  /** @default 2 */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * How soon a failed message is retried (the runner shortens its visibility).
   * @default 0
   */
  readonly retryVisibilitySeconds?: number;
  /** Level of the handlers' Powertools loggers (JSON on stdout). @default 'SILENT' */
  readonly logLevel?: DevLogLevel;
  /** Told about each failed record (it is counted in `stats()` and redelivered regardless). @default nothing */
  readonly onFailure?: (node: string, failure: RecordFailure) => void;
  /** Start the runners at once. @default true */
  readonly start?: boolean;
  readonly hooks?: DevDeploymentHooks;
  /** Delegated message-signing keys, as the Lambda wiring (`WiringOptions.delegatedKeys`). @default true */
  readonly delegatedKeys?: boolean;
}

export interface DevPartyNode {
  readonly id: string;
  readonly account: NodeAccount;
  readonly config: PartyRuntimeConfig;
  readonly party: Party;
  readonly runner: SqsEventSourceRunner;
}

export interface DevCoordinatorNode {
  readonly account: NodeAccount;
  readonly config: CoordinatorRuntimeConfig;
  readonly coordinator: Coordinator;
  readonly inboxRunner: SqsEventSourceRunner;
  readonly intakeRunner: SqsEventSourceRunner;
  readonly requestQueueUrl: string;
}

export interface DevInitiator {
  readonly id: string;
  /** The emulated account the initiator's application runs in. */
  readonly accountId: string;
  /** Its result queue, in the coordinator's account. */
  readonly resultQueueUrl: string;
  readonly keyDir: string;
  readonly vault: FileKeyVault;
}

export interface DevApprover {
  readonly id: string;
  readonly keyDir: string;
  readonly vault: FileKeyVault;
}

export interface NodeCounts {
  processed: number;
  refused: number;
  failed: number;
}

/** Messages handled so far, per node (`coordinator` is its inbox, `intake` its request queue). */
export interface DevDeploymentStats {
  readonly total: Readonly<NodeCounts>;
  readonly nodes: Readonly<Record<string, Readonly<NodeCounts>>>;
}

// ---- provisioning and running ----------------------------------------------------------

function validate(options: DevDeploymentOptions, initiators: readonly string[], approvers: readonly string[]): PartyPolicy | undefined {
  const problems: string[] = [];
  const names = (what: string, list: readonly string[]) => {
    for (const id of list) if (!NAME_PATTERN.test(id)) problems.push(`${what} "${id}" is not a name (a-z, 0-9, "-")`);
    if (new Set(list).size !== list.length) problems.push(`${what} ids repeat`);
  };
  names('party', options.parties);
  names('initiator', initiators);
  names('approver', approvers);
  if (options.parties.length < 2) problems.push('at least two parties are needed');
  if (initiators.length === 0) problems.push('at least one initiator is needed');
  if (options.keyDir.length === 0) problems.push('keyDir is empty');
  let policy: PartyPolicy | undefined;
  if (options.policy !== undefined) {
    const parsed = PartyPolicySchema.safeParse(options.policy);
    if (parsed.success) policy = parsed.data;
    else problems.push(...parsed.error.issues.map((issue) => `policy.${issue.path.join('.')}: ${issue.message}`));
  }
  if (problems.length > 0) throw new ConfigError(`invalid development deployment options: ${problems.join('; ')}`);
  return policy;
}

/** The node's own KMS vault on its provisioning clients (its public key; in tests, decryption). */
export function nodeKmsVault(account: NodeAccount): KmsKeyVault {
  return new KmsKeyVault({
    client: account.clients.kms,
    masterKeyId: account.masterKeyId,
    identityKeyId: account.identityKeyId,
    identityAlgorithm: account.identityAlgorithm,
  });
}

function queueUrl(account: NodeAccount, role: string): string {
  const url = account.queues[role]?.url;
  if (url === undefined) throw new ConfigError(`no ${role} queue provisioned in account ${account.accountId}`);
  return url;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new ConfigError(`${what} is missing`);
  return value;
}

export class DevDeployment {
  readonly #counts: ReadonlyMap<string, NodeCounts>;

  private constructor(
    readonly endpoint: string,
    readonly region: string,
    readonly parties: ReadonlyMap<string, DevPartyNode>,
    readonly coordinator: DevCoordinatorNode,
    readonly initiators: ReadonlyMap<string, DevInitiator>,
    readonly approvers: ReadonlyMap<string, DevApprover>,
    readonly directory: Directory,
    readonly policy: PartyPolicy,
    readonly runners: readonly SqsEventSourceRunner[],
    counts: ReadonlyMap<string, NodeCounts>,
  ) {
    this.#counts = counts;
  }

  /** Provisions every account in the emulator, wires the handlers and (by default) starts the runners. */
  static async create(options: DevDeploymentOptions): Promise<DevDeployment> {
    const { endpoint } = options;
    const region = options.region ?? DEV_REGION;
    const initiatorIds = options.initiators ?? [DEFAULT_DEV_INITIATOR];
    const approverIds = options.approvers ?? [];
    const customPolicy = validate(options, initiatorIds, approverIds);
    const hooks = options.hooks ?? {};
    const suffix = newEmulatorAccountId().slice(-6);
    const queueOptions: QueueOptions = { maxReceiveCount: options.maxReceiveCount ?? 3, visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2 };
    const resultQueueOptions: QueueOptions = { ...queueOptions, maxReceiveCount: RESULT_QUEUE_MAX_RECEIVES };

    const keyDirOf = (kind: 'initiators' | 'approvers', id: string) => join(options.keyDir, kind, id);
    const [initiatorVaults, approverVaults, coordinatorAccount, partyAccounts] = await Promise.all([
      Promise.all(initiatorIds.map((id) => FileKeyVault.open(keyDirOf('initiators', id)))),
      Promise.all(approverIds.map((id) => FileKeyVault.open(keyDirOf('approvers', id)))),
      provisionNodeAccount({
        endpoint,
        region,
        accountId: newEmulatorAccountId(),
        name: `frostline-coordinator-${suffix}`,
        queues: {
          inbox: queueOptions,
          requests: queueOptions,
          ...Object.fromEntries(initiatorIds.map((id) => [`results-${id}`, resultQueueOptions])),
        },
      }),
      Promise.all(
        options.parties.map((id) =>
          provisionNodeAccount({ endpoint, region, accountId: newEmulatorAccountId(), name: `frostline-${id}-${suffix}`, queues: { inbox: queueOptions } }),
        ),
      ),
    ]);
    const accountOf = new Map(options.parties.map((id, i) => [id, required(partyAccounts[i], `account of party ${id}`)]));
    const initiators = new Map<string, DevInitiator>(
      initiatorIds.map((id, i) => [
        id,
        {
          id,
          accountId: newEmulatorAccountId(),
          resultQueueUrl: queueUrl(coordinatorAccount, `results-${id}`),
          keyDir: keyDirOf('initiators', id),
          vault: required(initiatorVaults[i], `vault of initiator ${id}`),
        },
      ]),
    );
    const approvers = new Map<string, DevApprover>(
      approverIds.map((id, i) => [id, { id, keyDir: keyDirOf('approvers', id), vault: required(approverVaults[i], `vault of approver ${id}`) }]),
    );

    const publicKeys = async (entries: Iterable<[string, { identityPublicKey(): Promise<IdentityPublicKey> }]>) =>
      Object.fromEntries(await Promise.all([...entries].map(async ([id, vault]) => [id, await vault.identityPublicKey()] as const)));
    const directory: Directory = {
      coordinator: await nodeKmsVault(coordinatorAccount).identityPublicKey(),
      parties: await publicKeys([...accountOf].map(([id, account]) => [id, nodeKmsVault(account)])),
      initiators: await publicKeys([...initiators].map(([id, initiator]) => [id, initiator.vault])),
      ...(approvers.size > 0 ? { approvers: await publicKeys([...approvers].map(([id, approver]) => [id, approver.vault])) } : {}),
    };
    const queueUrls: QueueUrls = {
      coordinator: queueUrl(coordinatorAccount, 'inbox'),
      parties: Object.fromEntries([...accountOf].map(([id, account]) => [id, queueUrl(account, 'inbox')])),
      initiators: Object.fromEntries([...initiators].map(([id, initiator]) => [id, initiator.resultQueueUrl])),
    };
    const policy: PartyPolicy = customPolicy ?? {
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      // A development deployment: every initiator may also refresh and reshare every key (README "Key lifecycle").
      initiators: Object.fromEntries(initiatorIds.map((id) => [id, { keygen: true, keys: ['*'], reshare: ['*'] }])),
    };

    const logLevel = options.logLevel ?? 'SILENT';
    const observability = (service: string) => ({
      logger: new Logger({ serviceName: service, logLevel }),
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }),
    });
    const counts = new Map<string, NodeCounts>();
    const countsOf = (node: string): NodeCounts => {
      let entry = counts.get(node);
      if (entry === undefined) {
        entry = { processed: 0, refused: 0, failed: 0 };
        counts.set(node, entry);
      }
      return entry;
    };
    const counted = (node: string, processor: InboxProcessor): InboxProcessor => {
      const inner = hooks.processor?.(node, processor) ?? processor;
      return {
        async handle(raw) {
          const outcome = await inner.handle(raw);
          countsOf(node)[outcome.status]++;
          return outcome;
        },
      };
    };
    const handlerClients = (node: string, account: NodeAccount): AwsClients => {
      const clients = createAwsClients({ endpoint, region, accountId: account.accountId });
      hooks.configureClients?.(node, clients);
      return clients;
    };
    const wrapTransport = (node: string) =>
      hooks.transport !== undefined ? { transport: (t: Transport) => hooks.transport?.(node, t) ?? t } : {};
    const runner = (node: string, account: NodeAccount, role: string, handler: SqsBatchHandler) =>
      new SqsEventSourceRunner({
        sqs: account.clients.sqs,
        queueUrl: queueUrl(account, role),
        handler,
        region,
        retryVisibilitySeconds: options.retryVisibilitySeconds ?? 0,
        onFailure: (failure) => {
          countsOf(node).failed++;
          options.onFailure?.(node, failure);
        },
      });

    const parties = new Map<string, DevPartyNode>();
    for (const [id, account] of accountOf) {
      const config: PartyRuntimeConfig = {
        role: 'party',
        partyId: id,
        policy,
        region,
        tableName: account.tableName,
        masterKeyId: account.masterKeyId,
        identityKeyId: account.identityKeyId,
        identityAlgorithm: account.identityAlgorithm,
        directory,
        // A party sends to the coordinator only.
        queueUrls: { coordinator: queueUrls.coordinator, parties: {}, initiators: {} },
        emulatorAccountId: account.accountId,
      };
      const { logger, metrics } = observability(`party-${id}`);
      const party = createParty(config, {
        clients: handlerClients(id, account),
        logger: protocolLogger(logger),
        ...wrapTransport(id),
        ...(options.delegatedKeys !== undefined ? { delegatedKeys: options.delegatedKeys } : {}),
      });
      const handler = (await hooks.partyHandler?.(id, config)) ?? createPartyInboxHandler({ processor: counted(id, party), logger, metrics });
      parties.set(id, { id, account, config, party, runner: runner(id, account, 'inbox', handler) });
    }

    const coordinatorConfig: CoordinatorRuntimeConfig = {
      role: 'coordinator',
      region,
      tableName: coordinatorAccount.tableName,
      masterKeyId: coordinatorAccount.masterKeyId,
      identityKeyId: coordinatorAccount.identityKeyId,
      identityAlgorithm: coordinatorAccount.identityAlgorithm,
      directory,
      queueUrls,
      emulatorAccountId: coordinatorAccount.accountId,
    };
    const inbox = observability('coordinator');
    const coordinator = createCoordinator(coordinatorConfig, {
      clients: handlerClients('coordinator', coordinatorAccount),
      logger: protocolLogger(inbox.logger),
      ...wrapTransport('coordinator'),
      ...(options.delegatedKeys !== undefined ? { delegatedKeys: options.delegatedKeys } : {}),
    });
    const intake = observability('request-intake');
    const coordinatorNode: DevCoordinatorNode = {
      account: coordinatorAccount,
      config: coordinatorConfig,
      coordinator,
      inboxRunner: runner('coordinator', coordinatorAccount, 'inbox', createCoordinatorInboxHandler({ processor: counted('coordinator', coordinator), ...inbox })),
      intakeRunner: runner('intake', coordinatorAccount, 'requests', createRequestIntakeHandler({ processor: counted('intake', coordinator), ...intake })),
      requestQueueUrl: queueUrl(coordinatorAccount, 'requests'),
    };

    const runners = [...[...parties.values()].map((p) => p.runner), coordinatorNode.inboxRunner, coordinatorNode.intakeRunner];
    const deployment = new DevDeployment(endpoint, region, parties, coordinatorNode, initiators, approvers, directory, policy, runners, counts);
    if (options.start ?? true) deployment.start();
    return deployment;
  }

  party(id: string): DevPartyNode {
    const party = this.parties.get(id);
    if (party === undefined) throw new ConfigError(`no party "${id}" in this deployment`);
    return party;
  }

  initiator(id: string): DevInitiator {
    const initiator = this.initiators.get(id);
    if (initiator === undefined) throw new ConfigError(`no initiator "${id}" in this deployment`);
    return initiator;
  }

  /**
   * Starts polling every queue, as the event-source mappings would, until `stop()`.
   */
  start(): void {
    for (const runner of this.runners) runner.start();
  }

  /** Stops the runners after their outstanding long polls (about a second). */
  async stop(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.stop()));
  }

  /** Delivers messages until every queue is empty (redeliveries and dead-lettering included). */
  async drain(timeoutMs = 90_000): Promise<void> {
    await drain(this.runners, { timeoutMs });
  }

  stats(): DevDeploymentStats {
    const total: NodeCounts = { processed: 0, refused: 0, failed: 0 };
    const nodes: Record<string, NodeCounts> = {};
    for (const [node, counts] of this.#counts) {
      nodes[node] = { ...counts };
      total.processed += counts.processed;
      total.refused += counts.refused;
      total.failed += counts.failed;
    }
    return { total, nodes };
  }

  /** The deployment file's content (key directories as given to `create`). */
  describe(): DevDeploymentFile {
    const defaultInitiator = required(this.initiators.keys().next().value, 'an initiator');
    return {
      format: DEV_DEPLOYMENT_FORMAT,
      version: 1,
      endpoint: this.endpoint,
      region: this.region,
      coordinator: {
        account: this.coordinator.account.accountId,
        tableName: this.coordinator.account.tableName,
        inboxQueueUrl: this.coordinator.config.queueUrls.coordinator,
        requestQueueUrl: this.coordinator.requestQueueUrl,
      },
      parties: Object.fromEntries(
        [...this.parties].map(([id, node]) => [id, { account: node.account.accountId, tableName: node.account.tableName, inboxQueueUrl: queueUrl(node.account, 'inbox') }]),
      ),
      initiators: Object.fromEntries(
        [...this.initiators].map(([id, initiator]) => [id, { account: initiator.accountId, resultQueueUrl: initiator.resultQueueUrl, keyDir: initiator.keyDir }]),
      ),
      approvers: Object.fromEntries([...this.approvers].map(([id, approver]) => [id, { keyDir: approver.keyDir }])),
      defaultInitiator,
      directory: this.directory,
      policy: this.policy,
    };
  }

  /** Writes `describe()` to `path` (see `writeDevDeploymentFile`). */
  async writeFile(path: string): Promise<void> {
    await writeDevDeploymentFile(path, this.describe());
  }

  /** A client's connection, exactly as another process would make it from the deployment file. */
  connect(options: { readonly endpoint?: string } = {}): DevDeploymentConnection {
    return new DevDeploymentConnection(this.describe(), options);
  }

  /** An SDK client for one initiator (see `DevDeploymentConnection.client`). */
  async client(initiatorId?: string, options?: DevClientOptions): Promise<FrostlineClient> {
    return this.connect().client(initiatorId, options);
  }

  /** Stops the runners. The emulator's resources and the key directories stay. */
  async close(): Promise<void> {
    await this.stop();
  }
}
