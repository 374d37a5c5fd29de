/**
 * Failures on the emulator: poison messages, throttling, and infrastructure failures in the
 * middle of a round. The handlers, runner and queues are the real ones; faults are injected
 * as SDK middleware (what the service would answer) or around the processor.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { AwsClients } from '../../lib/adapters/aws/clients.js';
import { createQueueWithDeadLetters } from '../../lib/dev/provision.js';
import { drain, queueDepth, SqsEventSourceRunner } from '../../lib/dev/sqs-event-source-runner.js';
import { createAwsClients } from '../../lib/adapters/aws/clients.js';
import { DynamoItemBackend } from '../../lib/adapters/aws/dynamodb-backend.js';
import { RefusalCode } from '../../lib/ports/errors.js';
import type { HandleOutcome } from '../../lib/protocol/party.js';
import { createPartyInboxHandler } from '../../lib/lambda/handlers.js';
import type { InboxProcessor } from '../../lib/lambda/inbox-handler.js';
import { MetricName } from '../../lib/lambda/observability.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { EmulatedDeployment, newAccountId, REGION, testObservability } from '../support/emulated-deployment.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');
const text = (s: string) => new TextEncoder().encode(s);

/** An error shaped like an AWS service error, as the SDK's deserializer would produce it. */
function serviceError(name: string, status: number): Error {
  return Object.assign(new Error(`injected ${name}`), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

type Fault = { command: string; error: () => Error; times: number; after?: boolean };

/**
 * Adds a fault-injecting middleware inside the SDK's retry loop (the deserialize step runs
 * within finalizeRequest's retry middleware), so each injected error is what one attempt
 * would have received. `after` lets the call reach the service first: the response is
 * lost, the effect is not.
 */
function injectFaults(clients: AwsClients, faults: Fault[], armed: () => boolean, counts: Map<string, number>): void {
  const decide = async <T>(command: string, proceed: () => Promise<T>): Promise<T> => {
    const fault = armed() ? faults.find((f) => f.command === command && f.times > 0) : undefined;
    counts.set(command, (counts.get(command) ?? 0) + 1);
    if (fault === undefined) return proceed();
    fault.times--;
    if (fault.after === true) await proceed();
    throw fault.error();
  };
  const options = { step: 'deserialize', name: 'frostlineFaultInjection', priority: 'high' } as const;
  clients.kms.middlewareStack.add((next, context) => (args) => decide(context.commandName ?? '', () => next(args)), options);
  clients.dynamodb.middlewareStack.add((next, context) => (args) => decide(context.commandName ?? '', () => next(args)), options);
  clients.sqs.middlewareStack.add((next, context) => (args) => decide(context.commandName ?? '', () => next(args)), options);
}

describe('poison messages', () => {
  it('a message that always fails ends in the DLQ after maxReceiveCount; the rest of its batch succeeds once', async () => {
    const clients = createAwsClients({ endpoint, region: REGION, accountId: newAccountId() });
    const queue = await createQueueWithDeadLetters(clients.sqs, `poison-${randomUUID()}`, { maxReceiveCount: 3, visibilityTimeoutSeconds: 2 });
    const calls = new Map<string, number>();
    const processor: InboxProcessor = {
      async handle(raw: string): Promise<HandleOutcome> {
        calls.set(raw, (calls.get(raw) ?? 0) + 1);
        if (raw === 'poison') throw new Error('this body always fails');
        if (raw === 'refuse-me') return { status: 'refused', code: RefusalCode.malformed, reason: 'test refusal' };
        return { status: 'processed', type: 'test', session: '-' };
      },
    };
    const { logger, metrics } = testObservability('poison-test');
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const warn = vi.spyOn(logger, 'warn');
    const handler = createPartyInboxHandler({ processor, logger, metrics });
    const bodies = ['good-1', 'poison', 'good-2', 'refuse-me', 'good-3', 'good-4'];
    await clients.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })) }),
    );
    const runner = new SqsEventSourceRunner({ sqs: clients.sqs, queueUrl: queue.url, handler, region: REGION, retryVisibilitySeconds: 0, onFailure: () => {} });
    await drain([runner], { timeoutMs: 30_000 });

    expect(Object.fromEntries(calls)).toEqual({ 'good-1': 1, 'good-2': 1, 'good-3': 1, 'good-4': 1, 'refuse-me': 1, poison: 3 });
    const dead = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.deadLetterUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
    );
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect(Number(dead.Messages?.[0]?.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(3);
    expect(await queueDepth(clients.sqs, queue.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    const total = (name: string) => addMetric.mock.calls.filter(([n]) => n === name).reduce((sum, [, , value]) => sum + value, 0);
    expect(total(MetricName.processed)).toBe(4);
    expect(total(MetricName.refused)).toBe(1);
    expect(total(MetricName.failed)).toBe(3);
    expect(warn.mock.calls.some(([message]) => message === 'message refused; acknowledged')).toBe(true);
  });
});

describe('throttling', () => {
  let deployment: EmulatedDeployment;
  const counts = new Map<string, number>();
  const faults: Fault[] = [
    { command: 'SignCommand', error: () => serviceError('ThrottlingException', 400), times: 2 },
    { command: 'GenerateDataKeyCommand', error: () => serviceError('ThrottlingException', 400), times: 2 },
    { command: 'TransactWriteItemsCommand', error: () => serviceError('ProvisionedThroughputExceededException', 400), times: 2 },
    { command: 'SendMessageCommand', error: () => serviceError('RequestThrottled', 400), times: 2 },
  ];
  let failures = 0;
  beforeAll(async () => {
    deployment = await EmulatedDeployment.create({
      endpoint,
      parties: ['p1', 'p2', 'p3'],
      configureClients: (node, clients) => {
        if (node === 'p2') injectFaults(clients, faults, () => true, counts);
      },
      processor: (_node, processor) => ({
        async handle(raw) {
          try {
            return await processor.handle(raw);
          } catch (error) {
            failures++;
            throw error;
          }
        },
      }),
    });
  });
  afterAll(async () => {
    await deployment?.close();
  });

  it('throttled KMS, DynamoDB and SQS calls are retried by the SDK; the rounds complete without a redelivery', async () => {
    const keygen = await deployment.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen.ok).toBe(true);
    const message = text('throttled but fine');
    const { results } = await deployment.sign({ keyId: 'k1', message });
    expect(results[0]?.ok).toBe(true);
    expect(verifyWithNodeCrypto(keygen.publicKey ?? '', message, results[0]?.signature ?? '')).toBe(true);
    expect(faults.map((f) => f.times)).toEqual([0, 0, 0, 0]); // every fault was injected...
    expect(failures).toBe(0); // ...and none reached the handler
  });
});

describe('infrastructure failures mid-round', () => {
  let deployment: EmulatedDeployment;
  let armed = false;
  const counts = new Map<string, number>();
  const faultsByNode = new Map<string, Fault[]>();
  const failures = new Map<string, number>();
  beforeAll(async () => {
    deployment = await EmulatedDeployment.create({
      endpoint,
      parties: ['p1', 'p2', 'p3'],
      configureClients: (node, clients) => {
        const faults: Fault[] =
          node === 'coordinator'
            ? // The new signing session is written, then the call fails past the SDK's retries:
              // request intake fails before sending the first round. (Regression: the
              // redelivered request was taken for a duplicate and the session hung forever.
              // A retryable 5xx hits the same path inside the SDK: its retry loses the
              // conditional create and is answered as a repeated request.)
              [{ command: 'PutItemCommand', error: () => serviceError('ValidationException', 400), times: 1, after: true }]
            : [
                // Not retryable: the SDK gives up at once and the handler fails.
                { command: 'DecryptCommand', error: () => serviceError('KMSInvalidStateException', 400), times: 1 },
                // The nonce is consumed and the share recorded, but the call reports failure.
                { command: 'TransactWriteItemsCommand', error: () => serviceError('ValidationException', 400), times: 1, after: true },
              ];
        faultsByNode.set(node, faults);
        injectFaults(clients, faults, () => armed, counts);
      },
      processor: (node, processor) => ({
        async handle(raw) {
          try {
            return await processor.handle(raw);
          } catch (error) {
            failures.set(node, (failures.get(node) ?? 0) + 1);
            throw error;
          }
        },
      }),
    });
  });
  afterAll(async () => {
    await deployment?.close();
  });

  it('a failed KMS Decrypt and lost DynamoDB responses (party and coordinator) are completed by redelivery; no nonce is used twice', async () => {
    const keygen = await deployment.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen.ok).toBe(true);
    armed = true;
    const message = text('survives failures');
    const { session, results } = await deployment.sign({ keyId: 'k1', message });
    armed = false;
    expect(results).toHaveLength(1);
    const [result] = results;
    expect(result?.ok).toBe(true);
    expect(verifyWithNodeCrypto(keygen.publicKey ?? '', message, result?.signature ?? '')).toBe(true);
    // The faults fired and were redelivered past (failures counted per handler).
    expect(faultsByNode.get('coordinator')?.[0]?.times).toBe(0);
    expect(failures.get('intake')).toBe(1);
    for (const party of result?.signers ?? []) {
      expect(faultsByNode.get(party)?.map((f) => f.times)).toEqual([0, 0]);
      expect(failures.get(party)).toBeGreaterThanOrEqual(2);
      const node = deployment.party(party);
      const items = await new DynamoItemBackend(node.account.clients.dynamodb, node.account.tableName).scanPrefix(`nonce#${session}#`);
      // Spent once, on attempt 1: the redelivered package was answered from the record.
      expect(items.map((i) => `${i.pk}/${i.sk}`)).toEqual([`nonce#${session}#1/consumed`]);
    }
    expect(await deployment.coordinator.coordinator.getSession(session)).toMatchObject({ phase: 'done', attempt: 1 });
  });
});
