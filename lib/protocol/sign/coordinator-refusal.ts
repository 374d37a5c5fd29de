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
import { eligible, fallBackToTwoRounds, nextAttempt } from './coordinator-attempt.js';

/** Refusal codes a party gives for its pooled entry only (party-pooled.ts), never for the request. */
const POOL_ONLY_REFUSALS: ReadonlySet<string> = new Set([RefusalCode.wrongRound, RefusalCode.missingCommitment, RefusalCode.incorrectCommitment, RefusalCode.stale]);

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
  // A one-round signer turning away only its pooled entry (lost, spent, expired, pools off
  // there) would sign in two rounds: fall back without counting it as a refusal, so a key
  // with exactly t parties up still signs.
  if (session.pooled !== undefined && session.phase === 'sign' && body.attempt === session.attempt && POOL_ONLY_REFUSALS.has(body.code)) {
    return {
      next: fallBackToTwoRounds(session),
      resend: false,
      // Its other entries are as likely gone (a restored table, pools turned off there): no more one-round packages for it until it publishes a new batch.
      forgetPools: [envelope.from],
      logs: [...logs, { level: 'warn', message: 'one-round signer refused its pooled entry: two rounds', fields: { session: envelope.session, party: envelope.from, code: body.code } }],
    };
  }
  const next = { ...session, refused: { ...session.refused, [envelope.from]: { code: body.code, reason: body.reason } } };
  const wasSigner = session.phase === 'sign' && session.signers.includes(envelope.from) && body.attempt === session.attempt;
  if (wasSigner || eligible(next, key).length < key.threshold) return { next: nextAttempt(next, key, body.code), resend: false, logs };
  return { next, resend: false, logs };
}
