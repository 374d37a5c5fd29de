/**
 * The emulator deployment of the integration tests: a thin layer over `DevDeployment`
 * (lib/dev/dev-deployment.ts) that adds what tests want on top — one initiator
 * (`app`) driven at the protocol level, synchronous `keygen`/`sign` that drain every queue
 * before returning, and quiet handlers. What `LocalCluster` is for the embedded default,
 * this is for the AWS adapters.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../lib/adapters/aws/clients.js';
import { createAwsClients } from '../../lib/adapters/aws/clients.js';
import {
  DEV_REGION,
  DevDeployment,
  type DevCoordinatorNode,
  type DevDeploymentHooks,
  type DevLogLevel,
  type DevPartyNode,
  newEmulatorAccountId,
  nodeKmsVault,
} from '../../lib/dev/dev-deployment.js';
import type { NodeAccount } from '../../lib/dev/provision.js';
import type { SqsBatchHandler } from '../../lib/dev/sqs-event-source-runner.js';
import type { KmsKeyVault } from '../../lib/adapters/aws/kms-key-vault.js';
import { SqsTransport } from '../../lib/adapters/aws/sqs-transport.js';
import { Initiator, type InitiatorResult } from '../../lib/client/initiator.js';
import type { PartyRuntimeConfig } from '../../lib/config/runtime.js';
import { systemClock } from '../../lib/ports/clock.js';
import type { Transport } from '../../lib/ports/transport.js';
import type { Directory } from '../../lib/protocol/directory.js';
import type { KeygenResultBody, SignResultBody } from '../../lib/protocol/messages.js';
import type { PartyPolicy } from '../../lib/protocol/requests.js';
import type { InboxProcessor } from '../../lib/lambda/inbox-handler.js';
import { METRICS_NAMESPACE } from '../../lib/lambda/observability.js';

export const REGION = DEV_REGION;
export const INITIATOR = 'app';
export const newAccountId = newEmulatorAccountId;

/** Handlers log at this level in tests (FROSTLINE_TEST_LOG_LEVEL=INFO to see every outcome). */
const LOG_LEVEL = (process.env.FROSTLINE_TEST_LOG_LEVEL ?? 'SILENT') as DevLogLevel;

export function testObservability(service: string): { logger: Logger; metrics: Metrics } {
  return {
    logger: new Logger({ serviceName: service, logLevel: LOG_LEVEL }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }),
  };
}

export interface DeploymentOptions {
  readonly endpoint: string;
  readonly parties: readonly string[];
  /** @default 3 */
  readonly maxReceiveCount?: number;
  /** How soon a failed message is retried (the runner shortens its visibility). @default 0 */
  readonly retryVisibilitySeconds?: number;
  readonly configureClients?: (node: string, clients: AwsClients) => void;
  readonly transport?: (node: string, transport: Transport) => Transport;
  readonly processor?: (node: string, processor: InboxProcessor) => InboxProcessor;
  readonly partyHandler?: (id: string, config: PartyRuntimeConfig) => Promise<SqsBatchHandler | undefined>;
}

export type PartyNode = DevPartyNode;
export type CoordinatorNode = DevCoordinatorNode & { readonly resultQueueUrl: string };

export class EmulatedDeployment {
  readonly #pending: InitiatorResult[] = [];
  readonly coordinator: CoordinatorNode;

  private constructor(
    readonly dev: DevDeployment,
    readonly initiator: Initiator,
    private readonly keyDir: string,
  ) {
    this.coordinator = { ...dev.coordinator, resultQueueUrl: dev.initiator(INITIATOR).resultQueueUrl };
  }

  static async create(options: DeploymentOptions): Promise<EmulatedDeployment> {
    const keyDir = await mkdtemp(join(tmpdir(), 'frostline-initiator-'));
    const hooks: DevDeploymentHooks = {
      ...(options.configureClients !== undefined ? { configureClients: options.configureClients } : {}),
      ...(options.transport !== undefined ? { transport: options.transport } : {}),
      ...(options.processor !== undefined ? { processor: options.processor } : {}),
      ...(options.partyHandler !== undefined ? { partyHandler: options.partyHandler } : {}),
    };
    const dev = await DevDeployment.create({
      endpoint: options.endpoint,
      parties: options.parties,
      initiators: [INITIATOR],
      keyDir,
      logLevel: LOG_LEVEL,
      hooks,
      ...(options.maxReceiveCount !== undefined ? { maxReceiveCount: options.maxReceiveCount } : {}),
      ...(options.retryVisibilitySeconds !== undefined ? { retryVisibilitySeconds: options.retryVisibilitySeconds } : {}),
    });
    // The initiator lives in an account of its own and writes to the request queue.
    const initiatorSqs = createAwsClients({ endpoint: options.endpoint, region: REGION, accountId: dev.initiator(INITIATOR).accountId }).sqs;
    const initiator = new Initiator({
      id: INITIATOR,
      vault: dev.initiator(INITIATOR).vault,
      transport: new SqsTransport(initiatorSqs, () => dev.coordinator.requestQueueUrl),
      clock: systemClock,
      directory: dev.directory,
    });
    return new EmulatedDeployment(dev, initiator, keyDir);
  }

  get parties(): ReadonlyMap<string, PartyNode> {
    return this.dev.parties;
  }

  get directory(): Directory {
    return this.dev.directory;
  }

  get policy(): PartyPolicy {
    return this.dev.policy;
  }

  party(id: string): PartyNode {
    return this.dev.party(id);
  }

  /** Delivers messages until every queue is empty (redeliveries and dead-lettering included). */
  async run(timeoutMs = 180_000): Promise<void> {
    await this.dev.drain(timeoutMs);
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
    await this.dev.close();
    await rm(this.keyDir, { recursive: true, force: true });
  }
}

/** The node's own vault on its provisioning clients (for reading its public key, or in-test decryption). */
export function kmsVault(account: NodeAccount): KmsKeyVault {
  return nodeKmsVault(account);
}
