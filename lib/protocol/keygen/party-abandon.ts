/**
 * Abandoning a keygen session, party side: after refusing one of its messages, this party
 * promises never to finish the session (state deleted, marker `abandoned`), so that the
 * other parties may drop their pending shares on its signed word (party-abort.ts).
 */
import * as z from 'zod/mini';
import { RefusedError } from '../../ports/errors.js';
import { retryOnConflict } from '../../ports/store.js';
import { EnvelopeSchema, type Envelope, type KeygenRequestBody } from '../messages.js';
import type { PartyContext } from '../party-context.js';
import { partyKeys, type StoredRefusal } from '../party-state.js';
import { verifyKeygenRequest } from '../requests.js';
import { KeygenAbandonedError, markerOperation, nextMarker, sharesOf } from './party-session.js';

/** Every keygen message to a party carries the initiator's signed request. */
const RequestCarrier = z.object({ request: EnvelopeSchema });

/**
 * Abandons the session for good. Returns the refusal to send with `abandoned: true` (an
 * earlier one, if the session was already abandoned), or undefined when this party cannot
 * promise that: it holds a share of the session (it may have sent `dkg.done`) or the
 * session was aborted already.
 */
export async function abandon(ctx: PartyContext, session: string, keyId: string, refusal: StoredRefusal): Promise<StoredRefusal | undefined> {
  const markerKey = partyKeys.dkgSession(session);
  const stateKey = partyKeys.dkgState(session);
  return retryOnConflict(async () => {
    const marker = await ctx.tables.dkgSessions.get(markerKey);
    if (marker?.value.status === 'abandoned') return marker.value.refusal ?? refusal;
    if (marker?.value.status === 'finished' || marker?.value.status === 'aborted') return undefined;
    // A share without a live marker (the marker expired): still no promise to make.
    if ((await sharesOf(ctx, keyId, session)).own !== undefined) return undefined;
    const state = await ctx.tables.dkgStates.get(stateKey);
    // The marker's version condition excludes a concurrent round 3 finishing the session.
    await ctx.tables.backend.write(
      [
        markerOperation(ctx, session, marker, nextMarker(marker, keyId, 'abandoned', refusal)),
        ...(state !== undefined ? [{ op: 'delete' as const, key: stateKey, condition: { kind: 'version' as const, version: state.version } }] : []),
      ],
      ctx.nowSeconds(),
    );
    ctx.log.warn('keygen session abandoned', { party: ctx.id, session, code: refusal.code, accused: refusal.accusation?.accused });
    return refusal;
  });
}

/** The abandonment that follows refusing a keygen message whose request verifies, if any. */
export async function abandonAfterRefusal(ctx: PartyContext, envelope: Envelope, error: RefusedError): Promise<StoredRefusal | undefined> {
  if (error instanceof KeygenAbandonedError) return error.refusal;
  // A message whose request does not verify says nothing reliable about the session it names.
  const carried = RequestCarrier.safeParse(envelope.body);
  if (!carried.success) return undefined;
  let keygen: KeygenRequestBody;
  try {
    keygen = verifyKeygenRequest(carried.data.request, ctx.requestContext(envelope.session));
  } catch (cause) {
    if (cause instanceof RefusedError) return undefined;
    throw cause;
  }
  if (!keygen.parties.includes(ctx.id)) return undefined;
  return abandon(ctx, envelope.session, keygen.keyId, { code: error.code, reason: error.message.slice(0, 500) });
}
