/**
 * The main thread's side of a node running in a worker (threads: 'workers'): `handle`
 * posts a delivered body and resolves with the node's outcome (or rejects, so that the
 * queue redelivers, exactly as a handler that threw); what the node sends is passed to
 * `onSend` before its outcome, in the order sent. A worker that dies fails its pending and
 * later deliveries with one line; `close` ends the thread (terminated if it does not go).
 */
import { Worker } from 'node:worker_threads';
import { ConfigError, FrostlineError } from '../ports/errors.js';
import type { Destination } from '../ports/transport.js';
import type { HandleOutcome } from '../protocol/party.js';
import type { Session } from '../protocol/coordinator-state.js';
import type { FromWorker, NodeWorkerData, ToWorker } from './node-worker-protocol.js';

/** How long `close` waits for a worker to close its store and exit before terminating it. */
const CLOSE_GRACE_MS = 10_000;

/** The compiled worker entry beside this module: dist/lib/dev/node-worker.js. */
export function defaultWorkerEntry(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) {
    // Worker threads run JavaScript only (Node 20 has no type stripping): from the sources
    // (vitest), pass a bundle of lib/dev/node-worker.ts as `workerEntry`.
    throw new ConfigError("threads: 'workers' needs the built package (npm run build) or a workerEntry bundled from lib/dev/node-worker.ts");
  }
  return new URL('./node-worker.js', here);
}

export class NodeThread {
  readonly #worker: Worker;
  readonly #name: string;
  readonly #pending = new Map<number, { resolve: (outcome: HandleOutcome) => void; reject: (error: Error) => void }>();
  readonly #sessionQueries = new Map<number, { resolve: (session: Session | undefined) => void; reject: (error: Error) => void }>();
  readonly #fallBacks = new Map<number, { resolve: (moved: number) => void; reject: (error: Error) => void }>();
  #nextCall = 0;
  /** Set once the worker can take no more deliveries; the reason every later delivery fails with. */
  #dead: FrostlineError | undefined;
  readonly #exited: Promise<void>;
  #closed: (() => void) | undefined;

  private constructor(worker: Worker, name: string, onSend: (destination: Destination, body: string) => void, ready: { resolve: () => void; reject: (error: Error) => void }) {
    this.#worker = worker;
    this.#name = name;
    worker.on('message', (message: FromWorker) => {
      switch (message.kind) {
        case 'ready':
          ready.resolve();
          return;
        case 'open-failed':
          this.#die(new FrostlineError('worker-open-failed', message.message));
          ready.reject(new FrostlineError('worker-open-failed', message.message));
          return;
        case 'send':
          onSend(message.destination, message.body);
          return;
        case 'done':
          this.#settle(message.call)?.resolve(message.outcome);
          return;
        case 'session':
          this.#settleQuery(message.call)?.resolve(message.session);
          return;
        case 'fell-back':
          this.#settleFallBack(message.call)?.resolve(message.moved);
          return;
        case 'failed':
          (this.#settle(message.call) ?? this.#settleQuery(message.call) ?? this.#settleFallBack(message.call))?.reject(new FrostlineError(message.code, message.message));
          return;
        case 'closed':
          this.#closed?.();
          return;
      }
    });
    worker.on('error', (error) => {
      const died = new FrostlineError('worker-failed', `${name} worker thread failed: ${oneLine(error)}`);
      this.#die(died);
      ready.reject(died);
    });
    this.#exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        const died = new FrostlineError('worker-exited', `${name} worker thread exited (code ${code})`);
        this.#die(died);
        ready.reject(died);
        resolve();
      });
    });
  }

  /** Starts the worker and waits until its vault and store are open. */
  static async start(entry: URL, data: NodeWorkerData, onSend: (destination: Destination, body: string) => void): Promise<NodeThread> {
    let ready: { resolve: () => void; reject: (error: Error) => void } = { resolve: () => {}, reject: () => {} };
    const opened = new Promise<void>((resolve, reject) => {
      ready = { resolve, reject };
    });
    const name = data.role === 'coordinator' ? 'coordinator' : `party ${data.id}`;
    const thread = new NodeThread(new Worker(entry, { workerData: data }), name, onSend, ready);
    try {
      await opened;
    } catch (error) {
      await thread.close();
      throw error;
    }
    return thread;
  }

  handle(body: string): Promise<HandleOutcome> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const call = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#pending.set(call, { resolve, reject });
      this.#post({ kind: 'handle', call, body });
    });
  }

  /** The coordinator's session record (its worker reads its own store). */
  getSession(session: string): Promise<Session | undefined> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const call = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#sessionQueries.set(call, { resolve, reject });
      this.#post({ kind: 'get-session', call, session });
    });
  }

  /** Coordinator.fallBackPooled on the coordinator's worker: how many one-round attempts moved to two rounds. */
  fallBackPooled(waitedMs: number): Promise<number> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const call = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#fallBacks.set(call, { resolve, reject });
      this.#post({ kind: 'fall-back-pooled', call, waitedMs });
    });
  }

  /** Closes the node's store and ends the thread. Call with no delivery running (after the loop has stopped). */
  async close(): Promise<void> {
    if (this.#dead === undefined) {
      const closed = new Promise<void>((resolve) => {
        this.#closed = resolve;
      });
      this.#post({ kind: 'close' });
      this.#die(new FrostlineError('worker-closed', `${this.#name} is closed`));
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS).unref());
      if ((await Promise.race([closed.then(() => this.#exited), this.#exited, grace])) === 'timeout') await this.#worker.terminate();
    } else {
      await this.#worker.terminate();
    }
    await this.#exited;
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  #settle(call: number) {
    const pending = this.#pending.get(call);
    this.#pending.delete(call);
    return pending;
  }

  #settleFallBack(call: number) {
    const pending = this.#fallBacks.get(call);
    this.#fallBacks.delete(call);
    return pending;
  }

  #settleQuery(call: number) {
    const pending = this.#sessionQueries.get(call);
    this.#sessionQueries.delete(call);
    return pending;
  }

  #die(error: FrostlineError): void {
    if (this.#dead !== undefined) return;
    this.#dead = error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
    for (const { reject } of this.#sessionQueries.values()) reject(error);
    this.#sessionQueries.clear();
    for (const { reject } of this.#fallBacks.values()) reject(error);
    this.#fallBacks.clear();
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}
