/** A signing session, coordinator side: which transition a party's message goes to. */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { CommitmentUse, KeyRecord, SignSession } from '../coordinator-state.js';
import type { Step, TransitionContext } from '../coordinator-step.js';
import { MessageType, type Envelope } from '../messages.js';
import { onCommitment } from './coordinator-commitment.js';
import { onSignRefusal } from './coordinator-refusal.js';
import { onShare } from './coordinator-share.js';

/**
 * `envelope` is authenticated (signed by its sender, fresh, and not replayed, but for a
 * `sign.share`, which keeps no replay mark: replay-exemptions.ts); everything else is
 * checked here. `priorUse`: for a `sign.commitment`, who used its hiding element with this
 * key before, if anyone.
 */
export function applySign(
  session: SignSession,
  key: KeyRecord,
  envelope: Envelope,
  priorUse: CommitmentUse | undefined,
  context: TransitionContext,
): Step<SignSession> {
  if (!key.parties.includes(envelope.from)) {
    throw new RefusedError(RefusalCode.unexpectedSender, `"${envelope.from}" holds no share of key "${key.keyId}"`);
  }
  switch (envelope.type) {
    case MessageType.signCommitment:
      return onCommitment(session, key, envelope, priorUse, context);
    case MessageType.signShare:
      return onShare(session, key, envelope, context);
    case MessageType.partyRefused:
      return onSignRefusal(session, key, envelope);
    default:
      throw new RefusedError(RefusalCode.wrongRound, `${envelope.type} does not belong to a signing session`);
  }
}
