/**
 * The sweeper's work, coordinator side: fails every session still open `stalledAfterMs`
 * after it started and tells its initiator why (code `timeout`, naming the phase and the
 * parties that never answered). A session that finishes concurrently wins: the transition
 * is the same conditional write as every other.
 *
 * Before that, a one-round signing attempt (pooled commitments) still waiting for a signer
 * after the pool's `fallbackAfterMs` moves to a two-round attempt, and its `sign.commit`
 * goes out: a signer that lost its pooled nonce (or the package) can still sign that way.
 */
import { retryOnConflict } from '../ports/store.js';
import type { CoordinatorIO } from './coordinator-io.js';
import { coordinatorKeys, type Session, type SignSession } from './coordinator-state.js';
import { isFinished, timedOut, waitingFor } from './coordinator-timeout.js';
import { DEFAULT_NONCE_POOL, noncePoolSettings } from './directory.js';
import { deriveSessionId } from './envelope.js';
import { fallBackToTwoRounds, restartAtEpoch } from './sign/coordinator-attempt.js';

/** A session the sweeper failed, and the phase it had stalled in. */
export interface StalledSession {
  readonly session: Session;
  readonly stalledIn: Session['phase'];
}

export async function expireStalled(io: CoordinatorIO, stalledAfterMs: number): Promise<StalledSession[]> {
  const now = io.now();
  // Pools may have been turned off since a pooled session started: it still falls back.
  const fallbackAfterMs = (noncePoolSettings(io.limits) ?? DEFAULT_NONCE_POOL).fallbackAfterMs;
  const expired: StalledSession[] = [];
  for (const candidate of await io.tables.sessions.listByPrefix('session#')) {
    if (isFinished(candidate)) continue;
    if (now - candidate.createdAt < stalledAfterMs) {
      if (isUnansweredFallback(candidate) && now - candidate.createdAt >= 2 * fallbackAfterMs) {
        // A fallback whose sign.commit may never have gone out (the send failed after the
        // write): no later sweep would move it again. Parties answer a repeated commit alike.
        await io.sendPhase(candidate).catch((error: unknown) => {
          io.log.error('one-round fallback: sign.commit not sent again', { session: candidate.request.session, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        });
        continue;
      }
      if (isPooledWaiting(candidate) && now - candidate.createdAt >= fallbackAfterMs) {
        // One session's failed fallback must not keep the sweep from timing out the others. A
        // failed write is tried again by the next sweep; either way the session still times
        // out at stalledAfterMs.
        await fallBack(io, candidate).catch((error: unknown) => {
          io.log.error('one-round fallback failed', { session: candidate.request.session, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        });
      }
      continue;
    }
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

/**
 * Moves every one-round attempt open for at least `waitedMs` to two rounds now, without
 * failing anything. The embedded cluster calls it with 0 once its queues are empty: a signer
 * that has not answered by then never will (it is down, or its package was lost).
 */
export async function fallBackPooled(io: CoordinatorIO, waitedMs: number): Promise<number> {
  const now = io.now();
  let moved = 0;
  for (const candidate of await io.tables.sessions.listByPrefix('session#')) {
    if (!isPooledWaiting(candidate) || now - candidate.createdAt < waitedMs) continue;
    if (await fallBack(io, candidate)) moved += 1;
  }
  return moved;
}

/** A two-round attempt after a one-round one (attempt > 1) that no party has answered yet. */
function isUnansweredFallback(session: Session): session is SignSession {
  return session.kind === 'sign' && session.phase === 'commit' && session.attempt > 1 && Object.keys(session.commitments).length === 0 && Object.keys(session.refused).length === 0;
}

/** A one-round attempt whose package went out and some signer has not answered. */
function isPooledWaiting(session: Session): session is SignSession {
  return session.kind === 'sign' && session.phase === 'sign' && session.pooled !== undefined;
}

/** Moves a stalled one-round attempt to two rounds (at the key's epoch if it moved meanwhile) and sends `sign.commit`. */
async function fallBack(io: CoordinatorIO, candidate: SignSession): Promise<boolean> {
  const sessionKey = coordinatorKeys.session(deriveSessionId(candidate.initiator, candidate.requestId));
  const key = await io.requiredKey(candidate.keyId);
  const moved = await retryOnConflict(async () => {
    const stored = await io.tables.sessions.get(sessionKey);
    // Finished, or moved on by a share or refusal meanwhile: nothing to do.
    if (stored === undefined || stored.value.kind !== 'sign' || !isPooledWaiting(stored.value) || stored.value.attempt !== candidate.attempt) return undefined;
    const session = stored.value;
    const next = (key.epoch ?? 0) !== (session.epoch ?? 0) ? restartAtEpoch(session, key) : fallBackToTwoRounds(session);
    await io.tables.sessions.replace(sessionKey, next, stored.version, io.limits.sessionTtlSeconds);
    return { before: session, next };
  });
  if (moved === undefined) return false;
  const silent = waitingFor(moved.before);
  io.log.warn('one-round attempt fell back to two rounds', { session: sessionKey.pk, attempt: moved.next.attempt, waitingFor: silent });
  await io.sendPhase(moved.next, key);
  await forgetPools(io, key.keyId, silent);
  return true;
}

/**
 * Parties taken out of the key's pools: a signer that let a one-round package go unanswered,
 * or refused its pooled entry, is not chosen from the pools again until it publishes a new
 * batch. Otherwise every signature would pick it again (most unclaimed first) and fall back.
 * It is not asked for a batch for `refillRetrySeconds`; its unused nonces at the party expire
 * by TTL. Best effort: a cursor left as it was costs a later signature a fallback.
 */
export async function forgetPools(io: CoordinatorIO, keyId: string, silent: readonly string[]): Promise<void> {
  if (silent.length === 0) return;
  const cursorKey = coordinatorKeys.poolCursor(keyId);
  await retryOnConflict(async () => {
    const stored = await io.tables.poolCursors.get(cursorKey);
    if (stored === undefined) return;
    const parties = { ...stored.value.parties };
    for (const party of silent) parties[party] = { batches: [], refillRequestedAt: io.now() };
    await io.tables.poolCursors.replace(cursorKey, { ...stored.value, parties }, stored.version);
  }).catch((error: unknown) => {
    // The fallback itself went through; a cursor left as it was costs the next signature a fallback.
    io.log.error('could not take a signer out of the pools', { keyId, parties: silent, error: error instanceof Error ? error.message : String(error) });
  });
}
