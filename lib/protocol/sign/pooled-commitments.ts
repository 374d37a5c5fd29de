/**
 * The pooled commitments of a one-round signing package (`sign.pooled`), checked before any
 * nonce is touched: each entry is its party's own signed `pool.batch`, relayed unchanged, and
 * an index into it. Pure.
 *
 * Only identity-signed batches count: a batch is relayed for as long as it lives (a day by
 * default), far beyond any delegated key's certificate, and a stolen delegated key must not be
 * able to publish commitments in its holder's name.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { verifyRelayed } from '../envelope.js';
import { invalidCommitment, sortCommitments } from '../frost-wire.js';
import { MessageType, type NonceCommitment, type PooledCommitment } from '../messages.js';
import type { PartyView } from '../party-context.js';
import type { KeyShareRecord } from '../party-state.js';

/** One signer's pooled entry: which batch, which entry of it, and the commitment there. */
export interface PooledEntry {
  readonly batchId: string;
  readonly index: number;
  readonly commitment: NonceCommitment;
}

export interface VerifiedPooledCommitments {
  /** Every signer's commitment, sorted by identifier (the package's order). */
  readonly commitments: NonceCommitment[];
  /** This party's own entry: the pool nonce the package asks it to spend. */
  readonly own: PooledEntry;
}

/** What the batches must be for: the request's key, this party's share epoch, and the receiver's clock (epoch ms). */
export interface PooledExpectation {
  readonly keyId: string;
  readonly epoch: number;
  readonly now: number;
}

/** Checks every entry and returns the commitments with this party's own entry. */
export function verifyPooledCommitments(
  view: PartyView,
  pooled: readonly PooledCommitment[],
  expected: PooledExpectation,
  share: Pick<KeyShareRecord, 'parties' | 'threshold'>,
): VerifiedPooledCommitments {
  const seen = new Set<string>();
  const list: NonceCommitment[] = [];
  let own: PooledEntry | undefined;
  for (const { batch, index } of pooled) {
    // Membership first: a package padded with batches of strangers costs no signature check.
    const sender = batch.from;
    if (!share.parties.includes(sender) || seen.has(sender)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `unexpected or repeated pooled commitment from "${sender}"`);
    }
    // No `certificates`: a batch signed by a delegated key is refused.
    const body = verifyRelayed(batch, { type: MessageType.poolBatch, session: batch.session, directory: view.directory, role: 'party' });
    if (body.keyId !== expected.keyId) throw new RefusedError(RefusalCode.inconsistentPackage, `pooled commitment from "${sender}" is for key "${body.keyId}"`);
    if (body.epoch !== expected.epoch) {
      throw new RefusedError(RefusalCode.staleEpoch, `pooled commitment from "${sender}" is of epoch ${body.epoch}, key "${expected.keyId}" is at epoch ${expected.epoch} here`);
    }
    if (body.expires <= expected.now) throw new RefusedError(RefusalCode.stale, `pooled commitment from "${sender}" expired`);
    const commitment = body.commitments[index];
    if (commitment === undefined) throw new RefusedError(RefusalCode.inconsistentPackage, `batch of "${sender}" has no entry ${index}`);
    if (commitment.identifier !== view.identifierOf(sender)) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `pooled commitment from "${sender}" is under another identifier`);
    }
    // Before any nonce is touched: a bad element would make signShare fail with no culprit.
    const invalid = invalidCommitment(view.suite, commitment, sender);
    if (invalid !== undefined) throw invalid;
    seen.add(sender);
    list.push(commitment);
    if (sender === view.id) own = { batchId: batch.session, index, commitment };
  }
  if (list.length < share.threshold) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `signing package has ${list.length} commitments, threshold is ${share.threshold}`);
  }
  // frost-rs habit: this party's own commitment is in the package before its nonce is looked at.
  if (own === undefined) throw new RefusedError(RefusalCode.missingCommitment, 'signing package does not contain this party\'s commitment');
  return { commitments: sortCommitments(list), own };
}
