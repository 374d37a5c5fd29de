/**
 * Signing round 2, coordinator side: collects the signers' signature shares and verifies
 * each against the signing package (RFC 9591 §5.4). An invalid share identifies its signed
 * sender: it is excluded and a fresh attempt starts without it. With every share in, the
 * signature is aggregated.
 */
import { RefusalCode } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import type { Step, TransitionContext } from '../coordinator-step.js';
import { decodeHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { commitmentFromWire, decodeSuiteHex, signingPackageHash } from '../frost-wire.js';
import { MessageType, type Envelope } from '../messages.js';
import { aggregate, requestMessage, sessionSigningKey, signerCommitments } from './coordinator-aggregate.js';
import { nextAttempt } from './coordinator-attempt.js';

export function onShare(session: SignSession, key: KeyRecord, envelope: Envelope, context: Pick<TransitionContext, 'suite'>): Step<SignSession> {
  const body = parseBody(envelope, MessageType.signShare);
  if (body.attempt !== session.attempt || !session.signers.includes(envelope.from)) return { resend: false };
  const existing = Object.hasOwn(session.shares, envelope.from) ? session.shares[envelope.from] : undefined;
  if (existing !== undefined || session.phase !== 'sign') return { resend: existing?.id === envelope.id };
  if (!validShare(session, key, envelope, body, context)) {
    return {
      next: nextAttempt({ ...session, excluded: [...session.excluded, envelope.from] }, key, 'cheater-detected'),
      resend: false,
      logs: [
        {
          level: 'warn',
          message: 'invalid signature share',
          fields: { session: envelope.session, blame: envelope.from, attempt: session.attempt, code: RefusalCode.invalidShare },
        },
      ],
    };
  }
  const next = { ...session, shares: { ...session.shares, [envelope.from]: envelope } };
  return { next: session.signers.every((p) => Object.hasOwn(next.shares, p)) ? aggregate(next, key, context.suite) : next, resend: false };
}

/** The share is for this attempt's signing package and verifies under the sender's verifying share. */
function validShare(
  session: SignSession,
  key: KeyRecord,
  envelope: Envelope,
  body: { packageHash: string; share: string },
  { suite }: Pick<TransitionContext, 'suite'>,
): boolean {
  const commitments = signerCommitments(session);
  const message = requestMessage(session);
  const expectedHash = signingPackageHash({ session: envelope.session, attempt: session.attempt, keyId: key.keyId, message, commitments });
  if (body.packageHash !== expectedHash) return false;
  try {
    return (
      suite.frost.verifyShare(
        sessionSigningKey(session, key, suite).publicPackage,
        commitments.map((c) => commitmentFromWire(suite, c)),
        decodeHex(message, 'message'),
        suite.frost.Identifier.derive(envelope.from),
        decodeSuiteHex(suite, 'scalar', body.share, 'share'),
      )
    );
  } catch {
    // A share that is no canonical scalar (≥ L) makes noble throw: RFC 9591 §3.1
    // DeserializeScalar fails, so it is an invalid share like any other. Everything else
    // verifyShare decodes was checked before (key record, commitments on receipt).
    return false;
  }
}
