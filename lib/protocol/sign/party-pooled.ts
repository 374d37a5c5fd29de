/**
 * One-round signing, party side (`sign.pooled` → `sign.share`): every check of both
 * two-round steps — the request, policy, epoch, approvals and rate limit (audited, as at
 * `sign.commit`), then the relayed pooled commitments and this party's own pool nonce (as
 * at `sign.package`) — and only then the share, on a nonce spent once. A spent pool nonce
 * answers only the package it was spent on: a share for another package with the same nonce
 * would reveal the signing share (RFC 9591 §7.3).
 */
import { NonceReuseError, RefusalCode, RefusedError } from '../../ports/errors.js';
import { retryOnConflict } from '../../ports/store.js';
import { parseBody } from '../envelope.js';
import { signingPackageHash } from '../frost-wire.js';
import { MessageType, type Envelope, type NonceCommitment } from '../messages.js';
import { noncePoolSettings } from '../directory.js';
import { writeOrAdopt, type PartyContext } from '../party-context.js';
import { epochOf, partyKeys, type PoolNonceRecord, type PoolSpentRecord } from '../party-state.js';
import { openDerived, openSecretAndKey } from '../sealed-item.js';
import { assertOwnCommitment } from './commitments.js';
import { signatureShare, spentOn } from './party-package.js';
import { decideToSign } from './party-request.js';
import { verifyPooledCommitments, type PooledEntry } from './pooled-commitments.js';

/** Where one pool nonce lives, for logs and refusals (public). */
interface PoolSlot {
  readonly keyId: string;
  readonly batchId: string;
  readonly index: number;
}

const notHeld = () => new RefusedError(RefusalCode.wrongRound, 'no unused pool nonce for this commitment (expired, spent, or never made)');

/**
 * Pure: the stored pool nonce may sign this package — unexpired, of the share's epoch, and
 * committed to exactly as the package says (frost-rs `IncorrectCommitment`).
 */
export function assertUsablePoolNonce(
  nonce: PoolNonceRecord,
  entry: PooledEntry,
  expected: { keyId: string; epoch: number; identifier: string; now: number },
  commitments: readonly NonceCommitment[],
): PoolNonceRecord {
  // The table hides items past their TTL (whole seconds); `expires` is the batch's own word, to the millisecond.
  if (nonce.expires <= expected.now || nonce.keyId !== expected.keyId || nonce.batchId !== entry.batchId || nonce.index !== entry.index) {
    throw notHeld();
  }
  // A nonce made under another epoch's share signs nothing under this one (and would not open: the share was re-sealed).
  if (nonce.epoch !== expected.epoch) {
    throw new RefusedError(RefusalCode.staleEpoch, `pool nonce was made at epoch ${nonce.epoch}, key "${expected.keyId}" is at epoch ${expected.epoch} here`);
  }
  assertOwnCommitment(commitments, expected.identifier, nonce.commitment);
  return nonce;
}

/** Thin step: decide (audited), verify, spend the pool nonce — its item rewritten as the record of what it was spent on, in one transaction with the approval — and answer. */
export async function onSignPooled(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.signPooled);
  const { attempt } = body;
  // Pools turned off here: nonces already pooled sign nothing more (the coordinator falls back to two rounds).
  if (noncePoolSettings(ctx.limits) === undefined) throw new RefusedError(RefusalCode.wrongRound, 'nonce pools are off at this party; sign in two rounds');
  const { result, approval } = await decideToSign(ctx, session, body.request, body.epoch);
  const { sign, message, share, fingerprint, keyCtx, derivation } = result;
  const epoch = epochOf(share);
  const { commitments, own } = verifyPooledCommitments(keyCtx, body.commitments, { keyId: sign.keyId, epoch, now: ctx.now() }, share);
  const packageHash = signingPackageHash({ session, attempt, keyId: sign.keyId, message: sign.message, commitments });
  const slot: PoolSlot = { keyId: sign.keyId, batchId: own.batchId, index: own.index };
  const asked = { session, attempt, packageHash, fingerprint, slot };
  const nonceKey = partyKeys.poolNonce(slot.keyId, slot.batchId, slot.index);

  const stored = await ctx.tables.poolNonces.get(nonceKey);
  if (stored === undefined) throw notHeld();
  if (stored.value.state === 'spent') return answerSpent(ctx, asked, stored.value);
  const nonce = assertUsablePoolNonce(stored.value, own, { keyId: sign.keyId, epoch, identifier: share.identifier, now: ctx.now() }, commitments);
  const { version } = stored;

  const ownShare = await ctx.withSecrets(async (scope) => {
    // One KMS Decrypt: the share's data key also opens the pool nonce (sealed-item.ts `sealDerived`).
    const opened = await openSecretAndKey(ctx.vault, ctx.secretContext(sign.keyId, 'key-share'), partyKeys.keyShare(sign.keyId), share.share, scope);
    const nonces = openDerived(opened.dataKey, 'nonce', nonceKey, nonce.nonces, scope);
    return signatureShare(keyCtx, { identifier: share.identifier, signingShare: opened.plaintext, nonces, publicPackage: share.publicPackage, commitments, message, derivation }, scope);
  });

  const record: PoolSpentRecord = { state: 'spent', keyId: slot.keyId, epoch: nonce.epoch, batchId: slot.batchId, index: slot.index, hiding: nonce.commitment.hiding, requestFingerprint: fingerprint, packageHash, share: ownShare };
  // What the nonce's item says it was spent on, if it is spent (by a concurrent delivery).
  const spentRecord = async () => {
    const current = await ctx.tables.poolNonces.get(nonceKey);
    return current?.value.state === 'spent' ? current.value : undefined;
  };
  const winner = await retryOnConflict(async () => {
    const current = await ctx.tables.poolNonces.get(nonceKey);
    if (current?.version !== version) {
      // Spent meanwhile by a concurrent delivery (answered from its record), or gone.
      if (current?.value.state !== 'spent') throw notHeld();
      return current.value;
    }
    return writeOrAdopt(async () => {
      // The race this closes: two deliveries of different packages for one pool nonce. Only
      // the one whose put replaces the unused record (version condition) records what it was
      // spent on; the other fails its condition and is answered from that record (or
      // refused). The nonce scalars leave the table with the unused record, in the same
      // write. The approval is committed with the spend: never a share without its audited
      // decision. A lost audit-head race (another decision appended meanwhile) adopts
      // nothing and is retried.
      const audit = await ctx.audit.appendOperations(approval.decisionId, approval.entry);
      await ctx.tables.backend.write(
        [...audit, ctx.tables.poolNonces.putOperation(nonceKey, record, version + 1, { kind: 'version', version }, ctx.limits.sessionTtlSeconds)],
        ctx.nowSeconds(),
      );
      return record;
    }, spentRecord);
  });
  await answerSpent(ctx, asked, winner);
}

/** A spent pool nonce answers only the package (and request) it was spent on. */
async function answerSpent(
  ctx: PartyContext,
  asked: { session: string; attempt: number; packageHash: string; fingerprint: string; slot: PoolSlot },
  spent: PoolSpentRecord,
): Promise<void> {
  const { session, attempt, packageHash, fingerprint, slot } = asked;
  if (!spentOn(spent, packageHash, fingerprint)) {
    ctx.log.error('possible attack: a different signing package for a spent pool nonce', { party: ctx.id, session, attempt, ...slot });
    throw new NonceReuseError('pool nonce already spent on a different signing package; refusing (reuse would leak the share)');
  }
  await ctx.send(MessageType.signShare, session, { attempt, packageHash, share: spent.share });
}
