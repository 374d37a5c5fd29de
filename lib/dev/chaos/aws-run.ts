/**
 * Chaos and load on the AWS adapters against the emulator (moto): the same handlers, the
 * DynamoDB store, SQS queues with their real visibility timeouts and redrive policies, and
 * the SQS event-source runner. The fault plan goes in through the development deployment's
 * hooks (each node's transport and processor); the clock hook does not exist there, so this
 * path runs without clock skew (the local run covers it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../../adapters/aws/clients.js';
import { SqsTransport } from '../../adapters/aws/sqs-transport.js';
import { Initiator } from '../../client/initiator.js';
import { systemClock } from '../../ports/clock.js';
import { FrostlineError } from '../../ports/errors.js';
import type { ItemBackend } from '../../ports/store.js';
import type { Transport } from '../../ports/transport.js';
import { DEFAULT_LIMITS } from '../../protocol/directory.js';
import type { HandleOutcome } from '../../protocol/party.js';
import { DevDeployment } from '../dev-deployment.js';
import { startEmulator } from '../emulator.js';
import { FaultInjector } from './fault-injector.js';
import { makeFaultPlan } from './fault-plan.js';
import { snapshotShares } from './invariants.js';
import { judgeRun } from './judge-run.js';
import { CHAOS_PARTIES as PARTIES, runPhases } from './phases.js';
import { loadLevel, sessionState, type LoadOptions, type LoadRow } from './load-run.js';
import type { ChaosOptions } from './local-run.js';
import type { ChaosReport, DeadLetterCount } from './report.js';
import { ResultBook, resultSeen } from './sessions.js';


/** Uses FROSTLINE_EMULATOR_ENDPOINT when set (an emulator already running), else starts moto. */
async function withEmulator<T>(log: (line: string) => void, work: (endpoint: string) => Promise<T>): Promise<T> {
  const given = process.env.FROSTLINE_EMULATOR_ENDPOINT;
  const emulator = given !== undefined && given !== '' ? { endpoint: given, stop: async () => undefined } : await startEmulator({ log });
  try {
    return await work(emulator.endpoint);
  } finally {
    await emulator.stop();
  }
}

export async function runAwsLoad(options: LoadOptions): Promise<LoadRow[]> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 300_000;
  return withEmulator(log, async (endpoint) => {
    const keyDir = await mkdtemp(join(tmpdir(), 'frostline-load-aws-'));
    const dev = await DevDeployment.create({ endpoint, parties: ['p1', 'p2', 'p3'], keyDir });
    try {
      const client = await dev.client(undefined, { timeoutMs, pollWaitMs: 200 });
      const key = await client.keygen({ keyId: 'load', threshold: 2, parties: ['p1', 'p2', 'p3'] });
      const rows: LoadRow[] = [];
      for (const level of options.levels) {
        const requests = Math.max(level, options.minRequests ?? 20);
        log(`aws (emulator): ${requests} signatures, ${level} in flight`);
        const probe = {
          settle: (ms: number) => dev.drain(ms).catch(() => undefined),
          sessionState: (requestId: string) => sessionState(dev.coordinator.coordinator, 'app', requestId),
        };
        rows.push(await loadLevel('aws', client, { keyId: key.keyId, publicKey: key.publicKey }, level, requests, timeoutMs, probe, options.settleMs ?? 60_000));
      }
      return rows;
    } finally {
      await dev.close();
      await rm(keyDir, { recursive: true, force: true });
    }
  });
}

export async function runAwsChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  return withEmulator(log, (endpoint) => chaosOn(endpoint, options, log));
}

async function chaosOn(endpoint: string, options: ChaosOptions, log: (line: string) => void): Promise<ChaosReport> {
  const timeoutMs = options.sessionTimeoutMs ?? 180_000;
  // No clock hook on this path: every node keeps the system clock.
  const plan = makeFaultPlan({
    seed: options.seed,
    parties: PARTIES,
    nodes: [],
    limits: DEFAULT_LIMITS,
    ...(options.intensity !== undefined ? { intensity: options.intensity } : {}),
    partyDownPeriodMs: options.partyDownPeriodMs ?? 10_000,
    partyDownWindowMs: options.partyDownWindowMs ?? 1_500,
  });
  options.onPlan?.(plan);
  const injector = new FaultInjector(plan, { crashingSenders: new Set([...PARTIES, 'coordinator']), parties: new Set(PARTIES) });
  const inner = new Map<string, Transport>();
  const lastFailure = new Map<string, string>();
  const keyDir = await mkdtemp(join(tmpdir(), 'frostline-chaos-aws-'));
  const dev = await DevDeployment.create({
    endpoint,
    parties: PARTIES,
    keyDir,
    maxReceiveCount: 10,
    visibilityTimeoutSeconds: 2,
    retryVisibilitySeconds: 1,
    hooks: {
      transport: (node, transport) => {
        inner.set(node, transport);
        return {
          async send(destination, body) {
            for (const out of await injector.intercept({ from: node, destination, body })) await transport.send(destination, out);
          },
        };
      },
      processor: (node, processor) => ({
        async handle(raw) {
          let outcome: HandleOutcome | undefined;
          try {
            await injector.wrapHandler(node, async (body: string) => {
              outcome = await processor.handle(body);
            })(raw, undefined);
          } catch (error) {
            lastFailure.set(raw, error instanceof FrostlineError ? `${error.code}: ${error.message}` : error instanceof Error ? error.name : 'non-error');
            throw error;
          }
          lastFailure.delete(raw);
          if (outcome === undefined) throw new Error('processor returned nothing');
          return outcome;
        },
      }),
    },
  });
  injector.attach(async (destination, body) => {
    // The coordinator's transport reaches every queue (parties, its own inbox, result queues).
    const transport = inner.get('coordinator');
    if (transport === undefined) throw new Error('no coordinator transport');
    await transport.send(destination, body);
  });
  const wired = dev.initiator('app');
  const initiatorSqs = createAwsClients({ endpoint, region: dev.region, accountId: wired.accountId }).sqs;
  const requests = new SqsTransport(initiatorSqs, () => dev.coordinator.requestQueueUrl);
  const initiator = new Initiator({
    id: 'app',
    vault: wired.vault,
    transport: {
      async send(destination, body) {
        for (const out of await injector.intercept({ from: 'app', destination, body })) await requests.send(destination, out);
      },
    },
    clock: systemClock,
    directory: dev.directory,
  });
  const sqs = dev.coordinator.account.clients.sqs;
  const book = new ResultBook();
  let collecting = true;
  const collector = (async () => {
    while (collecting) {
      const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: wired.resultQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const message of output.Messages ?? []) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: wired.resultQueueUrl, ReceiptHandle: message.ReceiptHandle }));
        try {
          const result = initiator.openResult(message.Body ?? '');
          book.add(result.body.requestId, resultSeen(result));
        } catch {
          book.unreadable += 1;
        }
      }
    }
  })();
  let sweptStalled = 0;
  let sweeping = false; // one sweep at a time, as a scheduled function with concurrency 1
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    dev.coordinator.coordinator.expireStalled(timeoutMs).then(
      (stalled) => {
        sweptStalled += stalled.length;
        sweeping = false;
      },
      () => {
        sweeping = false;
      },
    );
  }, 5_000);
  const connection = dev.connect();
  const partyStores = new Map<string, ItemBackend>(PARTIES.map((id) => [id, connection.partyStore(id)]));
  const quiet = async () => {
    await injector.flush();
    await dev.drain(timeoutMs);
    await injector.flush();
    await dev.drain(timeoutMs);
  };

  // Clients wait past the sweep, so that a swept session is seen failing with its typed error.
  const waitMs = timeoutMs + 30_000;
  const started = performance.now();
  try {
    const { setupSeen, main, sharesBefore, durationMs } = await runPhases({
      initiator,
      options,
      book,
      waitMs,
      started,
      log,
      quiet,
      injector,
      snapshotShares: () => snapshotShares(partyStores),
    });
    return await judgeRun({
      mode: 'aws',
      seed: options.seed,
      concurrency: options.concurrency,
      durationMs,
      setupSeen,
      main,
      unreadableResults: book.unreadable,
      deliveryErrors: injector.deliveryErrors,
      faults: injector.counts,
      partyStores,
      coordinatorStore: connection.coordinatorStore(),
      sharesBefore,
      deadLetters: await awsDeadLetters(dev, lastFailure),
      sweptStalled,
      plan,
    });
  } finally {
    collecting = false;
    clearInterval(sweeper);
    await collector;
    await dev.close();
    await rm(keyDir, { recursive: true, force: true });
  }
}

/** Every dead-lettered message in the deployment, read (and left) in each node's DLQ. */
async function awsDeadLetters(dev: DevDeployment, lastFailure: ReadonlyMap<string, string>): Promise<DeadLetterCount[]> {
  const queues: Array<{ name: string; sqs: SQSClient; url: string }> = [];
  for (const [id, node] of dev.parties) for (const queue of Object.values(node.account.queues)) queues.push({ name: `${id}-dlq`, sqs: node.account.clients.sqs, url: queue.deadLetterUrl });
  for (const [role, queue] of Object.entries(dev.coordinator.account.queues)) {
    queues.push({ name: `coordinator-${role}-dlq`, sqs: dev.coordinator.account.clients.sqs, url: queue.deadLetterUrl });
  }
  const counts = new Map<string, DeadLetterCount>();
  for (const { name, sqs, url } of queues) {
    // A zero visibility timeout reads without hiding: the messages stay for an operator.
    const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    for (const message of output.Messages ?? []) {
      let type = 'unparseable';
      try {
        const parsed = JSON.parse(message.Body ?? '') as { type?: unknown };
        if (typeof parsed.type === 'string') type = parsed.type;
      } catch {
        // reported as unparseable
      }
      const why = lastFailure.get(message.Body ?? '') ?? 'unknown';
      const key = `${name}|${type}|${why}`;
      counts.set(key, { queue: name, type, why, count: (counts.get(key)?.count ?? 0) + 1 });
    }
  }
  return [...counts.values()];
}
