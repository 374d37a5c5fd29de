/**
 * DKG round 1, coordinator side: collects one signed round-1 package per party. A package
 * that does not fit the session is refused on receipt, naming its signed sender, so it can
 * never reach another party's round 2. With every package in, the session moves to round 2.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeygenSession } from '../coordinator-state.js';
import { allOf, contribute, type Step, type TransitionContext } from '../coordinator-step.js';
import { parseBody } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';

export function onRound1(session: KeygenSession, envelope: Envelope, context: Pick<TransitionContext, 'suite'>): Step<KeygenSession> {
  const body = parseBody(envelope, MessageType.dkgRound1);
  if (body.keyId !== session.keyId || body.package.commitment.length !== session.threshold) {
    // RFC 9591 Appendix C: a round-1 commitment has exactly t coefficients.
    throw new RefusedError(RefusalCode.inconsistentPackage, `round-1 package from "${envelope.from}" does not fit key "${session.keyId}" (key id or threshold)`, {
      blame: envelope.from,
    });
  }
  if (body.package.identifier !== context.suite.frost.Identifier.derive(envelope.from)) {
    throw new RefusedError(RefusalCode.wrongIdentifier, `round-1 package from "${envelope.from}" carries another identifier`, { blame: envelope.from });
  }
  return contribute(session, 'round1', 'round1', envelope, (next) => (allOf(next.round1, next.parties) ? { ...next, phase: 'round2' } : next));
}
