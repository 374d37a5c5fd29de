/**
 * Which inbound messages a party marks as seen (replay-guard.ts): all but the steps listed
 * here, whose repeat is harmless because stored state alone makes it so.
 */
import { MessageType } from './messages.js';

/**
 * Steps a party runs without a replay mark: no seen-id read, no check, no put. Each is
 * idempotent from the state it stores under conditional writes, so a duplicate (SQS
 * redelivery, or anyone replaying a captured envelope while it is fresh) gets the answer the
 * first delivery got and changes nothing:
 *
 * - `sign.pooled` (sign/party-pooled.ts). The decision: `decideToSign` finds the request's
 *   approval mark (`AuditLog.decided`) and skips the approval quorum and rate-limit checks, so
 *   a repeat takes no rate-limit slot (`RateLimiter.admit` would not count one decision twice
 *   in a window anyway), and `AuditLog.appendOperations` returns no writes for a decision
 *   already recorded: no second audit entry. A refused decision is recorded once too (its
 *   own mark). The nonce: its item, once spent, holds what it was spent on
 *   (party-state.ts `PoolSpentRecord`); the same package and request get the stored share
 *   again (the same scalar: no new equation in the nonce), any other package is refused as
 *   nonce reuse, and a spent nonce never becomes unused again. So a duplicate yields at most
 *   what the coordinator could get by sending a fresh envelope with the same body, which a
 *   replay mark never stopped. A duplicate does re-run the checks: one that fails now (the
 *   request past `maxRequestAgeMs`, the key at another epoch) is refused, and that refusal
 *   audited once, as a redelivery after a crash always could be.
 *   Why bother: the mark cost every signer a read and a put (1 write unit) per signature.
 */
export const STEPS_IDEMPOTENT_FROM_STATE: ReadonlySet<string> = new Set([MessageType.signPooled]);

/** Whether a message of `type` is checked against, and remembered in, the party's replay marks. */
export function hasReplayMark(type: string): boolean {
  return !STEPS_IDEMPOTENT_FROM_STATE.has(type);
}
