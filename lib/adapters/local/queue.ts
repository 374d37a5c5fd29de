/**
 * An in-process queue with the SQS standard-queue semantics the handlers depend on:
 * at-least-once delivery, a visibility timeout after each receive, receipt handles that go
 * stale on the next receive, an approximate receive count, and redrive to a dead-letter
 * queue after `maxReceiveCount` receives. Time comes from the injected clock, so tests can
 * step past a visibility timeout instead of waiting for it.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../ports/clock.js';
import { ConfigError, FrostlineError } from '../../ports/errors.js';

export interface LocalQueueOptions {
  readonly clock: Clock;
  /** How long a received message stays hidden before it is delivered again. */
  readonly visibilityTimeoutMs: number;
  /** Receives allowed before a message is moved to `deadLetterQueue` (SQS redrive policy). */
  readonly maxReceiveCount: number;
  /** Where poison messages go. Without one they stay and keep being redelivered. */
  readonly deadLetterQueue?: LocalQueue;
}

export interface LocalQueueMessage {
  readonly messageId: string;
  /** Valid until the message is received again; deleting needs the current handle. */
  readonly receiptHandle: string;
  readonly body: string;
  /** ApproximateReceiveCount: 1 on first delivery. */
  readonly receiveCount: number;
  /** Epoch milliseconds when the message was first sent (kept across redrive). */
  readonly sentTimestamp: number;
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentTimestamp: number;
  receiveCount: number;
  /** Epoch ms from which the message may be received; `<= now` means visible. */
  visibleAt: number;
  receiptHandle: string | undefined;
}

export class LocalQueue {
  /** In send order; a message keeps its place while in flight, so redeliveries come first. */
  private readonly messages = new Map<string, StoredMessage>();
  /** Current receipt handle -> message id: delete and changeVisibility are O(1), not a scan (1,000 in flight made that quadratic). */
  private readonly handles = new Map<string, string>();
  /** Woken when a message may have become receivable (sent, redriven in, or made visible again). */
  private readonly listeners = new Set<() => void>();
  private readonly clock: Clock;
  /** How long a receive hides a message (consumers renew it while they work on one). */
  readonly visibilityTimeoutMs: number;
  private readonly maxReceiveCount: number;
  private readonly deadLetterQueue: LocalQueue | undefined;

  constructor(
    readonly name: string,
    options: LocalQueueOptions,
  ) {
    const problems: string[] = [];
    if (!Number.isFinite(options.visibilityTimeoutMs) || options.visibilityTimeoutMs < 0) {
      problems.push('visibilityTimeoutMs must be a non-negative number');
    }
    if (!Number.isSafeInteger(options.maxReceiveCount) || options.maxReceiveCount < 1) {
      problems.push('maxReceiveCount must be an integer >= 1');
    }
    if (options.deadLetterQueue === this) problems.push('a queue cannot be its own dead-letter queue');
    if (problems.length > 0) throw new ConfigError(`queue ${name}: ${problems.join('; ')}`);
    this.clock = options.clock;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs;
    this.maxReceiveCount = options.maxReceiveCount;
    this.deadLetterQueue = options.deadLetterQueue;
  }

  /** Enqueues `body`, visible at once; returns its message id. */
  send(body: string): string {
    const messageId = randomUUID();
    this.messages.set(messageId, {
      messageId,
      body,
      sentTimestamp: this.clock.now(),
      receiveCount: 0,
      visibleAt: this.clock.now(),
      receiptHandle: undefined,
    });
    this.notify();
    return messageId;
  }

  /**
   * Calls `listener` whenever a message is sent or made visible at once, so a consumer can
   * wait for work instead of polling on a timer. Visibility timeouts that run out are not
   * signalled (no timers here: time is the injected clock's); consumers use `nextVisibleAt`.
   * Returns the unsubscribe function.
   */
  onActivity(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Up to `maxMessages` visible messages, each hidden for the visibility timeout and given
   * a fresh receipt handle. A message that would exceed `maxReceiveCount` is moved to the
   * dead-letter queue instead of being delivered, as SQS redrive does.
   */
  receive(maxMessages: number): LocalQueueMessage[] {
    if (!Number.isSafeInteger(maxMessages) || maxMessages < 1) {
      throw new FrostlineError('invalid-argument', `maxMessages must be a positive integer, got ${maxMessages}`);
    }
    const now = this.clock.now();
    const received: LocalQueueMessage[] = [];
    for (const message of this.messages.values()) {
      if (received.length >= maxMessages) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= this.maxReceiveCount && this.deadLetterQueue !== undefined) {
        // Deleting from a Map while iterating it is safe: iteration skips removed entries.
        this.forget(message);
        this.deadLetterQueue.accept(message);
        continue;
      }
      message.receiveCount += 1;
      if (message.receiptHandle !== undefined) this.handles.delete(message.receiptHandle); // the old handle goes stale
      message.receiptHandle = randomUUID();
      this.handles.set(message.receiptHandle, message.messageId);
      message.visibleAt = now + this.visibilityTimeoutMs;
      received.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        receiveCount: message.receiveCount,
        sentTimestamp: message.sentTimestamp,
      });
    }
    return received;
  }

  /** Deletes the message if `receiptHandle` is its latest one; a stale handle returns false. */
  delete(receiptHandle: string): boolean {
    const message = this.byHandle(receiptHandle);
    if (message === undefined) return false;
    this.forget(message);
    return true;
  }

  /**
   * Hides an in-flight message for `timeoutMs` from now (0 makes it visible at once).
   * Returns false for a stale handle or a message no longer in flight, where SQS errors.
   */
  changeVisibility(receiptHandle: string, timeoutMs: number): boolean {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new FrostlineError('invalid-argument', `timeoutMs must be a non-negative number, got ${timeoutMs}`);
    }
    const message = this.byHandle(receiptHandle);
    const now = this.clock.now();
    if (message === undefined || message.visibleAt <= now) return false;
    message.visibleAt = now + timeoutMs;
    if (timeoutMs === 0) this.notify();
    return true;
  }

  stats(): { visible: number; inFlight: number } {
    const now = this.clock.now();
    let visible = 0;
    let inFlight = 0;
    for (const message of this.messages.values()) {
      if (message.visibleAt <= now) visible += 1;
      else inFlight += 1;
    }
    return { visible, inFlight };
  }

  /** The earliest time an in-flight message becomes visible again; undefined if none is in flight. */
  nextVisibleAt(): number | undefined {
    const now = this.clock.now();
    let earliest: number | undefined;
    for (const message of this.messages.values()) {
      if (message.visibleAt > now && (earliest === undefined || message.visibleAt < earliest)) {
        earliest = message.visibleAt;
      }
    }
    return earliest;
  }

  /** Every body, visible or not, without receiving anything (tests and DLQ inspection). */
  peekAll(): string[] {
    return [...this.messages.values()].map((message) => message.body);
  }

  /**
   * Takes a message redriven from another queue. Like SQS it keeps its id and original
   * sent timestamp; the receive count starts over, since it counts receives from this queue.
   */
  private accept(message: StoredMessage): void {
    this.messages.set(message.messageId, {
      messageId: message.messageId,
      body: message.body,
      sentTimestamp: message.sentTimestamp,
      receiveCount: 0,
      visibleAt: this.clock.now(),
      receiptHandle: undefined,
    });
    this.notify();
  }

  private byHandle(receiptHandle: string): StoredMessage | undefined {
    const messageId = this.handles.get(receiptHandle);
    return messageId === undefined ? undefined : this.messages.get(messageId);
  }

  private forget(message: StoredMessage): void {
    this.messages.delete(message.messageId);
    if (message.receiptHandle !== undefined) this.handles.delete(message.receiptHandle);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
