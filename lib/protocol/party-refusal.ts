/**
 * Telling the coordinator why a message was refused. Blame is never this party's word: a
 * keygen refusal may carry an accusation with evidence anyone can check (dkg-blame.ts),
 * and says `abandoned` when this party gave the session up for good.
 */
import type { RefusedError } from '../ports/errors.js';
import { abandonAfterRefusal } from './keygen/party-abandon.js';
import { MessageType, type Envelope } from './messages.js';
import { abandonReshareAfterRefusal } from './reshare/party-abandon.js';
import type { PartyContext } from './party-context.js';

/** Keygen messages a party accepts: refusing one may abandon the session. */
export const KEYGEN_INBOUND = new Set<string>([
  MessageType.dkgStart,
  MessageType.dkgRound2,
  MessageType.dkgRound3,
  MessageType.dkgConfirm,
  MessageType.dkgAbort,
]);

/** Refresh/reshare messages a party accepts: refusing one may abandon the session. */
export const RESHARE_INBOUND = new Set<string>([
  MessageType.reshareStart,
  MessageType.reshareDeal,
  MessageType.reshareShares,
  MessageType.reshareConfirm,
  MessageType.reshareAbort,
]);

export async function reportRefusal(ctx: PartyContext, envelope: Envelope, error: RefusedError): Promise<void> {
  // The body is whatever the sender signed: refused messages include ones whose body is no
  // object at all (null, absent), and reading a field of those must not throw.
  const body: unknown = envelope.body;
  const attempt = typeof body === 'object' && body !== null && 'attempt' in body ? body.attempt : undefined;
  ctx.log.warn('request refused', { party: ctx.id, code: error.code, reason: error.message, type: envelope.type, session: envelope.session });
  const keygen = KEYGEN_INBOUND.has(envelope.type) || RESHARE_INBOUND.has(envelope.type);
  const abandoned = KEYGEN_INBOUND.has(envelope.type)
    ? await abandonAfterRefusal(ctx, envelope, error)
    : RESHARE_INBOUND.has(envelope.type) && envelope.type !== MessageType.reshareConfirm && envelope.type !== MessageType.reshareAbort
      ? await abandonReshareAfterRefusal(ctx, envelope, error)
      : undefined;
  await ctx.send(MessageType.partyRefused, envelope.session, {
    inResponseTo: envelope.type,
    ...(typeof attempt === 'number' ? { attempt } : {}),
    code: abandoned?.code ?? error.code,
    reason: (abandoned?.reason ?? error.message).slice(0, 500),
    ...(abandoned !== undefined ? { abandoned: true } : {}),
    ...(abandoned?.accusation !== undefined ? { accusation: abandoned.accusation } : {}),
    // Signing: name whose signed message failed (e.g. an invalid commitment). The evidence
    // is that party's own signed envelope, which the coordinator already holds and checks.
    ...(!keygen && error.blame[0] !== undefined ? { accusation: { accused: error.blame[0] } } : {}),
  });
}
