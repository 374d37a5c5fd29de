/**
 * A party refused a keygen message, coordinator side. DKG needs every party, so one refusal
 * ends the keygen. A party's word never blames anyone: an accusation is judged on the signed
 * transcript the session holds (dkg-blame.ts), and one whose evidence does not hold names
 * the accuser. A refusal that abandons the session is kept, to relay in `dkg.abort`.
 */
import type { KeygenSession } from '../coordinator-state.js';
import type { LogLine, Step, TransitionContext } from '../coordinator-step.js';
import { judgeAccusation } from '../dkg-blame.js';
import { parseBody } from '../envelope.js';
import { MessageType, type Envelope, type PartyRefusedBody, type ResultError } from '../messages.js';

export function onKeygenRefusal(session: KeygenSession, envelope: Envelope, context: Pick<TransitionContext, 'suite' | 'directory'>): Step<KeygenSession> {
  const body = parseBody(envelope, MessageType.partyRefused);
  if (Object.hasOwn(session.refused, envelope.from) || session.phase === 'done' || session.phase === 'failed') {
    // The very refusal that failed the session, delivered again (a crash before sending): send the aborts again.
    return { resend: session.abandonment?.id === envelope.id };
  }
  const { error, logs } = refusalError(session, envelope, body, context);
  return {
    next: {
      ...session,
      refused: { ...session.refused, [envelope.from]: { code: body.code, reason: body.reason } },
      phase: 'failed',
      error,
      ...(body.abandoned === true ? { abandonment: envelope } : {}),
    },
    resend: false,
    logs,
  };
}

/** Why the refused keygen failed, and whom the evidence blames. */
function refusalError(
  session: KeygenSession,
  refusal: Envelope,
  body: PartyRefusedBody,
  context: Pick<TransitionContext, 'suite' | 'directory'>,
): { error: ResultError; logs: LogLine[] } {
  const refused = `party "${refusal.from}" refused: ${body.reason}`;
  if (body.accusation === undefined) return { error: { code: body.code, message: refused }, logs: [] };
  const verdict = judgeAccusation(refusal, { request: session.request, round1: Object.values(session.round1), shares: Object.values(session.shares) }, context);
  const logs: LogLine[] = [
    {
      level: 'warn',
      message: 'dkg accusation judged',
      fields: { session: refusal.session, accuser: verdict.accuser, accused: verdict.accused, holds: verdict.holds, faulty: verdict.faulty, finding: verdict.finding },
    },
  ];
  const error: ResultError = verdict.holds
    ? { code: body.code, message: `${refused}; the coordinator checked the evidence: ${verdict.finding}`, blame: [verdict.faulty] }
    : { code: 'cheater-detected', message: `party "${refusal.from}" made an accusation its evidence does not support: ${verdict.finding}`, blame: [verdict.faulty] };
  return { error, logs };
}
