/**
 * What both signing rounds of a party check first: the initiator's signed request, this
 * party's policy for it, and that it holds an active share of the key. The approval quorum
 * and the rate limit are checked once, when the party decides to commit.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { assertApprovalQuorum } from '../approvals.js';
import { decodeHex } from '../encoding.js';
import type { Envelope, SignRequestBody } from '../messages.js';
import type { PartyContext } from '../party-context.js';
import { decideApproval, decisionIdOf, type Approval } from '../party-audit.js';
import { epochOf, partyKeys, type KeyShareRecord } from '../party-state.js';
import { assertMaySign, assertMayUsePath, keyRules, requestFingerprint, verifySignRequest } from '../requests.js';
import type { KeyDerivation } from '../derivation/key.js';
import { derivationOf } from './signing-key.js';

export interface CheckedSignRequest {
  readonly sign: SignRequestBody;
  /** The bytes to sign. */
  readonly message: Uint8Array;
  /** This party's active share of the key. */
  readonly share: KeyShareRecord;
  /** This party's context for the key's suite (sizes, frost instance, identifiers). */
  readonly keyCtx: PartyContext;
  readonly fingerprint: string;
  /** For a request with a path: the child key and tweak, derived from this party's own stored public package. */
  readonly derivation: KeyDerivation | undefined;
}

/** Request, policy and key checks shared by both signing rounds. */
export async function checkSignRequest(ctx: PartyContext, request: Envelope, session: string): Promise<CheckedSignRequest> {
  const sign = verifySignRequest(request, ctx.requestContext(session));
  const message = decodeHex(sign.message, 'message');
  assertMaySign(ctx.policy, request.from, sign.keyId, message.length);
  assertMayUsePath(ctx.policy, request.from, sign.path);
  const share = await ctx.tables.keyShares.get(partyKeys.keyShare(sign.keyId));
  if (share === undefined) throw new RefusedError(RefusalCode.unknownKey, `this party holds no share of key "${sign.keyId}"`);
  if (share.value.status !== 'active') {
    throw new RefusedError(RefusalCode.policy, `key "${sign.keyId}" is not confirmed by every party yet`);
  }
  const keyCtx = ctx.forSuite(share.value.suite);
  const { messageBytes } = keyCtx.suite;
  if (messageBytes !== undefined && message.length !== messageBytes) {
    throw new RefusedError(RefusalCode.malformed, `key "${sign.keyId}" (${keyCtx.suite.name}) signs ${messageBytes}-byte messages, got ${message.length} bytes`);
  }
  // The path comes from the initiator's signed request, the package from this party's own
  // store: the coordinator's relay contributes neither.
  const derivation = derivationOf(share.value, sign);
  return { sign, message, share: share.value, fingerprint: requestFingerprint(request), keyCtx, derivation };
}

/**
 * Approval quorum and rate limit: checked once per request, when the party decides to commit
 * (or to sign in one round). `decision`: the request's decision id (`decisionIdOf`), so a
 * redelivery is not counted twice and another request under the same id is counted anew.
 */
export async function checkSignRules(ctx: PartyContext, sign: SignRequestBody, initiator: string, decision: string): Promise<void> {
  const rules = keyRules(ctx.policy, sign.keyId);
  if (rules.approvals !== undefined) {
    const request = { initiator, requestId: sign.requestId, keyId: sign.keyId, message: sign.message, path: sign.path, taproot: sign.taproot };
    assertApprovalQuorum(rules.approvals, request, sign.approvals ?? [], ctx.directory);
  }
  if (rules.rateLimit !== undefined) {
    const admitted = await ctx.rates.admit(`${sign.keyId}#${initiator}`, decision, rules.rateLimit, ctx.now());
    if (!admitted) {
      throw new RefusedError(
        RefusalCode.policy,
        `rate limit: "${initiator}" may sign at most ${rules.rateLimit.max} times per ${rules.rateLimit.windowSeconds} s with key "${sign.keyId}"`,
      );
    }
  }
}

/**
 * The decision to sign a relayed request at the session's key epoch (both `sign.commit` and
 * the one-round `sign.pooled`): every request, policy and rule check, a refusal audited at
 * once; the approval is for the caller to commit with what it allows.
 */
export async function decideToSign(ctx: PartyContext, session: string, request: Envelope, epoch: number | undefined): Promise<{ result: CheckedSignRequest; approval: Approval }> {
  return decideApproval(ctx, 'sign', session, request, async () => {
    const checked = await checkSignRequest(ctx, request, session);
    const here = epochOf(checked.share);
    if ((epoch ?? 0) !== here) {
      // Signing would use a share of another epoch than the coordinator checks: an honest
      // party would be blamed for it. Mid-switch only; the coordinator goes on without us.
      throw new RefusedError(RefusalCode.staleEpoch, `the session signs at epoch ${epoch ?? 0}, key "${checked.sign.keyId}" is at epoch ${here} here`);
    }
    const decision = decisionIdOf('sign', session, request);
    // Approved before (the one-round attempt of this very request, now retried in two
    // rounds): its approvals were checked and its rate-limit slot taken then; a fallback in
    // the next window must not take a second slot, nor be refused for the first one.
    if (!(await ctx.audit.decided(`${decision}#approved`))) await checkSignRules(ctx, checked.sign, request.from, decision);
    return checked;
  });
}
