/**
 * Lambda's SQS event-source mapping, reproduced in process against an emulator (tests and
 * local development): long-poll a queue, hand each batch to the real Lambda handler as a
 * real `SQSEvent`, delete what succeeded, and leave the `batchItemFailures` (or the whole
 * batch, if the handler throws) for redelivery after the visibility timeout
 * (`ReportBatchItemFailures` semantics). Dead-lettering is the queue's own RedrivePolicy:
 * moto 5.2.5 moves a message whose receive count has reached `maxReceiveCount` to the DLQ
 * on the next receive (moto/sqs/models.py `receive_message`), as SQS does, so the runner
 * does not imitate it.
 *
 * Not production code: in AWS the event-source mapping itself does all this.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { FrostlineError } from '../ports/errors.js';

/** A Lambda handler for SQS events, as `functions/*` export it. */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface SqsEventSourceRunnerOptions {
  /** A client that can receive from and delete on the queue (the owner's account). */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsBatchHandler;
  /** The region written into each record's `awsRegion`. */
  readonly region: string;
  /** @default the queue's name */
  readonly functionName?: string;
  /**
   * Messages per invocation (the mapping's BatchSize, at most 10 for one receive).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Long-poll wait per receive. Short, so that stopping and draining are quick.
   * @default 1
   */
  readonly waitTimeSeconds?: number;
  /**
   * Visibility timeout given to failed messages, so that tests need not wait for the
   * queue's own. Lambda does not do this (a failed message stays invisible for the queue's
   * VisibilityTimeout); leave unset to keep that behaviour.
   */
  readonly retryVisibilitySeconds?: number;
  /**
   * What `context.getRemainingTimeInMillis()` counts down from (the function timeout);
   * middy times the handler out just before it.
   * @default 30000
   */
  readonly functionTimeoutMs?: number;
  /** Told about each failed record (it is redelivered regardless). @default one line on stderr */
  readonly onFailure?: (failure: RecordFailure) => void;
}

export interface RecordFailure {
  readonly queueUrl: string;
  readonly messageId: string;
  readonly receiveCount: number;
  /** Why: `batch-item-failure`, `handler-threw: <error name>` or `invalid-response`. */
  readonly reason: string;
}

export interface PollResult {
  readonly received: number;
  readonly succeeded: number;
  readonly failed: number;
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export class SqsEventSourceRunner {
  readonly queueUrl: string;
  readonly #options: SqsEventSourceRunnerOptions;
  readonly #batchSize: number;
  readonly #waitTimeSeconds: number;
  #queueArn: Promise<string> | undefined;
  /** True from the moment a receive returned messages until they are deleted or released. */
  #busy = false;
  /** Counts batches received; drain() uses it to notice work that happened between its checks. */
  #batches = 0;
  #loop: Promise<void> | undefined;
  #stopping = false;

  constructor(options: SqsEventSourceRunnerOptions) {
    const batchSize = options.batchSize ?? 10;
    const wait = options.waitTimeSeconds ?? 1;
    const problems: string[] = [];
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) problems.push('batchSize must be 1..10');
    if (!Number.isInteger(wait) || wait < 0 || wait > 20) problems.push('waitTimeSeconds must be 0..20');
    const retry = options.retryVisibilitySeconds;
    if (retry !== undefined && (!Number.isInteger(retry) || retry < 0 || retry > 43_200)) {
      problems.push('retryVisibilitySeconds must be 0..43200');
    }
    if (problems.length > 0) throw new FrostlineError('invalid-argument', `SqsEventSourceRunner: ${problems.join('; ')}`);
    this.queueUrl = options.queueUrl;
    this.#options = options;
    this.#batchSize = batchSize;
    this.#waitTimeSeconds = wait;
  }

  get busy(): boolean {
    return this.#busy;
  }

  get batches(): number {
    return this.#batches;
  }

  get running(): boolean {
    return this.#loop !== undefined;
  }

  /** Receives one batch (long poll), invokes the handler, settles every message. */
  async pollOnce(): Promise<PollResult> {
    const queueArn = await this.#arn();
    const output = await this.#options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: this.#batchSize,
        WaitTimeSeconds: this.#waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages: Message[] = output.Messages ?? [];
    if (messages.length === 0) return { received: 0, succeeded: 0, failed: 0 };

    this.#busy = true;
    this.#batches++;
    try {
      const records = messages.map((message) => this.#record(message, queueArn));
      const failedIds = await this.#invoke(records);
      const succeeded = records.filter((record) => !failedIds.has(record.messageId));
      const failed = records.filter((record) => failedIds.has(record.messageId));
      await this.#delete(succeeded);
      await this.#release(failed);
      return { received: records.length, succeeded: succeeded.length, failed: failed.length };
    } finally {
      this.#busy = false;
    }
  }

  /** Polls continuously in the background until `stop()`. */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopping = false;
    this.#loop = (async () => {
      while (!this.#stopping) {
        try {
          await this.pollOnce();
        } catch (error) {
          // A failed receive or delete (emulator restarting, throttling): report, pause, go on,
          // as the event-source mapping does.
          process.stderr.write(`[frostline runner] ${queueName(this.queueUrl)}: poll failed: ${describe(error)}\n`);
          await sleep(200);
        }
      }
    })();
  }

  /**
   * Stops polling after the outstanding long poll returns (at most about
   * `waitTimeSeconds` + 1 s) and its messages are settled. It is not aborted: the server
   * would go on waiting and hand the next message to a client that is gone, which then
   * stays invisible for a whole visibility timeout.
   */
  async stop(): Promise<void> {
    const loop = this.#loop;
    if (loop === undefined) return;
    this.#stopping = true;
    await loop;
    this.#loop = undefined;
  }

  async depth(): Promise<QueueDepth> {
    return queueDepth(this.#options.sqs, this.queueUrl);
  }

  #arn(): Promise<string> {
    this.#queueArn ??= (async () => {
      const output = await this.#options.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['QueueArn'] }),
      );
      const arn = output.Attributes?.QueueArn;
      if (arn === undefined) throw new FrostlineError('invalid-argument', `queue ${this.queueUrl} has no QueueArn`);
      return arn;
    })().catch((error: unknown) => {
      this.#queueArn = undefined;
      throw error;
    });
    return this.#queueArn;
  }

  #record(message: Message, queueArn: string): SQSRecord {
    const a = message.Attributes ?? {};
    const now = String(Date.now());
    const attributes: SQSRecord['attributes'] = {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? now,
      SenderId: a.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? now,
    };
    if (a.AWSTraceHeader !== undefined) attributes.AWSTraceHeader = a.AWSTraceHeader;
    if (a.SequenceNumber !== undefined) attributes.SequenceNumber = a.SequenceNumber;
    if (a.MessageGroupId !== undefined) attributes.MessageGroupId = a.MessageGroupId;
    if (a.MessageDeduplicationId !== undefined) attributes.MessageDeduplicationId = a.MessageDeduplicationId;
    if (a.DeadLetterQueueSourceArn !== undefined) attributes.DeadLetterQueueSourceArn = a.DeadLetterQueueSourceArn;
    const messageAttributes: SQSMessageAttributes = {};
    for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
      messageAttributes[name] = {
        dataType: value.DataType ?? 'String',
        // Lambda's event carries binary attributes base64-encoded, and the list fields empty.
        ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
        stringListValues: [],
        binaryListValues: [],
      };
    }
    if (message.MessageId === undefined || message.ReceiptHandle === undefined) {
      throw new FrostlineError('malformed', 'ReceiveMessage returned a message without id or receipt handle');
    }
    return {
      messageId: message.MessageId,
      receiptHandle: message.ReceiptHandle,
      body: message.Body ?? '',
      attributes,
      messageAttributes,
      md5OfBody: message.MD5OfBody ?? '',
      ...(message.MD5OfMessageAttributes !== undefined ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: this.#options.region,
    };
  }

  /** Runs the handler; returns the ids of the records to redeliver. */
  async #invoke(records: SQSRecord[]): Promise<Set<string>> {
    const all = new Set(records.map((record) => record.messageId));
    let response: SQSBatchResponse | void;
    try {
      response = await this.#options.handler({ Records: records }, this.#context());
    } catch (error) {
      // A thrown error fails the whole batch, as in Lambda.
      this.#report(records, `handler-threw: ${describe(error)}`);
      return all;
    }
    if (response === undefined || response === null) return new Set();
    const failures = Array.isArray(response.batchItemFailures) ? response.batchItemFailures : undefined;
    // Lambda treats an unparsable response, or an identifier that is empty or not in the
    // batch, as a failure of the whole batch.
    if (failures === undefined || failures.some((f) => typeof f.itemIdentifier !== 'string' || !all.has(f.itemIdentifier))) {
      this.#report(records, 'invalid-response');
      return all;
    }
    const failed = new Set(failures.map((f) => f.itemIdentifier));
    this.#report(records.filter((record) => failed.has(record.messageId)), 'batch-item-failure');
    return failed;
  }

  #context(): Context {
    const functionName = this.#options.functionName ?? queueName(this.queueUrl);
    const deadline = Date.now() + (this.#options.functionTimeoutMs ?? 30_000);
    const region = this.#options.region;
    const unsupported = () => {
      throw new Error('the deprecated done/fail/succeed callbacks are not supported');
    };
    return {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `local/${randomUUID()}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }

  async #delete(records: readonly SQSRecord[]): Promise<void> {
    for (const chunk of chunks(records, 10)) {
      const output = await this.#options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
        }),
      );
      for (const failure of output.Failed ?? []) {
        // The message comes back after its visibility timeout; handlers are idempotent.
        process.stderr.write(`[frostline runner] ${queueName(this.queueUrl)}: delete failed (${String(failure.Code)}); it will be redelivered\n`);
      }
    }
  }

  async #release(records: readonly SQSRecord[]): Promise<void> {
    const timeout = this.#options.retryVisibilitySeconds;
    if (timeout === undefined || records.length === 0) return;
    for (const chunk of chunks(records, 10)) {
      await this.#options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle, VisibilityTimeout: timeout })),
        }),
      );
    }
  }

  #report(records: readonly SQSRecord[], reason: string): void {
    const onFailure = this.#options.onFailure ?? writeFailure;
    for (const record of records) {
      onFailure({
        queueUrl: this.queueUrl,
        messageId: record.messageId,
        receiveCount: Number(record.attributes.ApproximateReceiveCount),
        reason,
      });
    }
  }
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const output = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const count = (name: string) => Number(output.Attributes?.[name as keyof typeof output.Attributes] ?? '0');
  return {
    visible: count('ApproximateNumberOfMessages'),
    inFlight: count('ApproximateNumberOfMessagesNotVisible'),
    delayed: count('ApproximateNumberOfMessagesDelayed'),
  };
}

export interface DrainOptions {
  /** Give up after this long, naming the queues that still hold messages. */
  readonly timeoutMs: number;
  /** @default 100 */
  readonly checkIntervalMs?: number;
}

/**
 * Runs the runners until every queue is empty: nothing visible, delayed or in flight, no
 * handler running, and no batch received while that was being checked (a handler may have
 * sent to a queue that was already counted). Runners that were not running are started for
 * the drain and stopped again before it returns; failing messages are retried meanwhile,
 * and persistent failures end in their dead-letter queues, which are not drained.
 */
export async function drain(runners: readonly SqsEventSourceRunner[], options: DrainOptions): Promise<void> {
  const started = runners.filter((runner) => !runner.running);
  for (const runner of started) runner.start();
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.checkIntervalMs ?? 100;
  try {
    for (;;) {
      if (await quiet(runners)) return;
      if (Date.now() > deadline) {
        const depths = await Promise.all(runners.map(async (runner) => ({ runner, depth: await runner.depth() })));
        const busy = depths
          .filter(({ runner, depth }) => runner.busy || depth.visible + depth.inFlight + depth.delayed > 0)
          .map(({ runner, depth }) => `${queueName(runner.queueUrl)} (visible ${depth.visible}, in flight ${depth.inFlight}, delayed ${depth.delayed})`);
        throw new FrostlineError('drain-timeout', `queues not drained after ${options.timeoutMs} ms: ${busy.join(', ') || 'handlers still running'}`);
      }
      await sleep(interval);
    }
  } finally {
    await Promise.all(started.map((runner) => runner.stop()));
  }
}

async function quiet(runners: readonly SqsEventSourceRunner[]): Promise<boolean> {
  if (runners.some((runner) => runner.busy)) return false;
  const before = runners.map((runner) => runner.batches);
  const depths = await Promise.all(runners.map((runner) => runner.depth()));
  if (depths.some((depth) => depth.visible + depth.inFlight + depth.delayed > 0)) return false;
  return runners.every((runner, i) => !runner.busy && runner.batches === before[i]);
}

function queueName(queueUrl: string): string {
  return queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
}

function describe(error: unknown): string {
  // Name, code and message of our own errors (they carry no secrets); only the name otherwise.
  if (error instanceof FrostlineError) return `${error.name} (${error.code}): ${error.message}`;
  return error instanceof Error ? error.name : 'non-error value';
}

function writeFailure(failure: RecordFailure): void {
  process.stderr.write(
    `[frostline runner] ${queueName(failure.queueUrl)}: message ${failure.messageId} failed on receive ${failure.receiveCount} (${failure.reason}); left for redelivery\n`,
  );
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
