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
   * Handlers of this inbox that may run at once (Lambda's maximum concurrency for the
   * event source). SQS standard queues promise no order, so neither does this.
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * Messages of one group (e.g. one protocol session) are handled one after another, other
   * groups concurrently, like SQS FIFO message groups. Concurrent handlers of one session
   * are safe (conditional writes) but all but one lose the race and redo their work, so a
   * local run that serialises them wastes no CPU on conflicts. `undefined`: no group.
   */
  readonly groupOf?: (body: string) => string | undefined;
  /**
   * Called when the handler throws, so failures are visible rather than silently retried.
   * @default a one-line warning on stderr naming the queue, message id and error
   */
  readonly onError?: DeliveryErrorListener;
}

type Received = ReturnType<LocalQueue['receive']>[number];

/**
 * How long a message stays hidden while its handler runs (renewed every third of it). Far
 * above any handler's time even on a machine loaded many times over; a crashed process
 * loses its in-memory queues anyway, so nothing waits this long for a redelivery.
 */
export const HANDLER_LEASE_MS = 30_000;

export class LocalEventSource {
  private readonly batchSize: number;
  readonly concurrency: number;
  private readonly onError: DeliveryErrorListener;
  /** Receipt handle -> the running delivery of that message. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly settledListeners = new Set<() => void>();
  /** Group -> the last delivery queued in it; a new message of the group starts after it. */
  private readonly groupTails = new Map<string, Promise<void>>();
  private readonly groupOf: ((body: string) => string | undefined) | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly queue: LocalQueue,
    private readonly handler: MessageHandler,
    options?: LocalEventSourceOptions,
  ) {
    const batchSize = options?.batchSize ?? 10;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new FrostlineError('invalid-argument', `batchSize must be a positive integer, got ${batchSize}`);
    }
    const concurrency = options?.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new FrostlineError('invalid-argument', `concurrency must be a positive integer, got ${concurrency}`);
    }
    this.batchSize = batchSize;
    this.concurrency = concurrency;
    this.groupOf = options?.groupOf;
    this.onError = options?.onError ?? warnOnStderr;
  }

  /** Handlers of this source running now. */
  get inProgress(): number {
    return this.running.size;
  }

  /**
   * Receives one batch and runs the handler on each message (in order with concurrency 1,
   * else up to `concurrency` at once), returning when all are done. Returns how many
   * messages were handed to the handler (succeeded or not); 0 means nothing was visible.
   */
  async pollOnce(): Promise<number> {
    if (this.concurrency === 1) {
      const batch = this.queue.receive(this.batchSize);
      for (const message of batch) await this.deliver(message, false);
      return batch.length;
    }
    let delivered = 0;
    for (;;) {
      const wanted = Math.min(this.concurrency - this.running.size, this.batchSize - delivered);
      const started = this.dispatch(this.batchSize - delivered);
      delivered += started;
      // A batch is full, or the queue had fewer visible messages than free slots: no more receives.
      if (delivered >= this.batchSize || started < wanted) break;
      await this.whenSettled();
    }
    await this.settleAll();
    return delivered;
  }

  /**
   * Receives as many messages as there are free handler slots (at most `limit`) and starts
   * their handlers without waiting for them. Returns how many it started. A message being
   * handled is leased (hidden for `HANDLER_LEASE_MS`, renewed while its handler runs), as a
   * consumer does with ChangeMessageVisibility: handlers slowed down by their neighbours on
   * a loaded machine must not see their own message redelivered to a second slot (Lambda
   * gets the same from its timeout being shorter than the queue's visibility timeout). A
   * failed message gets the queue's own visibility timeout back, so it is redelivered as
   * soon as before.
   */
  dispatch(limit: number = Number.MAX_SAFE_INTEGER): number {
    const free = Math.min(this.concurrency - this.running.size, limit);
    if (free <= 0) return 0;
    this.renewVisibility();
    const batch = this.queue.receive(Math.min(free, this.batchSize));
    for (const message of batch) {
      this.queue.changeVisibility(message.receiptHandle, this.leaseMs());
      const group = this.groupOf?.(message.body);
      const before = group === undefined ? undefined : this.groupTails.get(group);
      // Waiting behind its group, a message holds its slot and is kept hidden by the heartbeat.
      const delivery = (before === undefined ? this.deliver(message, true) : before.then(() => this.deliver(message, true))).finally(() => {
        if (group !== undefined && this.groupTails.get(group) === delivery) this.groupTails.delete(group);
        this.running.delete(message.receiptHandle);
        if (this.running.size === 0) this.stopHeartbeat();
        for (const listener of [...this.settledListeners]) listener();
      });
      this.running.set(message.receiptHandle, delivery);
      if (group !== undefined) this.groupTails.set(group, delivery);
    }
    if (this.running.size > 0) this.startHeartbeat();
    return batch.length;
  }

  /** Resolves when the next running handler of this source finishes (at once if none runs). */
  whenSettled(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = () => {
        this.settledListeners.delete(listener);
        resolve();
      };
      this.settledListeners.add(listener);
    });
  }

  /** Calls `listener` each time one of this source's handlers finishes; returns the unsubscribe function. */
  onSettled(listener: () => void): () => void {
    this.settledListeners.add(listener);
    return () => this.settledListeners.delete(listener);
  }

  /** Waits until no handler of this source is running. */
  async settleAll(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Runs the handler on one message: deleted on success, left in flight (redelivered later) on failure. */
  private async deliver(message: Received, leased: boolean): Promise<void> {
    const context = { messageId: message.messageId, receiveCount: message.receiveCount };
    try {
      await this.handler(message.body, context);
    } catch (error) {
      try {
        this.onError(error, { queue: this.queue.name, ...context });
      } catch {
        // A listener that throws must not stop the other deliveries (error isolation).
      }
      // Released from its lease: redelivered after the queue's visibility timeout, as before.
      if (leased) this.queue.changeVisibility(message.receiptHandle, this.queue.visibilityTimeoutMs);
      return;
    }
    this.queue.delete(message.receiptHandle);
  }

  private leaseMs(): number {
    return Math.max(this.queue.visibilityTimeoutMs, HANDLER_LEASE_MS);
  }

  private renewVisibility(): void {
    const leaseMs = this.leaseMs();
    for (const receiptHandle of this.running.keys()) this.queue.changeVisibility(receiptHandle, leaseMs);
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    const every = Math.max(1, Math.floor(this.leaseMs() / 3));
    this.heartbeat = setInterval(() => this.renewVisibility(), every);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat === undefined) return;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
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
 * the earliest becomes visible again (at most `idleWaitMs` at a time). Sources with a
 * concurrency above 1 are driven by a `DeliveryLoop` instead: no pass waits for another
 * inbox's handlers.
 */
export async function drainAll(sources: readonly LocalEventSource[], options: DrainOptions): Promise<void> {
  if (sources.some((source) => source.concurrency > 1)) {
    await new DeliveryLoop(sources, options).drain(options.timeoutMs);
    return;
  }
  const { clock, timeoutMs } = options;
  const idleWaitMs = options.idleWaitMs ?? 100;
  const sleep = options.sleep ?? realSleep;
  const started = clock.now();

  for (;;) {
    let delivered = 0;
    for (const source of sources) delivered += await source.pollOnce();

    const busy = busySources(sources);
    if (busy.length === 0) return;
    checkDeadline(busy, clock, started, timeoutMs);
    // Visible but not delivered happens when a receive moved poison messages to a
    // dead-letter queue; either way there is work to do now, not after a sleep.
    if (delivered > 0 || busy.some((source) => source.queue.stats().visible > 0)) continue;

    await sleep(idleWait(busy, clock, idleWaitMs));
  }
}

export interface DeliveryLoopOptions {
  readonly clock: Clock;
  /** @default 100 */
  readonly idleWaitMs?: number;
  /** How to wait while no handler runs (a fake clock's sleep advances it). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** One message at a time, sources in turn (`pollOnce` each): reproducible arrival order for tests. */
  readonly serial?: boolean;
}

/**
 * Delivers from every source at once, each up to its own concurrency: a handler of one inbox
 * never waits for another inbox's handlers, nor for a pass over the others. The loop sleeps
 * only when it has nothing to start: it wakes when a handler finishes, a message is sent to
 * one of its queues, or an in-flight message's visibility timeout runs out.
 */
export class DeliveryLoop {
  readonly #sources: readonly LocalEventSource[];
  readonly #clock: Clock;
  readonly #idleWaitMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #serial: boolean;
  #stopRequested = false;
  #wake: (() => void) | undefined;
  #pendingWake = false;

  constructor(sources: readonly LocalEventSource[], options: DeliveryLoopOptions) {
    this.#sources = sources;
    this.#clock = options.clock;
    this.#idleWaitMs = options.idleWaitMs ?? 100;
    this.#sleep = options.sleep ?? realSleep;
    this.#serial = options.serial ?? false;
  }

  /** Delivers until `stop()`, then waits for every running handler. */
  async serve(): Promise<void> {
    await this.#loop(() => false);
  }

  /**
   * Delivers until every queue is empty (nothing visible, nothing in flight) and no handler
   * runs. Past `timeoutMs` it stops starting handlers, waits for the running ones, and throws
   * naming the busy queues.
   */
  async drain(timeoutMs: number): Promise<void> {
    const started = this.#clock.now();
    let timedOut = false;
    await this.#loop(() => {
      const busy = busySources(this.#sources);
      if (busy.length === 0 && this.#sources.every((source) => source.inProgress === 0)) return true;
      if (this.#clock.now() - started > timeoutMs) {
        timedOut = true;
        return true;
      }
      return false;
    });
    const busy = busySources(this.#sources);
    if (timedOut && busy.length > 0) checkDeadline(busy, this.#clock, started, timeoutMs);
  }

  /** Stops starting handlers; `serve()`/`drain()` return once the running ones are done. */
  stop(): void {
    this.#stopRequested = true;
    this.#wakeUp();
  }

  async #loop(done: () => boolean): Promise<void> {
    const unsubscribe = [
      ...this.#sources.map((source) => source.queue.onActivity(() => this.#wakeUp())),
      ...this.#sources.map((source) => source.onSettled(() => this.#wakeUp())),
    ];
    try {
      while (!this.#stopRequested) {
        this.#pendingWake = false;
        let started = 0;
        if (this.#serial) for (const source of this.#sources) started += await source.pollOnce();
        else for (const source of this.#sources) started += source.dispatch();
        if (done()) return;
        if (this.#stopRequested) break;
        if (started > 0) continue;
        await this.#idle();
      }
    } finally {
      for (const off of unsubscribe) off();
      // Whatever was started finishes before the caller goes on (no handler after close).
      await Promise.all(this.#sources.map((source) => source.settleAll()));
    }
  }

  /** Waits for a reason to look again: a finished handler, a send, or a visibility timeout running out. */
  async #idle(): Promise<void> {
    if (this.#pendingWake) return;
    const wait = idleWait(busySources(this.#sources), this.#clock, this.#idleWaitMs);
    const handlersRunning = this.#sources.some((source) => source.inProgress > 0);
    const woken = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    // While handlers run, their completions drive the loop; a real timer bounds the wait for
    // other messages' redelivery. Only an otherwise idle loop uses the injected sleep, so a
    // fake clock moves only when nothing else can happen (as drainAll's passes did).
    const timeout = handlersRunning
      ? new Promise<void>((resolve) => {
          timer = setTimeout(resolve, wait);
        })
      : this.#sleep(wait);
    try {
      await Promise.race([woken, timeout]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  #wakeUp(): void {
    this.#pendingWake = true;
    this.#wake?.();
  }
}

function busySources(sources: readonly LocalEventSource[]): LocalEventSource[] {
  return sources.filter((source) => {
    const { visible, inFlight } = source.queue.stats();
    return visible + inFlight > 0;
  });
}

/** Until the earliest in-flight message becomes visible again, at most `idleWaitMs`. */
function idleWait(busy: readonly LocalEventSource[], clock: Clock, idleWaitMs: number): number {
  const now = clock.now();
  let earliest: number | undefined;
  for (const source of busy) {
    const at = source.queue.nextVisibleAt();
    if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest === undefined ? idleWaitMs : Math.min(Math.max(earliest - now, 1), idleWaitMs);
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
