/**
 * The nonce commitments of a signing package, checked before any nonce is touched: each
 * relayed commitment signed by its party (or its currently certified delegated key), for this session and attempt, once, made of
 * valid group elements; and this party's own exactly as it committed it. Pure.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { CertificateCheck } from '../delegation.js';
import { verifyRelayed } from '../envelope.js';
import { invalidCommitment, sortCommitments } from '../frost-wire.js';
import { MessageType, type Envelope, type NonceCommitment } from '../messages.js';
import type { PartyView } from '../party-context.js';
import type { KeyShareRecord } from '../party-state.js';

/** The verified commitments, sorted by identifier. */
export function verifyCommitments(
  view: PartyView,
  envelopes: readonly Envelope[],
  session: string,
  attempt: number,
  share: Pick<KeyShareRecord, 'parties' | 'threshold'>,
  /** The receiver's clock and limits, to accept commitments signed by delegated keys. */
  certificates?: CertificateCheck,
): NonceCommitment[] {
  const seen = new Set<string>();
  const list: NonceCommitment[] = [];
  for (const relayed of envelopes) {
    const body = verifyRelayed(relayed, {
      type: MessageType.signCommitment,
      session,
      directory: view.directory,
      role: 'party',
      ...(certificates !== undefined ? { certificates } : {}),
    });
    if (!share.parties.includes(relayed.from) || seen.has(relayed.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `unexpected or repeated commitment from "${relayed.from}"`);
    }
    if (body.attempt !== attempt || body.commitment.identifier !== view.identifierOf(relayed.from)) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `commitment from "${relayed.from}" is for another attempt or identifier`);
    }
    // Before any nonce is touched: a bad element would make signShare fail with no culprit.
    const invalid = invalidCommitment(view.suite, body.commitment, relayed.from);
    if (invalid !== undefined) throw invalid;
    seen.add(relayed.from);
    list.push(body.commitment);
  }
  if (list.length < share.threshold) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `signing package has ${list.length} commitments, threshold is ${share.threshold}`);
  }
  return sortCommitments(list);
}

/**
 * frost-rs habit: this party's commitment is in the package, exactly as it committed it,
 * before its nonce is touched.
 */
export function assertOwnCommitment(commitments: readonly NonceCommitment[], identifier: string, committed: NonceCommitment): void {
  const own = commitments.find((c) => c.identifier === identifier);
  const refusal = 'signing package does not contain this party\'s commitment';
  if (own === undefined) throw new RefusedError(RefusalCode.missingCommitment, refusal);
  if (own.hiding !== committed.hiding || own.binding !== committed.binding) throw new RefusedError(RefusalCode.incorrectCommitment, refusal);
}
