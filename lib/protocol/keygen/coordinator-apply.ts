/** A keygen session, coordinator side: which round's transition a party's message goes to. */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeygenSession } from '../coordinator-state.js';
import type { Step, TransitionContext } from '../coordinator-step.js';
import { MessageType, type Envelope } from '../messages.js';
import { onDone } from './coordinator-done.js';
import { onKeygenRefusal } from './coordinator-refusal.js';
import { onRound1 } from './coordinator-round1.js';
import { onShares } from './coordinator-shares.js';

/** `envelope` is authenticated (signed by its sender, fresh, not replayed); everything else is checked here. */
export function applyKeygen(session: KeygenSession, envelope: Envelope, context: TransitionContext): Step<KeygenSession> {
  if (!session.parties.includes(envelope.from)) {
    throw new RefusedError(RefusalCode.unexpectedSender, `"${envelope.from}" is not a party of key "${session.keyId}"`);
  }
  switch (envelope.type) {
    case MessageType.dkgRound1:
      return onRound1(session, envelope, context);
    case MessageType.dkgShares:
      return onShares(session, envelope);
    case MessageType.dkgDone:
      return onDone(session, envelope, context);
    case MessageType.partyRefused:
      return onKeygenRefusal(session, envelope, context);
    default:
      throw new RefusedError(RefusalCode.wrongRound, `${envelope.type} does not belong to a keygen session`);
  }
}
