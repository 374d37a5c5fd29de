/**
 * A refresh/reshare session, coordinator side: each participant's signed round 1, each
 * dealer's signed dealing, each new party's signed `reshare.done`, checked on receipt
 * (naming a sender whose signed message does not fit), and a refusal ending the session.
 * With every new party's attestation of the same package in, the session is done and the
 * key record moves to the next epoch in the same write.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeyRecord, ReshareSession } from '../coordinator-state.js';
import { allOf, contribute, required, type LogLine, type Step, type TransitionContext } from '../coordinator-step.js';
import { deriveSessionId, parseBody } from '../envelope.js';
import { groupKeyOf, publicPackageHash } from '../frost-wire.js';
import { MessageType, type Envelope, type ResultError } from '../messages.js';
import { judgeDealingAccusation } from './blame.js';
import { participantsOfSession } from './coordinator-intake.js';
import { round1HashOf, round1KeysProblem } from './transcripts.js';

export function applyReshare(session: ReshareSession, key: KeyRecord, envelope: Envelope, context: TransitionContext): Step<ReshareSession> {
  const participants = participantsOfSession(session);
  if (!participants.includes(envelope.from)) {
    throw new RefusedError(RefusalCode.unexpectedSender, `"${envelope.from}" is not a participant of this reshare of key "${session.keyId}"`);
  }
  const keyHash = key.publicPackageHash;
  switch (envelope.type) {
    case MessageType.reshareRound1: {
      const body = parseBody(envelope, MessageType.reshareRound1);
      if (body.keyId !== session.keyId || body.epoch !== session.fromEpoch || (session.dealers.includes(envelope.from) && body.publicPackageHash !== keyHash)) {
        throw new RefusedError(RefusalCode.inconsistentPackage, `reshare round 1 from "${envelope.from}" does not fit key "${session.keyId}" at epoch ${session.fromEpoch}`, { blame: envelope.from });
      }
      // Checked on receipt (low-order keys too): no dealer meets a key it cannot seal to, and the sender is named.
      const wrongKeys = round1KeysProblem(body, envelope.from, session);
      if (wrongKeys !== undefined) throw new RefusedError(RefusalCode.inconsistentPackage, wrongKeys, { blame: envelope.from });
      return contribute(session, 'round1', 'round1', envelope, (next) => (allOf(next.round1, participants) ? { ...next, phase: 'deal' } : next));
    }
    case MessageType.reshareDealing: {
      const body = parseBody(envelope, MessageType.reshareDealing);
      const expected = session.mode === 'refresh' ? session.threshold - 1 : session.threshold;
      const recipients = Object.keys(body.shares).sort();
      if (
        !session.dealers.includes(envelope.from) ||
        body.keyId !== session.keyId ||
        body.epoch !== session.fromEpoch ||
        body.publicPackageHash !== keyHash ||
        body.round1Hash !== round1HashOf(session) ||
        body.commitments.length !== expected ||
        JSON.stringify(recipients) !== JSON.stringify(session.parties)
      ) {
        throw new RefusedError(RefusalCode.inconsistentPackage, `dealing from "${envelope.from}" does not fit this reshare`, { blame: envelope.from });
      }
      return contribute(session, 'dealings', 'deal', envelope, (next) => (allOf(next.dealings, next.dealers) ? { ...next, phase: 'shares' } : next));
    }
    case MessageType.reshareDone: {
      const body = parseBody(envelope, MessageType.reshareDone);
      if (
        !session.parties.includes(envelope.from) ||
        body.keyId !== session.keyId ||
        body.suite !== context.suite.id ||
        body.threshold !== session.threshold ||
        JSON.stringify(body.parties) !== JSON.stringify(session.parties) ||
        body.epoch !== session.fromEpoch + 1 ||
        body.keygenPackageHash !== (key.keygenPackageHash ?? key.publicPackageHash) ||
        body.groupKey !== key.publicKey ||
        publicPackageHash(body.publicPackage) !== body.publicPackageHash ||
        groupKeyOf(context.suite, body.publicPackage) !== body.groupKey
      ) {
        throw new RefusedError(RefusalCode.inconsistentPackage, `reshare.done from "${envelope.from}" is inconsistent`, { blame: envelope.from });
      }
      const step = contribute(session, 'done', 'shares', envelope, (next) => (allOf(next.done, next.parties) ? finish(next) : next));
      return step.next?.phase === 'done' ? { ...step, rekey: { record: nextKeyRecord(step.next, key, context.now), fromEpoch: session.fromEpoch } } : step;
    }
    case MessageType.partyRefused:
      return onRefusal(session, envelope, context);
    default:
      throw new RefusedError(RefusalCode.wrongRound, `${envelope.type} does not belong to a reshare session`);
  }
}

function finish(session: ReshareSession): ReshareSession {
  const hashes = new Set(Object.values(session.done).map((e) => parseBody(e, MessageType.reshareDone).publicPackageHash));
  if (hashes.size !== 1) return { ...session, phase: 'failed', error: { code: 'reshare-mismatch', message: 'new parties finished with different public packages' } };
  return { ...session, phase: 'done' };
}

function nextKeyRecord(session: ReshareSession, key: KeyRecord, now: number): KeyRecord {
  const [first] = session.parties;
  const done = parseBody(required(session.done, first ?? '', 'reshare.done'), MessageType.reshareDone);
  return {
    ...key,
    threshold: session.threshold,
    parties: [...session.parties],
    publicPackage: done.publicPackage,
    publicPackageHash: done.publicPackageHash,
    attestations: session.parties.map((p) => required(session.done, p, 'reshare.done')),
    epoch: session.fromEpoch + 1,
    keygenPackageHash: key.keygenPackageHash ?? key.publicPackageHash,
    session: deriveSessionId(session.initiator, session.requestId),
    createdAt: now,
  };
}

function onRefusal(session: ReshareSession, envelope: Envelope, context: Pick<TransitionContext, 'suite' | 'directory'>): Step<ReshareSession> {
  const body = parseBody(envelope, MessageType.partyRefused);
  if (Object.hasOwn(session.refused, envelope.from) || session.phase === 'done' || session.phase === 'failed') {
    return { resend: session.abandonment?.id === envelope.id };
  }
  const refused = `party "${envelope.from}" refused: ${body.reason}`;
  let error: ResultError = { code: body.code, message: refused };
  const logs: LogLine[] = [];
  if (body.accusation !== undefined) {
    const verdict = judgeDealingAccusation(envelope, session, context);
    logs.push({ level: 'warn', message: 'reshare accusation judged', fields: { session: envelope.session, ...verdict } });
    error = verdict.holds
      ? { code: body.code, message: `${refused}; the coordinator checked the evidence: ${verdict.finding}`, blame: [verdict.faulty] }
      : { code: 'cheater-detected', message: `party "${envelope.from}" made an accusation its evidence does not support: ${verdict.finding}`, blame: [verdict.faulty] };
  }
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
