/**
 * What every refresh/reshare step of a party checks first: the initiator's signed request
 * (and, at start, this party's own policy for it), the current epoch as its parties attested
 * it, and this party's stored state of the session.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { WriteOperation } from '../../ports/store.js';
import { assertLifecycleQuorum } from '../approvals.js';
import { AttestationError, verifyKeyAttestations, type AttestedKey } from '../attestation.js';
import { dkgLifetimes } from '../directory.js';
import type { Envelope } from '../messages.js';
import type { PartyContext } from '../party-context.js';
import { epochOf, partyKeys, type ReshareStateRecord, type StoredRefusal } from '../party-state.js';
import { assertMayReshare, keyRules, verifyLifecycleRequest, type LifecycleRequest } from '../requests.js';
import { planOf, type ResharePlan } from './plan.js';

/** A refusal after which this party has abandoned the session for good (its lock released). */
export class ReshareAbandonedError extends RefusedError {
  override readonly name = 'ReshareAbandonedError';
  constructor(readonly refusal: StoredRefusal) {
    super(refusal.code, refusal.reason);
  }
}

/** Lifetimes: the state and lock live as long as a session could (a pending share with them). */
export function reshareSeconds(ctx: PartyContext): number {
  return dkgLifetimes(ctx.limits).sessionSeconds;
}

/** The request, verified and bound to the session. */
export function checkLifecycleRequest(ctx: PartyContext, request: Envelope, session: string): LifecycleRequest {
  return verifyLifecycleRequest(request, ctx.requestContext(session));
}

/** This party's policy: the initiator's grant and, if the key's rules ask for it, the lifecycle approval quorum. */
export function checkLifecyclePolicy(ctx: PartyContext, request: Envelope, lifecycle: LifecycleRequest): void {
  const { body } = lifecycle;
  assertMayReshare(ctx.policy, request.from, body.keyId);
  const rule = keyRules(ctx.policy, body.keyId).reshareApprovals;
  if (rule !== undefined) {
    const approved =
      lifecycle.mode === 'refresh'
        ? { initiator: request.from, requestId: body.requestId, keyId: body.keyId, epoch: body.epoch, operation: 'refresh' as const }
        : { initiator: request.from, requestId: body.requestId, keyId: body.keyId, epoch: body.epoch, operation: 'reshare' as const, threshold: lifecycle.body.threshold, parties: lifecycle.body.parties, dealers: lifecycle.body.dealers };
    assertLifecycleQuorum(rule, approved, body.approvals ?? [], ctx.directory);
  }
}

/** The current epoch as every current party attested it, checked against this party's own pinned directory. */
export function checkCurrent(ctx: PartyContext, keyId: string, current: readonly Envelope[]): AttestedKey {
  try {
    return verifyKeyAttestations(current, ctx.directory.parties, { keyId });
  } catch (error) {
    if (error instanceof AttestationError) throw new RefusedError(RefusalCode.inconsistentPackage, `current attestations of key "${keyId}" do not hold: ${error.message}`);
    throw error;
  }
}

/** Start's checks: the plan from the request and the attested current epoch, every party in it pinned here. */
export function checkPlan(ctx: PartyContext, lifecycle: LifecycleRequest, attested: AttestedKey): ResharePlan {
  const plan = planOf(lifecycle, attested);
  // A party deals and receives only among parties it knows: a coordinator cannot reshare a key to parties it controls.
  for (const party of [...plan.parties, ...plan.dealers]) {
    if (!Object.hasOwn(ctx.directory.parties, party)) {
      throw new RefusedError(RefusalCode.unknownSender, `key "${plan.keyId}" would be reshared to or by "${party}", which is not in this party's directory`);
    }
  }
  if (!plan.current.includes(ctx.id) && !plan.parties.includes(ctx.id)) {
    throw new RefusedError(RefusalCode.wrongRecipient, `"${ctx.id}" is neither a current nor a new party of key "${plan.keyId}"`);
  }
  return plan;
}

/**
 * This party's active share, which must be of the attested epoch. A share of an older epoch
 * (this party was removed while it could not hear the confirmation) counts as none: every
 * party of the attested epoch signed that the key moved on. A newer one refuses.
 */
export async function activeShareAt(ctx: PartyContext, keyId: string, attested: Pick<AttestedKey, 'epoch' | 'publicPackageHash'>) {
  const active = await ctx.tables.keyShares.get(partyKeys.keyShare(keyId));
  if (active === undefined || epochOf(active.value) < attested.epoch) return undefined;
  if (epochOf(active.value) !== attested.epoch || active.value.publicPackageHash !== attested.publicPackageHash) {
    throw new RefusedError(
      RefusalCode.staleEpoch,
      `this party holds key "${keyId}" at epoch ${epochOf(active.value)}, the attestations relayed are of epoch ${attested.epoch} (or another package)`,
    );
  }
  return active;
}

/** The session's state; refuses every message of a session this party abandoned or saw aborted. */
export async function openReshareState(ctx: PartyContext, session: string) {
  const stored = await ctx.tables.reshareStates.get(partyKeys.reshareState(session));
  if (stored?.value.status === 'abandoned') {
    throw new ReshareAbandonedError(stored.value.refusal ?? { code: RefusalCode.sessionClosed, reason: 'this party abandoned this reshare session' });
  }
  if (stored?.value.status === 'aborted') throw new RefusedError(RefusalCode.sessionClosed, 'this reshare session was aborted: another party abandoned it');
  return stored;
}

/** The state, which a step after start requires. */
export async function requiredReshareState(ctx: PartyContext, session: string) {
  const stored = await openReshareState(ctx, session);
  if (stored === undefined) throw new RefusedError(RefusalCode.wrongRound, 'no state of this reshare session (never started here, or expired)');
  return stored;
}

/** Whether the relayed request is the one this state was started with (same key, same plan). */
export function assertSameSession(state: ReshareStateRecord, lifecycle: LifecycleRequest): void {
  if (state.keyId !== lifecycle.body.keyId || state.mode !== lifecycle.mode) {
    throw new RefusedError(RefusalCode.conflict, 'this message carries another request than the one this reshare session started with');
  }
}

/** Replaces the stored state under its version (the steps exclude each other this way). */
export function stateOperation(ctx: PartyContext, session: string, next: ReshareStateRecord, version: number): WriteOperation {
  return ctx.tables.reshareStates.putOperation(partyKeys.reshareState(session), next, version + 1, { kind: 'version', version }, reshareSeconds(ctx));
}

/** Deletes this session's lock of the key, if it holds it. */
export async function releaseLockOperations(ctx: PartyContext, keyId: string, session: string): Promise<WriteOperation[]> {
  const lock = await ctx.tables.reshareLocks.get(partyKeys.reshareLock(keyId));
  if (lock === undefined || lock.value.session !== session) return [];
  return [{ op: 'delete', key: partyKeys.reshareLock(keyId), condition: { kind: 'version', version: lock.version } }];
}
