/**
 * What a refresh/reshare session's phase sends, coordinator side: start to every current and
 * new party, the round-1 transcript to each dealer, the dealings to each new party, the
 * confirmations to everyone, aborts, and the result to the initiator. Derived from the
 * stored session alone, so sending again after a crash sends the same thing.
 */
import type { ReshareSession } from '../coordinator-state.js';
import { required } from '../coordinator-step.js';
import { toInitiator, toParty, type Outgoing } from '../coordinator-outbox.js';
import { deriveSessionId } from '../envelope.js';
import { MessageType } from '../messages.js';
import { everyoneOf, participantsOfSession } from './coordinator-intake.js';

export function reshareOutbox(session: ReshareSession): Outgoing[] {
  const sessionId = deriveSessionId(session.initiator, session.requestId);
  const { request, attestations: current } = session;
  const participants = participantsOfSession(session);
  const round1 = () => participants.map((p) => required(session.round1, p, 'reshare.round1'));
  switch (session.phase) {
    case 'round1':
      return everyoneOf(session).map((p) => toParty(p, sessionId, MessageType.reshareStart, { request, current }));
    case 'deal':
      return session.dealers.map((p) => toParty(p, sessionId, MessageType.reshareDeal, { request, current, round1: round1() }));
    case 'shares': {
      const dealings = session.dealers.map((p) => required(session.dealings, p, 'reshare.dealing'));
      return session.parties.map((p) => toParty(p, sessionId, MessageType.reshareShares, { request, current, round1: round1(), dealings }));
    }
    case 'done': {
      const done = session.parties.map((p) => required(session.done, p, 'reshare.done'));
      return [...everyoneOf(session).map((p) => toParty(p, sessionId, MessageType.reshareConfirm, { request, done })), reshareResult(session, false)];
    }
    case 'failed': {
      const refusal = session.abandonment;
      const aborts = refusal === undefined ? [] : participants.filter((p) => p !== refusal.from).map((p) => toParty(p, sessionId, MessageType.reshareAbort, { request, refusal }));
      return [...aborts, reshareResult(session, false)];
    }
  }
}

/** The result: the new epoch and its attestations, or why it failed. */
export function reshareResult(session: ReshareSession, duplicate: boolean): Outgoing {
  const fields = { requestId: session.requestId, keyId: session.keyId, duplicate };
  if (session.phase === 'done') {
    const attestations = session.parties.map((p) => required(session.done, p, 'reshare.done'));
    const first = attestations[0];
    const publicKey = first === undefined ? undefined : (first.body as { groupKey?: string }).groupKey;
    return toInitiator(session.request, MessageType.reshareResult, {
      ...fields,
      ...(publicKey !== undefined ? { publicKey } : {}),
      threshold: session.threshold,
      parties: session.parties,
      attestations,
      epoch: session.fromEpoch + 1,
      ok: true,
    });
  }
  return toInitiator(session.request, MessageType.reshareResult, { ...fields, error: session.error ?? { code: 'failed', message: 'reshare failed' }, ok: false });
}
