/**
 * A whole frostline deployment in the emulator: every party and the coordinator in its own
 * emulated account with its own KMS keys, table and queues; the real Lambda handlers from
 * functions/ fed by SqsEventSourceRunner; an initiator with a local Ed25519 key. What
 * `LocalCluster` is for the embedded default, this is for the AWS adapters.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type AwsClients, createAwsClients } from '../../lib/adapters/aws/clients.js';
import { KmsKeyVault } from '../../lib/adapters/aws/kms-key-vault.js';
import { type NodeAccount, provisionNodeAccount } from '../../lib/adapters/aws/provision.js';
import { drain, type SqsBatchHandler, SqsEventSourceRunner } from '../../lib/adapters/aws/sqs-event-source-runner.js';
import { SqsTransport } from '../../lib/adapters/aws/sqs-transport.js';
import { FileKeyVault } from '../../lib/adapters/local/file-key-vault.js';
import { Initiator, type InitiatorResult } from '../../lib/client/initiator.js';
import type { CoordinatorRuntimeConfig, PartyRuntimeConfig, QueueUrls } from '../../lib/config/runtime.js';
import { systemClock } from '../../lib/ports/clock.js';
import type { Transport } from '../../lib/ports/transport.js';
import type { Coordinator } from '../../lib/protocol/coordinator.js';
import type { Directory } from '../../lib/protocol/directory.js';
import type { KeygenResultBody, SignResultBody } from '../../lib/protocol/messages.js';
import type { Party } from '../../lib/protocol/party.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type PartyPolicy } from '../../lib/protocol/requests.js';
import {
  createCoordinatorInboxHandler,
  createPartyInboxHandler,
  createRequestIntakeHandler,
} from '../../functions/shared/handlers.js';
import type { InboxProcessor } from '../../functions/shared/inbox-handler.js';
import { METRICS_NAMESPACE, protocolLogger } from '../../functions/shared/observability.js';
import { createCoordinator, createParty } from '../../functions/shared/wiring.js';

export const REGION = 'eu-west-1';
export const INITIATOR = 'app';

/** Distinct random 12-digit account ids, so that deployments of parallel test files never meet. */
export function newAccountId(): string {
  return String(randomInt(100_000_000_000, 999_999_999_999));
}

/** Handlers log at this level in tests (FROSTLINE_TEST_LOG_LEVEL=INFO to see every outcome). */
const LOG_LEVEL = process.env.FROSTLINE_TEST_LOG_LEVEL ?? 'SILENT';

export function testObservability(service: string): { logger: Logger; metrics: Metrics } {
  return {
    logger: new Logger({ serviceName: service, logLevel: LOG_LEVEL as 'SILENT' }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }),
  };
}

export interface DeploymentOptions {
  readonly endpoint: string;
  readonly parties: readonly string[];
  /** @default 3 */
  readonly maxReceiveCount?: number;
  /**
   * How soon a failed message is retried (the runner shortens its visibility).
   * @default 0
   */
  readonly retryVisibilitySeconds?: number;
  /** Adds SDK middleware (fault injection) to a node's handler clients. */
  readonly configureClients?: (node: string, clients: AwsClients) => void;
  /** Wraps a node's outgoing transport (duplicate, drop). */
  readonly transport?: (node: string, transport: Transport) => Transport;
  /** Wraps a node's processor (crash, poison). */
  readonly processor?: (node: string, processor: InboxProcessor) => InboxProcessor;
  /** Replaces how a party's handler is built (e.g. from the environment through functions/party-inbox.ts). */
  readonly partyHandler?: (id: string, config: PartyRuntimeConfig) => Promise<SqsBatchHandler | undefined>;
}

export interface PartyNode {
  readonly id: string;
  readonly account: NodeAccount;
  readonly config: PartyRuntimeConfig;
  readonly party: Party;
  readonly runner: SqsEventSourceRunner;
}

export interface CoordinatorNode {
  readonly account: NodeAccount;
  readonly config: CoordinatorRuntimeConfig;
  readonly coordinator: Coordinator;
  readonly inboxRunner: SqsEventSourceRunner;
  readonly intakeRunner: SqsEventSourceRunner;
  readonly requestQueueUrl: string;
  readonly resultQueueUrl: string;
}

export class EmulatedDeployment {
  readonly #pending: InitiatorResult[] = [];

  private constructor(
    readonly parties: ReadonlyMap<string, PartyNode>,
    readonly coordinator: CoordinatorNode,
    readonly initiator: Initiator,
    readonly directory: Directory,
    readonly policy: PartyPolicy,
    readonly runners: readonly SqsEventSourceRunner[],
    private readonly vaultDir: string,
  ) {}

  static async create(options: DeploymentOptions): Promise<EmulatedDeployment> {
    const { endpoint } = options;
    const suffix = newAccountId().slice(-6);
    const queueOptions = { maxReceiveCount: options.maxReceiveCount ?? 3, visibilityTimeoutSeconds: 2 };

    const vaultDir = await mkdtemp(join(tmpdir(), 'frostline-initiator-'));
    const [initiatorVault, coordinatorAccount, ...partyAccounts] = await Promise.all([
      FileKeyVault.open(join(vaultDir, INITIATOR)),
      provisionNodeAccount({
        endpoint,
        region: REGION,
        accountId: newAccountId(),
        name: `frostline-coordinator-${suffix}`,
        queues: { inbox: queueOptions, requests: queueOptions, [`results-${INITIATOR}`]: queueOptions },
      }),
      ...options.parties.map((id) =>
        provisionNodeAccount({ endpoint, region: REGION, accountId: newAccountId(), name: `frostline-${id}-${suffix}`, queues: { inbox: queueOptions } }),
      ),
    ]);

    const accountOf = new Map(options.parties.map((id, i) => [id, partyAccounts[i]]));
    const queue = (account: NodeAccount | undefined, role: string): string => {
      const url = account?.queues[role]?.url;
      if (url === undefined) throw new Error(`no ${role} queue provisioned`);
      return url;
    };
    const directory: Directory = {
      coordinator: await kmsVault(coordinatorAccount).identityPublicKey(),
      parties: Object.fromEntries(
        await Promise.all(options.parties.map(async (id) => [id, await kmsVault(required(accountOf.get(id))).identityPublicKey()] as const)),
      ),
      initiators: { [INITIATOR]: await initiatorVault.identityPublicKey() },
    };
    const queueUrls: QueueUrls = {
      coordinator: queue(coordinatorAccount, 'inbox'),
      parties: Object.fromEntries(options.parties.map((id) => [id, queue(accountOf.get(id), 'inbox')])),
      initiators: { [INITIATOR]: queue(coordinatorAccount, `results-${INITIATOR}`) },
    };
    const policy: PartyPolicy = { maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, initiators: { [INITIATOR]: { keygen: true, keys: ['*'] } } };

    const handlerClients = (node: string, account: NodeAccount): AwsClients => {
      const clients = createAwsClients({ endpoint, region: REGION, accountId: account.accountId });
      options.configureClients?.(node, clients);
      return clients;
    };
    const runner = (account: NodeAccount, role: string, handler: SqsBatchHandler) =>
      new SqsEventSourceRunner({
        sqs: account.clients.sqs,
        queueUrl: queue(account, role),
        handler,
        region: REGION,
        retryVisibilitySeconds: options.retryVisibilitySeconds ?? 0,
        onFailure: () => {}, // failures are expected in these tests; outcomes are asserted instead
      });
    const wrap = (node: string, processor: InboxProcessor) => options.processor?.(node, processor) ?? processor;

    const parties = new Map<string, PartyNode>();
    for (const id of options.parties) {
      const account = required(accountOf.get(id));
      const config: PartyRuntimeConfig = {
        role: 'party',
        partyId: id,
        policy,
        region: REGION,
        tableName: account.tableName,
        masterKeyId: account.masterKeyId,
        identityKeyId: account.identityKeyId,
        identityAlgorithm: account.identityAlgorithm,
        directory,
        queueUrls: { coordinator: queueUrls.coordinator, parties: {}, initiators: {} },
        emulatorAccountId: account.accountId,
      };
      const { logger, metrics } = testObservability(`party-${id}`);
      const party = createParty(config, {
        clients: handlerClients(id, account),
        logger: protocolLogger(logger),
        ...(options.transport !== undefined ? { transport: (t: Transport) => options.transport?.(id, t) ?? t } : {}),
      });
      const handler =
        (await options.partyHandler?.(id, config)) ?? createPartyInboxHandler({ processor: wrap(id, party), logger, metrics });
      parties.set(id, { id, account, config, party, runner: runner(account, 'inbox', handler) });
    }

    const coordinatorConfig: CoordinatorRuntimeConfig = {
      role: 'coordinator',
      region: REGION,
      tableName: coordinatorAccount.tableName,
      masterKeyId: coordinatorAccount.masterKeyId,
      identityKeyId: coordinatorAccount.identityKeyId,
      identityAlgorithm: coordinatorAccount.identityAlgorithm,
      directory,
      queueUrls,
      emulatorAccountId: coordinatorAccount.accountId,
    };
    const { logger, metrics } = testObservability('coordinator');
    const coordinator = createCoordinator(coordinatorConfig, {
      clients: handlerClients('coordinator', coordinatorAccount),
      logger: protocolLogger(logger),
      ...(options.transport !== undefined ? { transport: (t: Transport) => options.transport?.('coordinator', t) ?? t } : {}),
    });
    const intake = testObservability('request-intake');
    const coordinatorNode: CoordinatorNode = {
      account: coordinatorAccount,
      config: coordinatorConfig,
      coordinator,
      inboxRunner: runner(coordinatorAccount, 'inbox', createCoordinatorInboxHandler({ processor: wrap('coordinator', coordinator), logger, metrics })),
      intakeRunner: runner(coordinatorAccount, 'requests', createRequestIntakeHandler({ processor: wrap('intake', coordinator), ...intake })),
      requestQueueUrl: queue(coordinatorAccount, 'requests'),
      resultQueueUrl: queueUrls.initiators[INITIATOR] ?? '',
    };

    // The initiator lives in an account of its own and writes to the request queue.
    const initiatorSqs = createAwsClients({ endpoint, region: REGION, accountId: newAccountId() }).sqs;
    const initiator = new Initiator({
      id: INITIATOR,
      vault: initiatorVault,
      transport: new SqsTransport(initiatorSqs, () => coordinatorNode.requestQueueUrl),
      clock: systemClock,
      directory,
    });
    const runners = [...[...parties.values()].map((p) => p.runner), coordinatorNode.inboxRunner, coordinatorNode.intakeRunner];
    // Pollers run for the deployment's lifetime, as the event-source mappings would;
    // run() only waits until everything has settled.
    for (const r of runners) r.start();
    return new EmulatedDeployment(parties, coordinatorNode, initiator, directory, policy, runners, vaultDir);
  }

  party(id: string): PartyNode {
    return required(this.parties.get(id));
  }

  /** Delivers messages until every queue is empty (redeliveries and dead-lettering included). */
  async run(timeoutMs = 90_000): Promise<void> {
    await drain(this.runners, { timeoutMs });
  }

  /** Every result waiting on the initiator's result queue, authenticated and checked. */
  async takeResults(): Promise<InitiatorResult[]> {
    const sqs = this.coordinator.account.clients.sqs;
    const results = this.#pending.splice(0);
    for (;;) {
      const output = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.coordinator.resultQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const messages = output.Messages ?? [];
      if (messages.length === 0) return results;
      for (const message of messages) results.push(this.initiator.openResult(message.Body ?? ''));
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.coordinator.resultQueueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
  }

  async #resultFor(session: string, type: InitiatorResult['type']): Promise<InitiatorResult[]> {
    const all = await this.takeResults();
    const mine = all.filter((r) => r.session === session && r.type === type);
    this.#pending.push(...all.filter((r) => !mine.includes(r)));
    return mine;
  }

  async keygen(options: { keyId: string; threshold: number; parties?: readonly string[] }): Promise<KeygenResultBody> {
    const session = await this.initiator.requestKeygen({ ...options, parties: options.parties ?? [...this.parties.keys()] });
    await this.run();
    const [result] = await this.#resultFor(session, 'keygen.result');
    if (result === undefined || result.type !== 'keygen.result') throw new Error(`no keygen.result for session ${session}`);
    return result.body;
  }

  /** Signs and returns every result for the session (exactly one is expected). */
  async sign(options: { keyId: string; message: Uint8Array; requestId?: string }): Promise<{ session: string; results: SignResultBody[] }> {
    const session = await this.initiator.requestSignature(options);
    await this.run();
    const results = (await this.#resultFor(session, 'sign.result')).flatMap((r) => (r.type === 'sign.result' ? [r.body] : []));
    return { session, results };
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
    await rm(this.vaultDir, { recursive: true, force: true });
  }
}

/** The party's own vault on its provisioning clients (for reading its public key, or in-test decryption). */
export function kmsVault(account: NodeAccount): KmsKeyVault {
  return new KmsKeyVault({
    client: account.clients.kms,
    masterKeyId: account.masterKeyId,
    identityKeyId: account.identityKeyId,
    identityAlgorithm: account.identityAlgorithm,
  });
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing value');
  return value;
}
