/**
 * Lambda's SQS event-source mapping, in process: receive a batch, run the handler on each
 * message, delete the ones that succeeded and leave the failures in flight so that they come
 * back after the visibility timeout (the `ReportBatchItemFailures` behaviour). Redelivery and
 * dead-lettering therefore happen exactly as they would in AWS, just sooner.
 */
import type { Clock } from '../../ports/clock.js';
import { FrostlineError } from '../../ports/errors.js';
import type { LocalQueue } from './queue.js';

/** Processes one message body; throwing leaves the message for redelivery. */
export type MessageHandler = (body: string, context: { messageId: string; receiveCount: number }) => Promise<void>;

/** Told about each failed delivery; the message itself is redelivered regardless. */
export type DeliveryErrorListener = (
  error: unknown,
  context: { queue: string; messageId: string; receiveCount: number },
) => void;

export interface LocalEventSourceOptions {
  /**
   * Messages per receive (Lambda's BatchSize).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Called when the handler throws, so failures are visible rather than silently retried.
   * @default a one-line warning on stderr naming the queue, message id and error
   */
  readonly onError?: DeliveryErrorListener;
}

export class LocalEventSource {
  private readonly batchSize: number;
  private readonly onError: DeliveryErrorListener;

  constructor(
    readonly queue: LocalQueue,
    private readonly handler: MessageHandler,
    options?: LocalEventSourceOptions,
  ) {
    const batchSize = options?.batchSize ?? 10;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new FrostlineError('invalid-argument', `batchSize must be a positive integer, got ${batchSize}`);
    }
    this.batchSize = batchSize;
    this.onError = options?.onError ?? warnOnStderr;
  }

  /**
   * Receives one batch and runs the handler on each message in order. Returns how many
   * messages were handed to the handler (succeeded or not); 0 means nothing was visible.
   */
  async pollOnce(): Promise<number> {
    const batch = this.queue.receive(this.batchSize);
    for (const message of batch) {
      const context = { messageId: message.messageId, receiveCount: message.receiveCount };
      try {
        await this.handler(message.body, context);
      } catch (error) {
        this.onError(error, { queue: this.queue.name, ...context });
        continue;
      }
      this.queue.delete(message.receiptHandle);
    }
    return batch.length;
  }
}

export interface DrainOptions {
  /** Measures `timeoutMs`, and decides visibility through the queues' own clocks. */
  readonly clock: Clock;
  /**
   * Longest single wait while every remaining message is in flight.
   * @default 100
   */
  readonly idleWaitMs?: number;
  /** Give up after this long (by `clock`), naming the queues that are still busy. */
  readonly timeoutMs: number;
  /**
   * How to wait. With a fake clock, pass one that advances the clock.
   * @default a real setTimeout
   */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Polls every source until all their queues are empty: nothing visible and nothing in
 * flight. Sources are polled round-robin, one batch each per pass, so a queue whose handlers
 * keep feeding another cannot starve it. When only in-flight messages remain, sleeps until
 * the earliest becomes visible again (at most `idleWaitMs` at a time).
 */
export async function drainAll(sources: readonly LocalEventSource[], options: DrainOptions): Promise<void> {
  const { clock, timeoutMs } = options;
  const idleWaitMs = options.idleWaitMs ?? 100;
  const sleep = options.sleep ?? realSleep;
  const started = clock.now();

  for (;;) {
    let delivered = 0;
    for (const source of sources) delivered += await source.pollOnce();

    const busy = sources.filter((source) => {
      const { visible, inFlight } = source.queue.stats();
      return visible + inFlight > 0;
    });
    if (busy.length === 0) return;
    checkDeadline(busy, clock, started, timeoutMs);
    // Visible but not delivered happens when a receive moved poison messages to a
    // dead-letter queue; either way there is work to do now, not after a sleep.
    if (delivered > 0 || busy.some((source) => source.queue.stats().visible > 0)) continue;

    const now = clock.now();
    let earliest: number | undefined;
    for (const source of busy) {
      const at = source.queue.nextVisibleAt();
      if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    }
    const wait = earliest === undefined ? idleWaitMs : Math.min(Math.max(earliest - now, 1), idleWaitMs);
    await sleep(wait);
  }
}

function checkDeadline(busy: readonly LocalEventSource[], clock: Clock, started: number, timeoutMs: number): void {
  if (clock.now() - started <= timeoutMs) return;
  const names = busy.map((source) => {
    const { visible, inFlight } = source.queue.stats();
    return `${source.queue.name} (visible ${visible}, in flight ${inFlight})`;
  });
  throw new FrostlineError('drain-timeout', `queues not drained after ${timeoutMs} ms: ${names.join(', ')}`);
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function warnOnStderr(error: unknown, context: { queue: string; messageId: string; receiveCount: number }): void {
  // Name and code only: FrostlineError messages carry no secrets, but other errors might.
  const what =
    error instanceof FrostlineError ? `${error.name} (${error.code}): ${error.message}` : error instanceof Error ? error.name : 'non-error value';
  process.stderr.write(
    `[frostline] ${context.queue}: message ${context.messageId} failed on receive ${context.receiveCount}: ${what}\n`,
  );
}
