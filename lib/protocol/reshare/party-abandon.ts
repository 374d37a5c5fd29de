/**
 * Abandoning a refresh/reshare session, party side: after refusing one of its messages, a
 * participant promises never to finish the session (state `abandoned`, secret and lock
 * gone), so the others may drop their pending shares on its signed word (party-abort.ts).
 */
import * as z from 'zod/mini';
import { RefusedError } from '../../ports/errors.js';
import { retryOnConflict, type WriteOperation } from '../../ports/store.js';
import { EnvelopeSchema, type Envelope } from '../messages.js';
import type { PartyContext } from '../party-context.js';
import { auditEntry } from '../party-audit.js';
import { partyKeys, type ReshareStateRecord, type StoredRefusal } from '../party-state.js';
import { verifyLifecycleRequest } from '../requests.js';
import { releaseLockOperations, ReshareAbandonedError, reshareSeconds } from './party-session.js';

const RequestCarrier = z.object({ request: EnvelopeSchema });

/**
 * Abandons the session for good. Returns the refusal to send with `abandoned: true` (an
 * earlier one, if already abandoned), or undefined when this party cannot promise that
 * (it finished or confirmed the session, saw it aborted, or is a dealer only and dealt).
 */
export async function abandonReshare(ctx: PartyContext, session: string, keyId: string, refusal: StoredRefusal, request: Envelope): Promise<StoredRefusal | undefined> {
  const stateKey = partyKeys.reshareState(session);
  return retryOnConflict(async () => {
    const stored = await ctx.tables.reshareStates.get(stateKey);
    if (stored?.value.status === 'abandoned') return stored.value.refusal ?? refusal;
    if (stored !== undefined && stored.value.status !== 'started') return undefined;
    // A dealer that dealt and receives nothing cannot keep the session from being confirmed:
    // its promise would be worthless, and relayed to parties that confirm, it would split the
    // key (some switch, the others drop their new shares). It refuses without abandoning.
    if (stored !== undefined && stored.value.dealing !== undefined && !stored.value.parties.includes(ctx.id)) return undefined;
    const operations: WriteOperation[] = [...(await releaseLockOperations(ctx, keyId, session))];
    if (stored !== undefined) {
      const { secret: _secret, dealing: _dealing, ...rest } = stored.value;
      const next: ReshareStateRecord = { ...rest, status: 'abandoned', refusal };
      operations.push(ctx.tables.reshareStates.putOperation(stateKey, next, stored.version + 1, { kind: 'version', version: stored.version }, reshareSeconds(ctx)));
    } else {
      // Refused at start: a minimal record, so a redelivered start is refused the same way.
      const next: ReshareStateRecord = {
        keyId, mode: 'refresh', status: 'abandoned', fromEpoch: 0, fromPackageHash: '0'.repeat(64), keygenPackageHash: '0'.repeat(64),
        groupKey: '00', suite: ctx.suite.id, current: [], threshold: 0, parties: [], dealers: [], refusal,
      };
      operations.push(ctx.tables.reshareStates.putOperation(stateKey, next, 1, { kind: 'absent' }, reshareSeconds(ctx)));
    }
    // In the audit trail with the abandonment itself: this party gave the session up, and why (whom it accuses).
    const accused = refusal.accusation === undefined ? '' : `; accuses "${refusal.accusation.accused}"`;
    const entry = { ...auditEntry(ctx.now(), 'reshare', session, request), decision: 'refused' as const, code: refusal.code, reason: `abandoned: ${refusal.reason}${accused}`.slice(0, 500) };
    const audit = await ctx.audit.appendOperations(`reshare#${session}#abandoned`, entry);
    await ctx.tables.backend.write([...audit, ...operations], ctx.nowSeconds());
    ctx.log.warn('reshare session abandoned', { party: ctx.id, session, code: refusal.code, accused: refusal.accusation?.accused });
    return refusal;
  });
}

/** The abandonment that follows refusing a reshare message whose request verifies, if any. */
export async function abandonReshareAfterRefusal(ctx: PartyContext, envelope: Envelope, error: RefusedError): Promise<StoredRefusal | undefined> {
  if (error instanceof ReshareAbandonedError) return error.refusal;
  const carried = RequestCarrier.safeParse(envelope.body);
  if (!carried.success) return undefined;
  let keyId: string;
  try {
    keyId = verifyLifecycleRequest(carried.data.request, ctx.requestContext(envelope.session)).body.keyId;
  } catch (cause) {
    if (cause instanceof RefusedError) return undefined;
    throw cause;
  }
  return abandonReshare(ctx, envelope.session, keyId, { code: error.code, reason: error.message.slice(0, 500) }, carried.data.request);
}
