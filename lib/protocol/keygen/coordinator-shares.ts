/**
 * DKG round 2, coordinator side: collects each party's signed `dkg.shares` (one share sealed
 * to each other party; the coordinator cannot open them). Shares for the wrong recipients are
 * refused on receipt, naming the sender. With every party's shares in, round 3 starts.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeygenSession } from '../coordinator-state.js';
import { allOf, contribute, type Step } from '../coordinator-step.js';
import { parseBody } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';

export function onShares(session: KeygenSession, envelope: Envelope): Step<KeygenSession> {
  const body = parseBody(envelope, MessageType.dkgShares);
  const recipients = Object.keys(body.shares).sort();
  const expected = session.parties.filter((p) => p !== envelope.from);
  if (body.keyId !== session.keyId || JSON.stringify(recipients) !== JSON.stringify(expected)) {
    throw new RefusedError(RefusalCode.inconsistentPackage, `shares from "${envelope.from}" do not cover exactly the other parties of key "${session.keyId}"`, {
      blame: envelope.from,
    });
  }
  return contribute(session, 'shares', 'round2', envelope, (next) => (allOf(next.shares, next.parties) ? { ...next, phase: 'round3' } : next));
}
