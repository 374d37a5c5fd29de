/**
 * Where a step departs from the replay marks (replay-guard.ts), which otherwise every message
 * is checked against and leaves once handled. Each step listed is idempotent from the state
 * it stores under conditional writes, so a duplicate (an SQS redelivery, or anyone replaying
 * a captured envelope while it is fresh) changes nothing and gets at most the answer the
 * first delivery got; the mark would only cost a write (and a read) per signature. Two
 * kinds: steps marked only when refused (a refusal stored nothing that answers a repeat) and
 * steps never marked.
 */
import type { Limits } from './directory.js';
import { MessageType } from './messages.js';
import { replayWindowSeconds } from './replay-guard.js';

/**
 * Steps a party remembers only when it refuses them: a processed one is answered again from
 * the state it stored under conditional writes, so its mark would only cost a put (1 write
 * unit per signer per signature); a refused one stored nothing that answers a repeat, so it
 * is marked (and every delivery is still checked against the marks).
 *
 * - `sign.pooled` (sign/party-pooled.ts). The decision: `decideToSign` finds the request's
 *   approval mark (`AuditLog.decided`) and skips the approval quorum and rate-limit checks, so
 *   a repeat takes no rate-limit slot (`RateLimiter.admit` would not count one decision twice
 *   in a window anyway), and `AuditLog.appendOperations` returns no writes for a decision
 *   already recorded: no second audit entry. The nonce: its item, once spent, holds what it
 *   was spent on (party-state.ts `PoolSpentRecord`); the same package and request get the
 *   stored share again (the same scalar: no new equation in the nonce), any other package is
 *   refused as nonce reuse, and a spent nonce never becomes unused again. So a repeat yields
 *   at most what the coordinator could get by sending a fresh envelope with the same body,
 *   which a replay mark never stopped. A repeat does re-run the checks: one that fails now
 *   (the request past `maxRequestAgeMs`, the key at another epoch) is refused, and that
 *   refusal audited once, as a redelivery after a crash always could be. A REFUSED decision is
 *   not final (the two-round fallback and a restart at a new epoch ask again under the same
 *   decision id), so without a mark a repeat of a refused envelope could be decided again in
 *   another rate-limit window and approved: the mark is what refuses it.
 */
export const PARTY_STEPS_MARKED_ONLY_WHEN_REFUSED: ReadonlySet<string> = new Set<string>([MessageType.signPooled]);

/** Whether a party remembers a message of `type` that it processed (every refused one is remembered). */
export function partyMarksProcessed(type: string): boolean {
  return !PARTY_STEPS_MARKED_ONLY_WHEN_REFUSED.has(type);
}

/**
 * Party messages with no replay mark: a replay of one changes nothing stored and sends
 * nothing a first delivery would not.
 *
 * `sign.share` (sign/coordinator-share.ts `onShare`) is idempotent from its session: a share
 * for another attempt, or from a party that is not a signer of this attempt, is ignored; a
 * share already recorded for its sender changes nothing (nor does any share once the attempt
 * left the sign phase), and at most sends the outcome again when it is the very envelope
 * recorded and the session has finished, which is how a crash before sending is recovered
 * anyway (so a signer replaying its own last share gets the initiator one more copy of the
 * same result per replay, nothing else). Attempts only ever count up
 * (coordinator-attempt.ts), so a share whose attempt is over never matches again. Its sender's audit anchor is still recorded (audit-anchors.ts): the same envelope
 * again carries the same head, which changes nothing either. And a party could always send
 * the same share again in a fresh envelope, which no mark would stop: a replay adds nothing.
 */
export const COORDINATOR_STEPS_WITHOUT_MARK: ReadonlySet<string> = new Set<string>([MessageType.signShare]);

/** Whether the coordinator checks a message of `type` against, and remembers it in, its replay marks. */
export function coordinatorMarksReplays(type: string): boolean {
  return !COORDINATOR_STEPS_WITHOUT_MARK.has(type);
}

/**
 * Initiator requests whose replay mark is written only when they are refused: once one is
 * processed, its session (keyed by the request's session id, kept `sessionTtlSeconds`)
 * answers every repeat — the same request gets the existing session's phase or outcome
 * again, another request under that id is refused as a conflict (coordinator-requests.ts
 * `onRepeatedRequest`) — so the mark would only cost a write per signature. The phase is
 * sent again only while no party has answered (a first delivery that crashed before sending
 * it): every signer holds the relayed request, and a replay must not make the coordinator
 * send rounds over and over. A refused one
 * left no session to answer from, so it is marked as before. Both hold only while the
 * session outlives the window in which the envelope could pass the freshness check (what a
 * mark is kept for, replay-guard.ts); with a shorter session lifetime every request is marked.
 */
export const REQUESTS_MARKED_ONLY_WHEN_REFUSED: ReadonlySet<string> = new Set<string>([MessageType.signRequest]);

/** Whether the coordinator remembers a processed (not refused) message of `type`. */
export function coordinatorMarksProcessed(type: string, limits: Pick<Limits, 'sessionTtlSeconds' | 'maxMessageAgeMs' | 'maxClockSkewMs'>): boolean {
  if (!coordinatorMarksReplays(type)) return false;
  if (!REQUESTS_MARKED_ONLY_WHEN_REFUSED.has(type)) return true;
  return limits.sessionTtlSeconds < replayWindowSeconds(limits);
}
