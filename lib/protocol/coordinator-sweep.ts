/**
 * The sweeper's work, coordinator side: fails every session still open `stalledAfterMs`
 * after it started and tells its initiator why (code `timeout`, naming the phase and the
 * parties that never answered). A session that finishes concurrently wins: the transition
 * is the same conditional write as every other.
 */
import { retryOnConflict } from '../ports/store.js';
import type { CoordinatorIO } from './coordinator-io.js';
import { coordinatorKeys, type Session } from './coordinator-state.js';
import { isFinished, timedOut } from './coordinator-timeout.js';
import { deriveSessionId } from './envelope.js';

/** A session the sweeper failed, and the phase it had stalled in. */
export interface StalledSession {
  readonly session: Session;
  readonly stalledIn: Session['phase'];
}

export async function expireStalled(io: CoordinatorIO, stalledAfterMs: number): Promise<StalledSession[]> {
  const now = io.now();
  const expired: StalledSession[] = [];
  for (const candidate of await io.tables.sessions.listByPrefix('session#')) {
    if (isFinished(candidate) || now - candidate.createdAt < stalledAfterMs) continue;
    const sessionKey = coordinatorKeys.session(deriveSessionId(candidate.initiator, candidate.requestId));
    const failed = await retryOnConflict(async () => {
      const stored = await io.tables.sessions.get(sessionKey);
      if (stored === undefined || isFinished(stored.value)) return undefined;
      const next = timedOut(stored.value, now);
      await io.tables.sessions.replace(sessionKey, next, stored.version, io.limits.sessionTtlSeconds);
      return { session: next, stalledIn: stored.value.phase };
    });
    if (failed === undefined) continue;
    // No dkg.abort for a timed-out keygen: there is no signed refusal to prove that it can
    // never finish. Its pending shares stay behind but block no retry (only an active share
    // takes a key id at a party).
    io.log.warn('session timed out', { session: sessionKey.pk, kind: failed.session.kind, stalledIn: failed.stalledIn, reason: failed.session.error?.message });
    // If this send fails the sweep fails (and alarms); the initiator can still fetch the
    // outcome by repeating its request id, which answers from the stored session.
    await io.sendOutcome(failed.session, false);
    expired.push(failed);
  }
  return expired;
}
