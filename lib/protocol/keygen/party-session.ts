/**
 * What every keygen step of a party checks and reads first: the initiator's request, this
 * session's share (a late or repeated message), and the session marker (a session this
 * party abandoned or saw aborted refuses everything).
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { WriteOperation } from '../../ports/store.js';
import { dkgLifetimes } from '../directory.js';
import type { Envelope, KeygenRequestBody } from '../messages.js';
import type { PartyContext } from '../party-context.js';
import { partyKeys, type DkgSessionRecord, type KeyShareRecord, type StoredRefusal } from '../party-state.js';
import { assertMayKeygen, verifyKeygenRequest } from '../requests.js';

/** A keygen refusal after which this party has abandoned the session for good. */
export class KeygenAbandonedError extends RefusedError {
  override readonly name = 'KeygenAbandonedError';
  constructor(readonly refusal: StoredRefusal) {
    super(refusal.code, refusal.reason);
  }
}

/** Checks a keygen request this party is asked to take part in. */
export function checkKeygenRequest(ctx: PartyContext, request: Envelope, session: string): KeygenRequestBody {
  const body = verifyKeygenRequest(request, ctx.requestContext(session));
  assertMayKeygen(ctx.policy, request.from);
  if (!body.parties.includes(ctx.id)) {
    throw new RefusedError(RefusalCode.wrongRecipient, `"${ctx.id}" is not a party of key "${body.keyId}"`);
  }
  for (const party of body.parties) {
    if (!Object.hasOwn(ctx.directory.parties, party)) {
      throw new RefusedError(RefusalCode.unknownSender, `key "${body.keyId}" names unknown party "${party}"`);
    }
  }
  return body;
}

/** The active share of a key and this session's pending share, as stored. */
export async function sharesOf(ctx: PartyContext, keyId: string, session: string) {
  const active = await ctx.tables.keyShares.get(partyKeys.keyShare(keyId));
  const pending = await ctx.tables.keyShares.get(partyKeys.pendingShare(keyId, session));
  return { active, pending, own: active?.value.session === session ? active.value : pending?.value };
}

/**
 * This session's share, pending or active, when round 3 already stored it (a late or
 * repeated message). Only an active share of another keygen takes the key id: pending
 * shares of keygens that never confirmed block nothing.
 */
export async function keyShareOfSession(ctx: PartyContext, keyId: string, session: string): Promise<KeyShareRecord | undefined> {
  const { active, own } = await sharesOf(ctx, keyId, session);
  if (active !== undefined && active.value.session !== session) {
    throw new RefusedError(RefusalCode.conflict, `key "${keyId}" already exists from another keygen`);
  }
  return own;
}

/** The session's marker; refuses every message of a session this party abandoned or saw aborted. */
export async function openSession(ctx: PartyContext, session: string) {
  const marker = await ctx.tables.dkgSessions.get(partyKeys.dkgSession(session));
  if (marker?.value.status === 'abandoned') {
    throw new KeygenAbandonedError(marker.value.refusal ?? { code: RefusalCode.sessionClosed, reason: 'this party abandoned this keygen session' });
  }
  if (marker?.value.status === 'aborted') {
    throw new RefusedError(RefusalCode.sessionClosed, 'this keygen session was aborted: another party abandoned it');
  }
  return marker;
}

type StoredMarker = { readonly value: DkgSessionRecord; readonly version: number } | undefined;

/** The marker's next status, keeping the round-1 hash it recorded (the one package this party published). */
export function nextMarker(current: StoredMarker, keyId: string, status: DkgSessionRecord['status'], refusal?: StoredRefusal): DkgSessionRecord {
  return {
    keyId,
    status,
    ...(current?.value.round1Hash !== undefined ? { round1Hash: current.value.round1Hash } : {}),
    ...(refusal !== undefined ? { refusal } : {}),
  };
}

/**
 * Writes the session marker under a condition on the one read (`current`), so that the
 * steps that change it (finish, abandon, abort) exclude each other.
 */
export function markerOperation(ctx: PartyContext, session: string, current: StoredMarker, next: DkgSessionRecord): WriteOperation {
  return ctx.tables.dkgSessions.putOperation(
    partyKeys.dkgSession(session),
    next,
    (current?.version ?? 0) + 1,
    current !== undefined ? { kind: 'version', version: current.version } : { kind: 'absent' },
    dkgLifetimes(ctx.limits).sessionSeconds,
  );
}
