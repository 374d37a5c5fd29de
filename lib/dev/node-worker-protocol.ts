/**
 * What the cluster's main thread and a node's worker thread say to each other (threads:
 * 'workers'). Envelopes cross as the same strings the queues carry; the queues themselves
 * (visibility, redelivery, dead letters) stay on the main thread, so a worker is just the
 * handler of one inbox that happens to run on another core.
 */
import type { Directory, Limits } from '../protocol/directory.js';
import type { HandleOutcome } from '../protocol/party.js';
import type { Session } from '../protocol/coordinator-state.js';
import type { PartyPolicy } from '../protocol/requests.js';
import type { Destination } from '../ports/transport.js';

/** Given to the worker at start: everything it needs to open its own vault and store. */
export interface NodeWorkerData {
  readonly role: 'party' | 'coordinator';
  readonly id: string;
  readonly vaultDir: string;
  readonly storePath: string;
  readonly directory: Directory;
  readonly policy: PartyPolicy;
  readonly limits: Limits;
  /** Where a worker may send: the initiators with a result queue (parties and the coordinator come from the directory). */
  readonly initiators: readonly string[];
}

export type ToWorker =
  | { readonly kind: 'handle'; readonly call: number; readonly body: string }
  /** The coordinator's session record (load runs ask where a timed-out request stands). */
  | { readonly kind: 'get-session'; readonly call: number; readonly session: string }
  /** Coordinator.fallBackPooled: one-round attempts open `waitedMs` move to two rounds (the cluster's queues are empty). */
  | { readonly kind: 'fall-back-pooled'; readonly call: number; readonly waitedMs: number }
  | { readonly kind: 'close' };

export type FromWorker =
  | { readonly kind: 'ready' }
  /** Sent before the `done` of the handler that sent it: one port keeps order, so the main thread enqueues first. */
  | { readonly kind: 'send'; readonly destination: Destination; readonly body: string }
  | { readonly kind: 'done'; readonly call: number; readonly outcome: HandleOutcome }
  | { readonly kind: 'session'; readonly call: number; readonly session: Session | undefined }
  | { readonly kind: 'fell-back'; readonly call: number; readonly moved: number }
  | { readonly kind: 'failed'; readonly call: number; readonly code: string; readonly message: string }
  /** The vault or store would not open (one line, never a secret). */
  | { readonly kind: 'open-failed'; readonly message: string }
  | { readonly kind: 'closed' };

/**
 * A party's store fsyncs every commit (its nonces and shares must survive a power loss); the
 * coordinator's holds no secret and no safety-relevant state (it is trusted for liveness
 * only), so its commits skip the fsync: about 12 per signature, each blocking its thread
 * for milliseconds. See sqlite-native.ts for SQLite's guarantees with NORMAL.
 */
export function storeSynchronous(role: NodeWorkerData['role']): 'full' | 'normal' {
  return role === 'coordinator' ? 'normal' : 'full';
}
