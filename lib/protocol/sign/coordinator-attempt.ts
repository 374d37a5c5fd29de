/**
 * Signing attempts, coordinator side: who may still sign, and what happens when a signer is
 * lost (excluded for a proven fault, or refused): a fresh attempt with fresh nonces from the
 * parties that remain, or failure once fewer than the threshold remain. Every later attempt
 * takes two rounds: only intake claims pooled commitments (one round).
 */
import { RefusalCode } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import type { ResultError } from '../messages.js';

/** The highest attempt number the wire carries (`SignCommitBody.attempt`). */
const MAX_ATTEMPT = 255;

/** Parties of the key neither excluded nor refused in this session. */
export function eligible(session: SignSession, key: KeyRecord): string[] {
  return key.parties.filter((p) => !session.excluded.includes(p) && !Object.hasOwn(session.refused, p));
}

/**
 * A fresh attempt from the remaining parties, or failure if too few remain: `cheater-detected`
 * naming every excluded party, else the parties' common refusal code (or `reason`).
 */
export function nextAttempt(session: SignSession, key: KeyRecord, reason: string): SignSession {
  const remaining = eligible(session, key);
  if (remaining.length < key.threshold) {
    const refusals = Object.entries(session.refused).map(([p, r]) => `"${p}": ${r.reason}`);
    const error: ResultError =
      session.excluded.length > 0
        ? {
            code: 'cheater-detected',
            message: `parties sent invalid nonce commitments or signature shares; ${remaining.length} honest parties remain, ${key.threshold} needed`,
            blame: [...session.excluded],
          }
        : { code: commonCode(session) ?? reason, message: `refused by parties: ${refusals.join('; ')}` };
    return { ...session, phase: 'failed', error };
  }
  return { ...twoRound(session), phase: 'commit', attempt: session.attempt + 1, commitments: {}, signers: [], shares: {} };
}

/** The session without its one-round attempt's pooled commitments (claimed, never offered again). */
function twoRound(session: SignSession): SignSession {
  const { pooled: _pooled, ...rest } = session;
  return rest;
}

/**
 * A one-round attempt still waiting for a signer after the pool's `fallbackAfterMs`: the same
 * request again in two rounds (attempt + 1). Nobody is excluded or marked refused: silence
 * proves nothing, and the silent signer may simply answer `sign.commit` this time.
 */
export function fallBackToTwoRounds(session: SignSession): SignSession {
  if (session.attempt >= MAX_ATTEMPT) {
    return { ...session, phase: 'failed', error: { code: 'timeout', message: 'one-round attempt unanswered and no attempts left; retry the request' } };
  }
  return { ...twoRound(session), phase: 'commit', attempt: session.attempt + 1, commitments: {}, signers: [], shares: {} };
}

/** The code every refusing party gave, if they agree. */
function commonCode(session: SignSession): string | undefined {
  const codes = new Set(Object.values(session.refused).map((r) => r.code));
  return codes.size === 1 ? [...codes][0] : undefined;
}

/**
 * A session whose key moved to another epoch (a refresh or reshare finished meanwhile): a
 * fresh attempt at the key's epoch, asking its parties. Refusals of the old epoch no longer
 * apply (most are the old epoch's own: stale-epoch, a nonce gone at the switch); parties
 * proven faulty stay excluded. Fails (retryable) only when the attempts run out.
 */
export function restartAtEpoch(session: SignSession, key: KeyRecord): SignSession {
  const epoch = key.epoch ?? 0;
  if (session.attempt >= MAX_ATTEMPT) {
    return { ...session, phase: 'failed', error: { code: RefusalCode.staleEpoch, message: `key "${session.keyId}" moved to epoch ${epoch} and this session has no attempts left; retry the request` } };
  }
  const { epoch: _left, ...rest } = twoRound(session);
  return { ...rest, ...(epoch > 0 ? { epoch } : {}), phase: 'commit', attempt: session.attempt + 1, refused: {}, commitments: {}, signers: [], shares: {} };
}
