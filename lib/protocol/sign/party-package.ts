/**
 * Signing round 2, party side (`sign.package` → `sign.share`): check the signing package,
 * spend this attempt's nonce on it (once, and only for the request it was committed for),
 * answer with the signature share. A spent nonce answers only the package it was spent
 * on: a share for another package with the same nonce would reveal the signing share.
 */
import { NonceReuseError, RefusalCode, RefusedError } from '../../ports/errors.js';
import { bytesToHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { commitmentFromWire, signingPackageHash } from '../frost-wire.js';
import { tweakScalarBytes } from '../derivation/affine.js';
import type { KeyDerivation } from '../derivation/key.js';
import { signingPackage } from './signing-key.js';
import { MessageType, type Envelope, type NonceCommitment, type PublicPackage } from '../messages.js';
import { auditEntry } from '../party-audit.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { epochOf, partyKeys, type ConsumedNonceRecord } from '../party-state.js';
import { requestFingerprint } from '../requests.js';
import { openSecretAndKey } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';
import { assertOwnCommitment, verifyCommitments } from './commitments.js';
import { openNonce } from './nonce-sealing.js';
import { checkSignRequest } from './party-request.js';

export interface SignatureShareInput {
  readonly identifier: string;
  readonly signingShare: Uint8Array;
  /** The opened nonce record: hiding || binding. */
  readonly nonces: Uint8Array;
  readonly publicPackage: PublicPackage;
  /** The verified commitments (`verifyCommitments`), this party's own among them (`assertOwnCommitment`). */
  readonly commitments: readonly NonceCommitment[];
  readonly message: Uint8Array;
  /** Sign under the child key: share s ↦ s + τ, package tweaked alike (this call only). */
  readonly derivation?: KeyDerivation | undefined;
}

/** Pure step: this party's signature share (hex) on the package. */
export function signatureShare(view: PartyView, input: SignatureShareInput, scope: SecretScope): string {
  const scalarBytes = view.suite.sizes.scalar;
  const nonces = { hiding: input.nonces.subarray(0, scalarBytes), binding: input.nonces.subarray(scalarBytes) };
  try {
    // Registered for wiping: if a concurrent delivery spends the nonce first, this share
    // (same nonce, maybe another package) must never be sent, and should not linger.
    const { derivation } = input;
    // The tweaked share is as secret as the share: it lives in this scope and is wiped with it.
    const signingShare = derivation === undefined ? input.signingShare : scope.track(tweakScalarBytes(derivation.group, input.signingShare, derivation.tweak));
    const share = scope.track(
      view.suite.frost.signShare(
        { identifier: input.identifier, signingShare },
        signingPackage(view.suite, input.publicPackage, derivation),
        nonces,
        input.commitments.map((c) => commitmentFromWire(view.suite, c)),
        input.message,
      ),
    );
    return bytesToHex(share);
  } catch (error) {
    throw new RefusedError(RefusalCode.invalidPackage, `signing package rejected: ${(error as Error).message}`);
  }
}

/** Pure: whether a spent nonce may answer this package (the one, for the request, it was spent on). */
export function spentOn(spent: ConsumedNonceRecord, packageHash: string, fingerprint: string): boolean {
  return spent.packageHash === packageHash && spent.requestFingerprint === fingerprint;
}

/** Thin step: verify, spend the nonce in one transaction with the record of what it was spent on, answer. */
export async function onSignPackage(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.signPackage);
  const { attempt } = body;
  const { sign, message, share, fingerprint, keyCtx, derivation } = await checkSignRequest(ctx, body.request, session);
  const commitments = verifyCommitments(keyCtx, body.commitments, session, attempt, share, { now: ctx.now(), limits: ctx.limits });
  const packageHash = signingPackageHash({ session, attempt, keyId: sign.keyId, message: sign.message, commitments });
  const consumedKey = partyKeys.consumed(session, attempt);
  const nonceKey = partyKeys.nonce(session, attempt);

  const spent = await ctx.tables.consumed.get(consumedKey);
  if (spent !== undefined) return answerSpent(ctx, session, attempt, packageHash, fingerprint, spent.value);

  const nonce = await ctx.tables.nonces.get(nonceKey);
  if (nonce === undefined) {
    throw new RefusedError(RefusalCode.wrongRound, 'no unused nonce for this session and attempt (expired or never committed)');
  }
  // The nonce was committed after this party checked one request (approvals, rate limit,
  // audit). The package must be for exactly that request, not another one the initiator
  // signed under the same request id (the fingerprint covers the key id too).
  await assertSameRequest(ctx, envelope, body.request, nonce.value.requestFingerprint, attempt);
  assertOwnCommitment(commitments, share.identifier, nonce.value.commitment);
  // A nonce committed under another epoch's share (a refresh or reshare switched it meanwhile)
  // signs nothing under this one: the session's signers were fixed for the old epoch.
  if ((nonce.value.epoch ?? 0) !== epochOf(share)) {
    throw new RefusedError(RefusalCode.staleEpoch, `nonce was committed at epoch ${nonce.value.epoch ?? 0}, key "${sign.keyId}" is at epoch ${epochOf(share)} here; retry the request`);
  }

  const ownShare = await ctx.withSecrets(async (scope) => {
    const { plaintext: signingShare, dataKey } = await openSecretAndKey(ctx.vault, ctx.secretContext(sign.keyId, 'key-share'), partyKeys.keyShare(sign.keyId), share.share, scope);
    const nonces = await openNonce(ctx, sign.keyId, nonceKey, nonce.value.nonces, dataKey, scope);
    return signatureShare(keyCtx, { identifier: share.identifier, signingShare, nonces, publicPackage: share.publicPackage, commitments, message, derivation }, scope);
  });

  const record: ConsumedNonceRecord = { requestFingerprint: fingerprint, packageHash, share: ownShare };
  const winner = await writeOrAdopt(
    async () => {
      // The race this closes: two deliveries of different packages for one nonce. Only the
      // delivery that deletes the nonce also records what it was spent on; the other fails
      // its condition and is answered from that record (or refused).
      await ctx.tables.backend.write(
        [
          { op: 'delete', key: nonceKey, condition: { kind: 'version', version: nonce.version } },
          ctx.tables.consumed.putOperation(consumedKey, record, 1, { kind: 'absent' }, ctx.limits.sessionTtlSeconds),
        ],
        ctx.nowSeconds(),
      );
      return record;
    },
    async () => (await ctx.tables.consumed.get(consumedKey))?.value,
  );
  await answerSpent(ctx, session, attempt, packageHash, fingerprint, winner);
}

/** A spent nonce answers only the package (and request) it was spent on. */
async function answerSpent(ctx: PartyContext, session: string, attempt: number, packageHash: string, fingerprint: string, spent: ConsumedNonceRecord): Promise<void> {
  if (!spentOn(spent, packageHash, fingerprint)) {
    ctx.log.error('possible attack: a different signing package for a spent nonce', { party: ctx.id, session, attempt });
    throw new NonceReuseError('nonce already spent on a different signing package; refusing (reuse would leak the share)');
  }
  await ctx.send(MessageType.signShare, session, { attempt, packageHash, share: spent.share });
}

/**
 * Refuses (and audits) a signing package whose request is not the one the nonce was
 * committed for. The fingerprint covers the initiator, key id, message, request id and
 * approvals, so the key id is bound too.
 */
async function assertSameRequest(ctx: PartyContext, envelope: Envelope, request: Envelope, committedFingerprint: string, attempt: number): Promise<void> {
  if (requestFingerprint(request) === committedFingerprint) return;
  ctx.log.error('possible attack: signing package for another request than the committed one', { party: ctx.id, session: envelope.session, attempt });
  const error = new RefusedError(RefusalCode.requestMismatch, 'signing package is for another request than the one this party committed its nonce for');
  await ctx.audit.append(`sign#${envelope.session}#${attempt}#mismatch#${requestFingerprint(request)}`, {
    ...auditEntry(ctx.now(), 'sign', envelope.session, request),
    decision: 'refused',
    code: error.code,
    reason: error.message,
  });
  throw error;
}
