/**
 * A session the sweeper gives up on: failed with code `timeout`, naming the phase it stalled
 * in and the parties that never answered, so the initiator learns whom to look at.
 */
import type { Session } from './coordinator-state.js';
import type { ResultError } from './messages.js';

export function isFinished(session: Session): boolean {
  return session.phase === 'done' || session.phase === 'failed';
}

/** `session` failed for a timeout at `now` (epoch ms). */
export function timedOut(session: Session, now: number): Session {
  return { ...session, phase: 'failed', error: timeoutError(session, now) };
}

function timeoutError(session: Session, now: number): ResultError {
  const minutes = Math.floor((now - session.createdAt) / 60_000);
  const silent = waitingFor(session);
  const missing = silent.length > 0 ? `; no answer from ${silent.join(', ')}` : '';
  return { code: 'timeout', message: `${session.kind} session stalled in phase ${session.phase} for ${minutes} min${missing}` };
}

/** The parties whose message the session's phase still waits for. */
export function waitingFor(session: Session): string[] {
  if (session.kind === 'keygen') {
    const field = session.phase === 'round1' ? session.round1 : session.phase === 'round2' ? session.shares : session.done;
    return session.parties.filter((p) => !Object.hasOwn(field, p));
  }
  if (session.kind === 'reshare') {
    const participants = [...new Set([...session.dealers, ...session.parties])].sort();
    if (session.phase === 'round1') return participants.filter((p) => !Object.hasOwn(session.round1, p));
    if (session.phase === 'deal') return session.dealers.filter((p) => !Object.hasOwn(session.dealings, p));
    if (session.phase === 'shares') return session.parties.filter((p) => !Object.hasOwn(session.done, p));
    return [];
  }
  return session.phase === 'sign' ? session.signers.filter((p) => !Object.hasOwn(session.shares, p)) : [];
}
