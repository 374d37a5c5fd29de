/**
 * The AWS call meter's attribution by work (lib/dev/aws-call-meter.ts) and the bench's
 * amortisation of refills (bench/aws.ts `amortised`), without an emulator: SDK calls are
 * answered by a middleware before anything is sent.
 */
import { createHash } from 'node:crypto';
import { DecryptCommand } from '@aws-sdk/client-kms';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { amortised, REFILL_WORK } from '../../../bench/aws.js';
import { createAwsClients, type AwsClients } from '../../../lib/adapters/aws/clients.js';
import { AwsCallMeter, emptyUsage, OUTSIDE_HANDLERS, type NodeUsage } from '../../../lib/dev/aws-call-meter.js';
import type { InboxProcessor } from '../../../lib/lambda/inbox-handler.js';
import { MessageType } from '../../../lib/protocol/messages.js';

/** Clients whose every call returns an empty output at once (the meter counts at `initialize`, before this). */
function offlineClients(): AwsClients {
  const clients = createAwsClients({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', accountId: '111111111111' });
  // SQS checks the MD5 of a sent body in the answer.
  const answer = () => async (args: { input: { MessageBody?: unknown } }) => ({
    output: { $metadata: {}, ...(typeof args.input.MessageBody === 'string' ? { MD5OfMessageBody: createHash('md5').update(args.input.MessageBody).digest('hex') } : {}) },
    response: {},
  });
  for (const client of [clients.kms, clients.dynamodb, clients.sqs]) {
    (client.middlewareStack.add as unknown as (m: typeof answer, o: object) => void)(answer, { step: 'build', name: 'offlineAnswer' });
  }
  return clients;
}

/** A well-formed-looking envelope of `type` (the meter only peeks at its routing fields). */
function envelope(type: string, id: string): string {
  return JSON.stringify({ type, session: 'ab'.repeat(16), id: id.repeat(32).slice(0, 32), from: 'p1', to: 'coordinator', body: {} });
}

describe('AwsCallMeter: calls counted by the message type being handled', () => {
  it('splits a node\'s calls by handled type, moves sends of the listed types to the type sent, and keeps the totals', async () => {
    const meter = new AwsCallMeter({ sendsCountAs: [MessageType.poolRefill] });
    const clients = offlineClients();
    meter.instrument('coordinator', clients);
    const get = () => clients.dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' }, sk: { S: 'b' } } }));
    const sendOf = (type: string, id: string) => clients.sqs.send(new SendMessageCommand({ QueueUrl: 'http://127.0.0.1:9/q', MessageBody: envelope(type, id) }));
    const processor: InboxProcessor = {
      async handle(raw) {
        const type = (JSON.parse(raw) as { type: string }).type;
        await get();
        if (type === MessageType.signRequest) {
          await sendOf(MessageType.signCommit, 'a'); // the signature's own work
          await sendOf(MessageType.poolRefill, 'b'); // refill work, though sent while handling the request
        }
        if (type === MessageType.poolBatch) await get();
        return { status: 'processed', type, session: 'ab'.repeat(16) };
      },
    };
    const wrapped = meter.wrap('coordinator', processor);
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: 'http://127.0.0.1:9/q', MessageBody: envelope(MessageType.signRequest, 'c') }));
    await wrapped.handle(envelope(MessageType.signRequest, 'c'));
    await wrapped.handle(envelope(MessageType.poolBatch, 'd'));

    const work = (type: string) => meter.byWork.get(type)?.get('coordinator');
    expect(work(OUTSIDE_HANDLERS)?.calls).toEqual({ kms: {}, dynamodb: {}, sqs: { SendMessage: 1 } });
    expect(work(MessageType.signRequest)?.calls).toEqual({ kms: {}, dynamodb: { GetItem: 1 }, sqs: { SendMessage: 1 } });
    expect(work(MessageType.signRequest)?.invocations).toBe(1);
    expect(work(MessageType.poolRefill)?.calls).toEqual({ kms: {}, dynamodb: {}, sqs: { SendMessage: 1 } });
    expect(work(MessageType.poolRefill)?.invocations).toBe(0);
    expect(work(MessageType.poolBatch)?.calls).toEqual({ kms: {}, dynamodb: { GetItem: 2 }, sqs: {} });
    expect(work(MessageType.poolBatch)?.invocations).toBe(1);
    // Every call is in the node's totals once.
    expect(meter.nodes.get('coordinator')?.calls).toEqual({ kms: {}, dynamodb: { GetItem: 3 }, sqs: { SendMessage: 3 } });
    expect(meter.nodes.get('coordinator')?.invocations).toBe(2);
    // Hop depths still follow the handled message: the request (depth 1) led to depth-2 sends.
    expect(meter.depthOf(envelope(MessageType.signCommit, 'a'))).toBe(2);
    meter.reset();
    expect(meter.byWork.size).toBe(0);
    expect(meter.nodes.size).toBe(0);
  });

  it('counts a party\'s KMS call towards the message it handles', async () => {
    const meter = new AwsCallMeter();
    const clients = offlineClients();
    meter.instrument('p1', clients);
    const wrapped = meter.wrap('p1', {
      async handle() {
        await clients.kms.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(8) }));
        return { status: 'processed', type: MessageType.poolRefill, session: 'ab'.repeat(16) };
      },
    });
    await wrapped.handle(envelope(MessageType.poolRefill, 'e'));
    expect(meter.byWork.get(MessageType.poolRefill)?.get('p1')?.calls.kms).toEqual({ Decrypt: 1 });
    expect(REFILL_WORK.has(MessageType.poolRefill) && REFILL_WORK.has(MessageType.poolBatch)).toBe(true);
  });
});

describe('amortised: a steady signature plus its share of the refills', () => {
  const usage = (kms: number, sends: number): NodeUsage => ({ ...emptyUsage(), calls: { kms: { Decrypt: kms }, dynamodb: {}, sqs: { SendMessage: sends } } });

  it('adds refill per batch × threshold / batchSize to the mean steady signature, per node', () => {
    const steady = [
      { hops: 4, latencyMs: 100, nodes: new Map([['p1', usage(1, 1)]]) },
      { hops: 4, latencyMs: 300, nodes: new Map([['p1', usage(1, 1)], ['p2', usage(1, 1)]]) },
    ];
    // Two batches: 2 Decrypt and 4 sends in all, so 1 Decrypt and 2 sends per batch.
    const refill = { nodes: new Map([['p1', usage(2, 4)]]), batches: 2 };
    const run = amortised(steady, refill, 2, 32);
    expect(run.hops).toBe(4);
    expect(run.latencyMs).toBe(200);
    expect(run.nodes.get('p1')?.calls).toEqual({ kms: { Decrypt: 1 + 2 / 32 }, dynamodb: {}, sqs: { SendMessage: 1 + (2 * 2) / 32 } });
    expect(run.nodes.get('p2')?.calls).toEqual({ kms: { Decrypt: 0.5 }, dynamodb: {}, sqs: { SendMessage: 0.5 } });
  });

  it('is the steady signature when no batch was made (pools off or not built)', () => {
    const steady = [{ hops: 6, latencyMs: 100, nodes: new Map([['p1', usage(2, 3)]]) }];
    expect(amortised(steady, { nodes: new Map(), batches: 0 }, 2, 32).nodes.get('p1')?.calls).toEqual(usage(2, 3).calls);
  });
});
