/**
 * One node of a `LocalCluster` on its own thread (threads: 'workers'): it opens its own
 * vault and its own store, and runs the same `Party` or `Coordinator` as the single-thread
 * cluster. It never sees a queue: the main thread hands it each delivered body and takes
 * back what it sends, in order, then its outcome. Its SQLite commits (fsync) and curve
 * arithmetic block only this thread, so the nodes of one cluster share the machine's cores.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { systemClock } from '../ports/clock.js';
import { FrostlineError } from '../ports/errors.js';
import type { Destination } from '../ports/transport.js';
import { Coordinator } from '../protocol/coordinator.js';
import { silentLogger } from '../protocol/logger.js';
import { Party, type HandleOutcome } from '../protocol/party.js';
import type { Session } from '../protocol/coordinator-state.js';
import { FileKeyVault } from '../adapters/local/file-key-vault.js';
import { SqliteItemBackend } from '../adapters/local/sqlite-backend.js';
import { LocalTransport } from '../adapters/local/transport.js';
import { storeSynchronous, type FromWorker, type NodeWorkerData, type ToWorker } from './node-worker-protocol.js';

function ownPort(): MessagePort {
  if (parentPort === null) throw new Error('node-worker.js runs only as a worker thread of a LocalCluster');
  return parentPort;
}
const port = ownPort();
const data = workerData as NodeWorkerData;
const post = (message: FromWorker) => port.postMessage(message);

/** The error as `code` + one line of our own message (never a cause's text, which might carry more). */
function describe(error: unknown): { code: string; message: string } {
  const code = error instanceof FrostlineError ? error.code : 'worker-error';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  return { code, message };
}

interface OpenNode {
  handle(raw: string): Promise<HandleOutcome>;
  getSession(session: string): Promise<Session | undefined>;
  fallBackPooled(waitedMs: number): Promise<number>;
  store: SqliteItemBackend;
}

async function openNode(): Promise<OpenNode> {
  const vault = await FileKeyVault.open(data.vaultDir);
  const store = await SqliteItemBackend.open(data.storePath, { synchronous: storeSynchronous(data.role) });
  const known = (destination: Destination) =>
    destination.kind === 'coordinator' ||
    (destination.kind === 'party' && Object.hasOwn(data.directory.parties, destination.id)) ||
    (destination.kind === 'initiator' && data.initiators.includes(destination.id));
  // The same checks as in one thread (size, SQS's characters), then across to the queues.
  const transport = new LocalTransport((destination) => (known(destination) ? { send: (body: string) => post({ kind: 'send', destination, body }) } : undefined));
  const common = { vault, store, transport, clock: systemClock, directory: data.directory, limits: data.limits, logger: silentLogger };
  if (data.role === 'coordinator') {
    const coordinator = new Coordinator(common);
    return { handle: (raw) => coordinator.handle(raw), getSession: (session) => coordinator.getSession(session), fallBackPooled: (waitedMs) => coordinator.fallBackPooled(waitedMs), store };
  }
  const party = new Party({ ...common, id: data.id, policy: data.policy });
  const noSessions = () => Promise.reject(new FrostlineError('not-coordinator', `party ${data.id} has no coordinator sessions`));
  return { handle: (raw) => party.handle(raw), getSession: noSessions, fallBackPooled: noSessions, store };
}

async function main(): Promise<void> {
  let node: OpenNode;
  try {
    node = await openNode();
  } catch (error) {
    // Said once, as one line; closing the port ends the thread without an uncaught error.
    post({ kind: 'open-failed', message: `${data.role} ${data.id}: ${describe(error).message}` });
    port.close();
    return;
  }
  serve(node);
}

function serve(node: OpenNode): void {
  port.on('message', (message: ToWorker) => {
    if (message.kind === 'close') {
      node.store.close();
      post({ kind: 'closed' });
      port.close();
      return;
    }
    if (message.kind === 'fall-back-pooled') {
      node.fallBackPooled(message.waitedMs).then(
        (moved) => post({ kind: 'fell-back', call: message.call, moved }),
        (error: unknown) => post({ kind: 'failed', call: message.call, ...describe(error) }),
      );
      return;
    }
    if (message.kind === 'get-session') {
      node.getSession(message.session).then(
        (session) => post({ kind: 'session', call: message.call, session }),
        (error: unknown) => post({ kind: 'failed', call: message.call, ...describe(error) }),
      );
      return;
    }
    node.handle(message.body).then(
      (outcome) => post({ kind: 'done', call: message.call, outcome }),
      (error: unknown) => post({ kind: 'failed', call: message.call, ...describe(error) }),
    );
  });
  post({ kind: 'ready' });
}

await main();
