/**
 * Signing round 1, coordinator side: collects signed nonce commitments for the current
 * attempt. Each fresh commitment is checked on receipt (valid group elements, RFC 9591 §3.1;
 * never used before with this key, §7.3), so a bad one names its sender and never reaches a
 * signing package. The first t to commit become the signers, fixed once by this transition.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { CommitmentUse, KeyRecord, SignSession } from '../coordinator-state.js';
import { contribute, type Step, type TransitionContext } from '../coordinator-step.js';
import { parseBody } from '../envelope.js';
import { invalidCommitment } from '../frost-wire.js';
import { MessageType, type Envelope } from '../messages.js';
import { eligible, nextAttempt } from './coordinator-attempt.js';

/** `priorUse`: who used this commitment's hiding element with this key before, if anyone (read from the claims). */
export function onCommitment(
  session: SignSession,
  key: KeyRecord,
  envelope: Envelope,
  priorUse: CommitmentUse | undefined,
  context: Pick<TransitionContext, 'suite'>,
): Step<SignSession> {
  const body = parseBody(envelope, MessageType.signCommitment);
  // A one-round attempt asked nobody to commit: its signers' commitments are the pooled ones.
  if (session.pooled !== undefined) return { resend: false };
  if (body.attempt !== session.attempt || session.excluded.includes(envelope.from)) return { resend: false };
  if (body.commitment.identifier !== context.suite.frost.Identifier.derive(envelope.from)) {
    throw new RefusedError(RefusalCode.wrongIdentifier, `commitment from "${envelope.from}" carries another identifier`, { blame: envelope.from });
  }
  const contributeIt = () =>
    contribute(session, 'commitments', 'commit', envelope, (next) => {
      const committed = Object.keys(next.commitments).sort();
      return committed.length >= key.threshold ? { ...next, phase: 'sign', signers: committed } : next;
    });
  // A repeat, a second commitment for this attempt, or one for a finished session:
  // contribute() answers those, and nothing from them can reach a signing package.
  if (Object.hasOwn(session.commitments, envelope.from) || session.phase === 'done' || session.phase === 'failed') return contributeIt();
  const use = { session: envelope.session, attempt: session.attempt, party: envelope.from };
  const fault = invalidCommitment(context.suite, body.commitment, envelope.from) ?? reuse(key, use, priorUse);
  if (fault !== undefined) return excludeCommitter(session, key, envelope.from, fault);
  const step = contributeIt();
  if (step.next === undefined || priorUse !== undefined) return step;
  // RFC 9591 §7.3: the commitment is claimed for this key in the same transaction that puts
  // it into the session. No TTL: a claim must outlive every session of the key (keys do not
  // expire), and at about 100 bytes per signer per signature that is cheap.
  return { ...step, claims: [{ keyId: key.keyId, hiding: body.commitment.hiding, use }] };
}

/** A commitment already used elsewhere (another session, attempt or party) is refused, naming its sender. */
function reuse(key: KeyRecord, use: CommitmentUse, priorUse: CommitmentUse | undefined): RefusedError | undefined {
  if (priorUse === undefined || (priorUse.session === use.session && priorUse.attempt === use.attempt && priorUse.party === use.party)) {
    return undefined;
  }
  return new RefusedError(
    RefusalCode.commitmentReused,
    `nonce commitment from "${use.party}" was already used with key "${key.keyId}" (session ${priorUse.session}, attempt ${priorUse.attempt})`,
    { blame: use.party },
  );
}

/**
 * A party whose fresh commitment proves it faulty is excluded for the session. Before the
 * signers are fixed, collecting goes on without it unless too few parties remain (then the
 * session fails naming it); after, it was not a signer, so nothing else changes.
 */
function excludeCommitter(session: SignSession, key: KeyRecord, party: string, fault: RefusedError): Step<SignSession> {
  const next = { ...session, excluded: [...session.excluded, party] };
  const tooFew = session.phase === 'commit' && eligible(next, key).length < key.threshold;
  return { next: tooFew ? nextAttempt(next, key, fault.code) : next, resend: false, refusal: fault };
}
