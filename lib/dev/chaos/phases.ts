/**
 * The phases of a chaos run, the same on both paths: the setup keygens (under faults), a
 * snapshot of every party's shares, the planned sessions, then a quiet period in which late
 * redeliveries and duplicates still land before the faults stop and the stores are read.
 */
import type { Initiator } from '../../client/initiator.js';
import type { FaultInjector } from './fault-injector.js';
import type { SessionSeen, ShareSnapshot } from './invariants.js';
import { driveSessions, planSessions, type KeySpec, type PlannedSession, type ResultBook } from './sessions.js';

/** The parties of a chaos deployment, and the two keys the signatures alternate between. */
export const CHAOS_PARTIES: readonly string[] = ['p1', 'p2', 'p3', 'p4', 'p5'];
export const SIGNING_KEYS: readonly KeySpec[] = [
  { keyId: 'chaos-2of3', threshold: 2, parties: ['p1', 'p2', 'p3'] },
  { keyId: 'chaos-3of5', threshold: 3, parties: CHAOS_PARTIES },
];

export interface PhaseInputs {
  readonly initiator: Initiator;
  readonly options: { readonly seed: string; readonly signatures: number; readonly keygens: number; readonly concurrency: number };
  readonly book: ResultBook;
  /** How long a client waits for one session's result. */
  readonly waitMs: number;
  /** `performance.now()` when the run started (progress lines and the measured duration). */
  readonly started: number;
  readonly log: (line: string) => void;
  /** Returns once nothing is in flight (queues drained, held messages released). */
  readonly quiet: () => Promise<void>;
  readonly injector: Pick<FaultInjector, 'enabled'>;
  readonly snapshotShares: () => Promise<ShareSnapshot>;
}

export interface PhaseResults {
  readonly setupSeen: readonly SessionSeen[];
  readonly main: readonly SessionSeen[];
  readonly sharesBefore: ShareSnapshot;
  /** From the start to the last planned session's result (the quiet period excluded). */
  readonly durationMs: number;
}

export async function runPhases(inputs: PhaseInputs): Promise<PhaseResults> {
  const { initiator, options, book, waitMs, started, log, quiet } = inputs;
  const send = async (session: PlannedSession) => {
    if (session.kind === 'sign') await initiator.requestSignature({ keyId: session.keyId, message: session.message, requestId: session.requestId });
    else await initiator.requestKeygen({ keyId: session.key.keyId, threshold: session.key.threshold, parties: session.key.parties, requestId: session.requestId });
  };
  log(`setup: keygens of ${SIGNING_KEYS.map((k) => k.keyId).join(' and ')} (under faults)`);
  const setup: PlannedSession[] = SIGNING_KEYS.map((key) => ({ kind: 'keygen', requestId: `chaos-setup-${key.keyId}`, key }));
  const setupSeen = await driveSessions({ sessions: setup, concurrency: 2, timeoutMs: waitMs, book, send, publicKeyOf: () => undefined });
  const publicKeys = new Map<string, string>();
  for (const session of setupSeen) {
    const result = session.results[0];
    if (result?.ok === true && result.publicKey !== undefined) publicKeys.set(session.keyId, result.publicKey);
  }
  await quiet();
  const sharesBefore = await inputs.snapshotShares();

  const sessions = planSessions({
    seed: options.seed,
    signatures: options.signatures,
    keygens: Math.max(0, options.keygens - setup.length),
    signingKeys: SIGNING_KEYS.filter((key) => publicKeys.has(key.keyId)),
    keyShapes: SIGNING_KEYS.map((key) => ({ ...key, keyId: key.keyId.replace('chaos-', 'chaos-new-') })),
  });
  log(`running ${sessions.length} sessions, ${options.concurrency} at a time`);
  const step = Math.max(1, Math.floor(sessions.length / 10));
  const main = await driveSessions({
    sessions,
    concurrency: options.concurrency,
    timeoutMs: waitMs,
    book,
    send,
    publicKeyOf: (keyId) => publicKeys.get(keyId),
    onProgress: (done) => {
      if (done % step === 0 || done === sessions.length) log(`  ${done}/${sessions.length} sessions (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    },
  });
  const durationMs = performance.now() - started;
  // Late redeliveries and duplicates still count: let everything in flight land, then look.
  await quiet();
  inputs.injector.enabled = false;
  await quiet();
  return { setupSeen, main, sharesBefore, durationMs };
}
