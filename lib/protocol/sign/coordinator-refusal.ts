/**
 * A party refused a signing message, coordinator side. A refusing signer of the current
 * attempt, or too few parties left to sign, means a fresh attempt without it (or failure);
 * otherwise the refusal is recorded and collecting goes on. A refusal of an earlier attempt
 * changes nothing.
 */
import { RefusalCode } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import type { LogLine, Step } from '../coordinator-step.js';
import { parseBody } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';
import { eligible, nextAttempt } from './coordinator-attempt.js';

export function onSignRefusal(session: SignSession, key: KeyRecord, envelope: Envelope): Step<SignSession> {
  const body = parseBody(envelope, MessageType.partyRefused);
  if (Object.hasOwn(session.refused, envelope.from) || session.phase === 'done' || session.phase === 'failed') return { resend: false };
  const logs: LogLine[] =
    body.code === RefusalCode.nonceReuse
      ? [{ level: 'error', message: 'party refused a second package for a spent nonce', fields: { session: envelope.session, party: envelope.from } }]
      : [];
  // A refusal of an earlier attempt (most often a party turning away the old attempt's
  // messages after the key moved to a new epoch) says nothing about this one: the party was
  // asked again and answers for the current attempt.
  if (body.attempt !== undefined && body.attempt < session.attempt) return { resend: false, logs };
  const next = { ...session, refused: { ...session.refused, [envelope.from]: { code: body.code, reason: body.reason } } };
  const wasSigner = session.phase === 'sign' && session.signers.includes(envelope.from) && body.attempt === session.attempt;
  if (wasSigner || eligible(next, key).length < key.threshold) return { next: nextAttempt(next, key, body.code), resend: false, logs };
  return { next, resend: false, logs };
}
