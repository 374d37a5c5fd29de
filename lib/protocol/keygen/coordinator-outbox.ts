/**
 * What a keygen session's phase sends, coordinator side: each round's transcript to every
 * party (relayed unchanged, signed by its senders), the confirmations, the aborts, and the
 * result to the initiator. Derived from the stored session alone, so sending it again after
 * a crash sends the same thing.
 */
import type { KeygenSession } from '../coordinator-state.js';
import { required } from '../coordinator-step.js';
import { toInitiator, toParty, type Outgoing } from '../coordinator-outbox.js';
import { deriveSessionId } from '../envelope.js';
import { MessageType } from '../messages.js';

export function keygenOutbox(session: KeygenSession): Outgoing[] {
  const sessionId = deriveSessionId(session.initiator, session.requestId);
  const { request, parties } = session;
  const round1 = () => parties.map((p) => required(session.round1, p, 'dkg.round1'));
  switch (session.phase) {
    case 'round1':
      return parties.map((p) => toParty(p, sessionId, MessageType.dkgStart, { request }));
    case 'round2':
      return parties.map((p) => toParty(p, sessionId, MessageType.dkgRound2, { request, round1: round1() }));
    case 'round3':
      return parties.map((p) =>
        toParty(p, sessionId, MessageType.dkgRound3, {
          request,
          round1: round1(),
          shares: parties.filter((q) => q !== p).map((q) => required(session.shares, q, 'dkg.shares')),
        }),
      );
    case 'done': {
      const done = parties.map((p) => required(session.done, p, 'dkg.done'));
      return [...parties.map((p) => toParty(p, sessionId, MessageType.dkgConfirm, { request, done })), keygenResult(session, false)];
    }
    case 'failed': {
      // A party abandoned the keygen: the others get its signed refusal, the proof that the
      // keygen can never finish, and drop their pending shares. Failures without one
      // (timeouts, mismatched public packages) leave pending shares that block no retry.
      const refusal = session.abandonment;
      const aborts = refusal === undefined ? [] : parties.filter((p) => p !== refusal.from).map((p) => toParty(p, sessionId, MessageType.dkgAbort, { request, refusal }));
      return [...aborts, keygenResult(session, false)];
    }
  }
}

/** The keygen result: the key and its n attestations, or why it failed. `duplicate`: an answer to a repeated request. */
export function keygenResult(session: KeygenSession, duplicate: boolean): Outgoing {
  const fields = { requestId: session.requestId, keyId: session.keyId, duplicate };
  if (session.phase === 'done' && session.publicKey !== undefined) {
    return toInitiator(session.request, MessageType.keygenResult, {
      ...fields,
      publicKey: session.publicKey,
      threshold: session.threshold,
      parties: session.parties,
      attestations: session.parties.map((p) => required(session.done, p, 'dkg.done')),
      ok: true,
    });
  }
  return toInitiator(session.request, MessageType.keygenResult, { ...fields, error: session.error ?? { code: 'failed', message: 'keygen failed' }, ok: false });
}
