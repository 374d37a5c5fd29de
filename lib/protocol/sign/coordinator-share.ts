/**
 * Signing round 2, coordinator side: collects the signers' signature shares. On receipt only
 * the cheap checks run (the share is for this attempt's signing package and is a canonical
 * scalar); a share failing them identifies its signed sender: it is excluded and a fresh
 * attempt starts without it. With every share in, the signature is aggregated; shares are
 * verified one by one (RFC 9591 §5.4) only if the aggregate does not verify, and exactly the
 * signers whose shares fail are excluded (coordinator-aggregate.ts).
 */
import { RefusalCode } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import type { LogLine, Step, TransitionContext } from '../coordinator-step.js';
import { parseBody } from '../envelope.js';
import { decodeSuiteHex, signingPackageHash } from '../frost-wire.js';
import { MessageType, type Envelope } from '../messages.js';
import { aggregate, requestMessage, signerCommitments } from './coordinator-aggregate.js';
import { nextAttempt } from './coordinator-attempt.js';

export function onShare(session: SignSession, key: KeyRecord, envelope: Envelope, context: Pick<TransitionContext, 'suite'>): Step<SignSession> {
  const body = parseBody(envelope, MessageType.signShare);
  if (body.attempt !== session.attempt || !session.signers.includes(envelope.from)) return { resend: false };
  const existing = Object.hasOwn(session.shares, envelope.from) ? session.shares[envelope.from] : undefined;
  // The very share recorded, again (it keeps no replay mark: replay-exemptions.ts): only if
  // it moved the session on (its last share: the outcome) may a crash have kept that from
  // being sent. While the attempt waits for shares, recording one sent nothing to send again.
  if (existing !== undefined || session.phase !== 'sign') return { resend: existing?.id === envelope.id && session.phase !== 'sign' };
  if (!wellFormedShare(session, key, envelope, body, context)) {
    return { next: nextAttempt({ ...session, excluded: [...session.excluded, envelope.from] }, key, 'cheater-detected'), resend: false, logs: [invalidShareLog(envelope.session, session.attempt, envelope.from)] };
  }
  const next = { ...session, shares: { ...session.shares, [envelope.from]: envelope } };
  if (!session.signers.every((p) => Object.hasOwn(next.shares, p))) return { next, resend: false };
  const after = aggregate(next, key, context.suite);
  const blamed = after.excluded.filter((p) => !next.excluded.includes(p));
  return { next: after, resend: false, ...(blamed.length > 0 ? { logs: blamed.map((p) => invalidShareLog(envelope.session, session.attempt, p)) } : {}) };
}

function invalidShareLog(session: string, attempt: number, blame: string): LogLine {
  return { level: 'warn', message: 'invalid signature share', fields: { session, blame, attempt, code: RefusalCode.invalidShare } };
}

/**
 * The share is for this attempt's signing package and is a canonical scalar of the key's
 * suite. Whether it verifies under the sender's verifying share is left to aggregation.
 */
function wellFormedShare(
  session: SignSession,
  key: KeyRecord,
  envelope: Envelope,
  body: { packageHash: string; share: string },
  { suite }: Pick<TransitionContext, 'suite'>,
): boolean {
  const expectedHash = signingPackageHash({ session: envelope.session, attempt: session.attempt, keyId: key.keyId, message: requestMessage(session), commitments: signerCommitments(session) });
  if (body.packageHash !== expectedHash) return false;
  try {
    // RFC 9591 §3.1 DeserializeScalar: a share ≥ the group order is invalid like any other.
    suite.frost.utils.Fn.fromBytes(decodeSuiteHex(suite, 'scalar', body.share, 'share'));
    return true;
  } catch {
    return false;
  }
}
