/**
 * DKG abort, party side (`dkg.abort`). Another party abandoned this keygen: its signed
 * refusal, relayed unchanged, promises it holds no share of the session and never will, so
 * the keygen can never be confirmed and this party's round state and pending share are
 * dropped. Never on the coordinator's word alone (the refusal must be signed by a party of
 * this keygen and say `abandoned`), and never an active share.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { retryOnConflict, type WriteOperation } from '../../ports/store.js';
import { parseBody, verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope, type KeygenRequestBody } from '../messages.js';
import type { PartyContext, PartyView } from '../party-context.js';
import { partyKeys } from '../party-state.js';
import { checkKeygenRequest, markerOperation, nextMarker, sharesOf } from './party-session.js';

/** Pure step: the relayed refusal proves the keygen cannot finish. Returns the party that abandoned it. */
export function verifyAbandonment(view: PartyView, keygen: Pick<KeygenRequestBody, 'keyId' | 'parties'>, refusal: Envelope, session: string): string {
  const body = verifyRelayed(refusal, { type: MessageType.partyRefused, session, directory: view.directory, role: 'party' });
  if (!keygen.parties.includes(refusal.from)) {
    throw new RefusedError(RefusalCode.unexpectedSender, `abort relays a refusal from "${refusal.from}", not a party of key "${keygen.keyId}"`);
  }
  if (body.abandoned !== true) {
    throw new RefusedError(RefusalCode.unprovenAbort, `the relayed refusal of "${refusal.from}" does not abandon the keygen, so it does not prove the keygen cannot finish`);
  }
  return refusal.from;
}

/** Thin step: delete the round state and pending share, and mark the session `aborted`, in one transaction. */
export async function onDkgAbort(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.dkgAbort);
  const keygen = checkKeygenRequest(ctx, body.request, session);
  const abandonedBy = verifyAbandonment(ctx, keygen, body.refusal, session);
  const markerKey = partyKeys.dkgSession(session);
  const stateKey = partyKeys.dkgState(session);
  await retryOnConflict(async () => {
    const { active, pending } = await sharesOf(ctx, keygen.keyId, session);
    if (active?.value.session === session) {
      // Every party confirmed this keygen, the abandoning party included: its refusal contradicts its own dkg.done.
      ctx.log.error('possible attack: abort of a keygen whose share is active', { party: ctx.id, session, abandonedBy });
      throw new RefusedError(RefusalCode.conflict, `key "${keygen.keyId}" is active from this keygen; an abort never deletes an active share`);
    }
    const marker = await ctx.tables.dkgSessions.get(markerKey);
    const state = await ctx.tables.dkgStates.get(stateKey);
    const closed = marker?.value.status === 'abandoned' || marker?.value.status === 'aborted';
    if (closed && pending === undefined && state === undefined) return; // nothing left: a repeated abort
    const deletions: WriteOperation[] = [];
    if (pending !== undefined) deletions.push({ op: 'delete', key: partyKeys.pendingShare(keygen.keyId, session), condition: { kind: 'version', version: pending.version } });
    if (state !== undefined) deletions.push({ op: 'delete', key: stateKey, condition: { kind: 'version', version: state.version } });
    // The marker turns `aborted` in the same transaction, so no later round 3 recreates a share.
    const next = closed && marker !== undefined ? marker.value : nextMarker(marker, keygen.keyId, 'aborted');
    await ctx.tables.backend.write([...deletions, markerOperation(ctx, session, marker, next)], ctx.nowSeconds());
    ctx.log.info('keygen aborted by another party\'s refusal', { party: ctx.id, session, abandonedBy, pendingShareDeleted: pending !== undefined });
  });
}
