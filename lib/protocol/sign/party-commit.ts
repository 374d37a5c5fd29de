/**
 * Signing round 1, party side (`sign.commit` → `sign.commitment`): decide (audited) whether
 * to sign this request, then commit to a fresh nonce pair for this session and attempt.
 * One nonce per attempt: a redelivery answers with the stored commitment, and an attempt
 * whose nonce is already spent gets no new one.
 */
import { parseBody } from '../envelope.js';
import { commitmentToWire } from '../frost-wire.js';
import { MessageType, type Envelope, type NonceCommitment } from '../messages.js';
import { commitRound1 } from '../nonce-generation.js';
import { retryOnConflict } from '../../ports/store.js';
import type { PartyContext, PartyView } from '../party-context.js';
import { partyKeys, type NonceRecord } from '../party-state.js';
import { openSecretAndKey } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';
import { sealNonce } from './nonce-sealing.js';
import { decideToSign } from './party-request.js';

export interface CommitOutput {
  readonly commitment: NonceCommitment;
  /** hiding || binding nonce scalars, to seal; owned by the caller's scope. */
  readonly nonces: Uint8Array;
}

/**
 * Pure step (apart from fresh randomness). RFC 9591 §5.1: nonces are hedged with the
 * signing share and fresh CSPRNG output, generated in buffers we own and wipe (noble's
 * commit() leaves the share behind).
 */
export function commitNonces(view: PartyView, key: { identifier: string; signingShare: Uint8Array }, scope: SecretScope): CommitOutput {
  const generated = commitRound1(view.suite, key);
  const scalarBytes = view.suite.sizes.scalar;
  const nonces = scope.alloc(2 * scalarBytes);
  nonces.set(scope.track(generated.nonces.hiding), 0);
  nonces.set(scope.track(generated.nonces.binding), scalarBytes);
  return { commitment: commitmentToWire(generated.commitments), nonces };
}

/**
 * Thin step: decide, create the nonce once (or adopt a concurrent delivery's), answer with
 * its commitment. The approval goes into the audit trail in the same transaction that
 * creates the nonce (one write instead of two; never a nonce without its approval), and
 * before it wherever no nonce is created.
 */
export async function onSignCommit(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.signCommit);
  const { result, approval } = await decideToSign(ctx, session, body.request, body.epoch);
  const { sign, share, fingerprint, keyCtx } = result;
  const nonceKey = partyKeys.nonce(session, body.attempt);

  let commitment = (await ctx.tables.nonces.get(nonceKey))?.value.commitment;
  if (commitment === undefined) {
    if ((await ctx.tables.consumed.get(partyKeys.consumed(session, body.attempt))) !== undefined) {
      await ctx.audit.append(approval.decisionId, approval.entry);
      return; // this attempt's nonce is already spent; a late commit request needs no answer
    }
    const record = await ctx.withSecrets(async (scope): Promise<NonceRecord> => {
      // One KMS call: the share's data key also seals the nonce (sign/nonce-sealing.ts).
      const { plaintext: signingShare, dataKey } = await openSecretAndKey(ctx.vault, ctx.secretContext(sign.keyId, 'key-share'), partyKeys.keyShare(sign.keyId), share.share, scope);
      const output = commitNonces(keyCtx, { identifier: share.identifier, signingShare }, scope);
      return {
        keyId: sign.keyId,
        attempt: body.attempt,
        requestFingerprint: fingerprint,
        commitment: output.commitment,
        nonces: sealNonce(dataKey, nonceKey, output.nonces, scope),
        ...(share.epoch !== undefined && share.epoch > 0 ? { epoch: share.epoch } : {}),
      };
    });
    commitment = await retryOnConflict(async () => {
      // A concurrent delivery that created the nonce first wins (its approval came with it): answer with its commitment.
      const winner = await ctx.tables.nonces.get(nonceKey);
      if (winner !== undefined) return winner.value.commitment;
      const audit = await ctx.audit.appendOperations(approval.decisionId, approval.entry);
      await ctx.tables.backend.write([...audit, ctx.tables.nonces.putOperation(nonceKey, record, 1, { kind: 'absent' }, ctx.limits.nonceTtlSeconds)], ctx.nowSeconds());
      return record.commitment;
    });
  } else {
    // Created with its approval (by an earlier delivery): normally nothing to append.
    await ctx.audit.append(approval.decisionId, approval.entry);
  }
  await ctx.send(MessageType.signCommitment, session, { attempt: body.attempt, commitment });
}
