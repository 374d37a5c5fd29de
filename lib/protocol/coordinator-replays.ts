/**
 * Which messages the coordinator keeps a replay mark for (replay-guard.ts): every one but
 * those whose handling is idempotent from the state they change, where the mark would only
 * cost a read and a write per message.
 */
import { MessageType } from './messages.js';

/**
 * Party messages with no replay mark: a replay of one changes nothing stored and sends
 * nothing a first delivery would not.
 *
 * `sign.share` (sign/coordinator-share.ts `onShare`) is idempotent from its session: a share
 * for another attempt, or from a party that is not a signer of this attempt, is ignored; a
 * share already recorded for its sender changes nothing (nor does any share once the attempt
 * left the sign phase), and at most sends the outcome again when it is the very envelope
 * recorded and the session has finished, which is how a crash before sending is recovered
 * anyway. Attempts only
 * ever count up (coordinator-attempt.ts), so a share whose attempt is over never matches
 * again. Its sender's audit anchor is still recorded (audit-anchors.ts): the same envelope
 * again carries the same head, which changes nothing either. And a party could always send
 * the same share again in a fresh envelope, which no mark would stop: a replay adds nothing.
 */
export const UNMARKED_FROM_PARTY: ReadonlySet<string> = new Set<string>([MessageType.signShare]);

/** Whether `envelope` is checked against, and leaves, a replay mark at the coordinator. */
export function replayMarked(envelope: { readonly type: string }): boolean {
  return !UNMARKED_FROM_PARTY.has(envelope.type);
}
