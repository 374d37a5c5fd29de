/**
 * DKG round 3, coordinator side: collects each party's signed `dkg.done`, its attestation of
 * the finished key. One that contradicts the session or itself is refused on receipt, naming
 * its sender. With all n in, the keygen finishes (coordinator-finish.ts).
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeygenSession } from '../coordinator-state.js';
import { allOf, contribute, type Step, type TransitionContext } from '../coordinator-step.js';
import { parseBody } from '../envelope.js';
import { groupKeyOf, publicPackageHash } from '../frost-wire.js';
import { MessageType, type Envelope } from '../messages.js';
import { finishKeygen, keyRecord } from './coordinator-finish.js';

export function onDone(session: KeygenSession, envelope: Envelope, context: Pick<TransitionContext, 'suite' | 'now'>): Step<KeygenSession> {
  const body = parseBody(envelope, MessageType.dkgDone);
  if (
    body.keyId !== session.keyId ||
    body.suite !== context.suite.id ||
    body.threshold !== session.threshold ||
    JSON.stringify(body.parties) !== JSON.stringify(session.parties) ||
    publicPackageHash(body.publicPackage) !== body.publicPackageHash ||
    groupKeyOf(context.suite, body.publicPackage) !== body.groupKey
  ) {
    throw new RefusedError(RefusalCode.inconsistentPackage, `dkg.done from "${envelope.from}" is inconsistent`, { blame: envelope.from });
  }
  const step = contribute(session, 'done', 'round3', envelope, (next) => (allOf(next.done, next.parties) ? finishKeygen(next) : next));
  // The key record appears in the same write as the transition that finishes the keygen.
  return step.next?.phase === 'done' ? { ...step, key: keyRecord(step.next, context) } : step;
}
