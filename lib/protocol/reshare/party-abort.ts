/**
 * Refresh/reshare abort, party side (`reshare.abort`): a participant abandoned the session;
 * its signed refusal, relayed unchanged, proves it can never be confirmed (a new party's, or
 * a dealer's whose dealing this party never saw), so this party
 * drops its pending share, secret and lock. Never on the coordinator's word alone, and
 * never once confirmed: the old epoch was never touched before confirmation.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { retryOnConflict, type WriteOperation } from '../../ports/store.js';
import { parseBody, verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';
import type { PartyContext } from '../party-context.js';
import { auditEntry } from '../party-audit.js';
import { partyKeys, type ReshareStateRecord } from '../party-state.js';
import { assertSameSession, checkLifecycleRequest, releaseLockOperations, stateOperation } from './party-session.js';
import { participantsOf } from './transcripts.js';

export async function onReshareAbort(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.reshareAbort);
  const lifecycle = checkLifecycleRequest(ctx, body.request, session);
  const refusal = verifyRelayed(body.refusal, { type: MessageType.partyRefused, session, directory: ctx.directory, role: 'party' });
  if (refusal.abandoned !== true) throw new RefusedError(RefusalCode.unprovenAbort, `the relayed refusal of "${body.refusal.from}" does not abandon the reshare`);
  await retryOnConflict(async () => {
    const stored = await ctx.tables.reshareStates.get(partyKeys.reshareState(session));
    if (stored === undefined) return; // never started here: nothing to drop
    const state = stored.value;
    if (state.status === 'abandoned' || state.status === 'aborted') return;
    assertSameSession(state, lifecycle);
    if (!participantsOf(state).includes(body.refusal.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `abort relays a refusal from "${body.refusal.from}", not a participant of this reshare`);
    }
    // Only an abandonment that really prevents confirmation counts: a new party's (it will
    // never finish), or a dealer's that never dealt. A party that finished holds the signed
    // dealing of every dealer: an abandonment by a dealer only is then a contradiction.
    if (!state.parties.includes(body.refusal.from) && state.status === 'finished') {
      ctx.log.error('possible attack: abort on the abandonment of a dealer whose dealing this party holds', { party: ctx.id, session, abandonedBy: body.refusal.from });
      throw new RefusedError(RefusalCode.unprovenAbort, `"${body.refusal.from}" dealt in this reshare and receives nothing: its abandonment cannot stop it`);
    }
    if (state.status === 'confirmed') {
      ctx.log.error('possible attack: abort of a confirmed reshare', { party: ctx.id, session, abandonedBy: body.refusal.from });
      throw new RefusedError(RefusalCode.conflict, 'this reshare is confirmed here; an abort never undoes it');
    }
    const operations: WriteOperation[] = [...(await releaseLockOperations(ctx, state.keyId, session))];
    const pending = await ctx.tables.keyShares.get(partyKeys.pendingShare(state.keyId, session));
    if (pending !== undefined) operations.push({ op: 'delete', key: partyKeys.pendingShare(state.keyId, session), condition: { kind: 'version', version: pending.version } });
    const { secret: _secret, dealing: _dealing, ...rest } = state;
    const next: ReshareStateRecord = { ...rest, status: 'aborted' };
    operations.push(stateOperation(ctx, session, next, stored.version));
    const entry = { ...auditEntry(ctx.now(), 'reshare', session, body.request), decision: 'refused' as const, code: refusal.code, reason: `aborted: "${body.refusal.from}" abandoned it${pending !== undefined ? '; pending share deleted' : ''}` };
    const audit = await ctx.audit.appendOperations(`reshare#${session}#aborted`, entry);
    await ctx.tables.backend.write([...audit, ...operations], ctx.nowSeconds());
    ctx.log.info('reshare aborted by another party\'s refusal', { party: ctx.id, session, abandonedBy: body.refusal.from, pendingShareDeleted: pending !== undefined });
  });
}
