/**
 * Refresh/reshare confirmation, party side (`reshare.confirm`): every new party's signed
 * `reshare.done` names the same new public package, of the next epoch, with the same group
 * key. Only then the switch: a new party promotes its pending share (replacing the old
 * epoch's); a current party that is not a new one deletes its share; every party deletes its
 * unused nonces of older epochs of the key, and its pool nonces and batches of older epochs
 * (sign/party-pool-epochs.ts). All in the audit trail.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { isExpired, type WriteOperation } from '../../ports/store.js';
import { AttestationError, verifyKeyAttestations } from '../attestation.js';
import { parseBody, verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';
import { auditEntry } from '../party-audit.js';
import type { PartyContext } from '../party-context.js';
import { epochOf, NonceRecord, partyKeys, type ReshareStateRecord } from '../party-state.js';
import { deleteOverflow, stalePoolDeletions } from '../sign/party-pool-epochs.js';
import { assertSameSession, checkLifecycleRequest, releaseLockOperations, requiredReshareState, stateOperation } from './party-session.js';

/** Pure step: one signed `reshare.done` from every new party, all for the same next-epoch package of this key. */
export function verifyReshareConfirmations(ctx: PartyContext, state: ReshareStateRecord, done: readonly Envelope[], session: string): string {
  for (const relayed of done) verifyRelayed(relayed, { type: MessageType.reshareDone, session, directory: ctx.directory, role: 'party' });
  let attested;
  try {
    attested = verifyKeyAttestations(done, ctx.directory.parties, { keyId: state.keyId, threshold: state.threshold, parties: state.parties });
  } catch (error) {
    if (error instanceof AttestationError) throw new RefusedError(RefusalCode.incompleteTranscript, `confirmations do not hold: ${error.message}`);
    throw error;
  }
  if (attested.epoch !== state.fromEpoch + 1 || attested.keygenPackageHash !== state.keygenPackageHash || attested.publicKey !== state.groupKey || attested.suite !== state.suite) {
    throw new RefusedError(RefusalCode.conflict, `confirmations are not of epoch ${state.fromEpoch + 1} of this key`);
  }
  return attested.publicPackageHash;
}

export async function onReshareConfirm(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.reshareConfirm);
  const lifecycle = checkLifecycleRequest(ctx, body.request, session);
  const stored = await requiredReshareState(ctx, session);
  const state = stored.value;
  assertSameSession(state, lifecycle);
  const newHash = verifyReshareConfirmations(ctx, state, body.done, session);
  if (state.status === 'confirmed') return;
  const shareKey = partyKeys.keyShare(state.keyId);
  const active = await ctx.tables.keyShares.get(shareKey);
  const operations: WriteOperation[] = [];
  let outcome: string;
  if (state.parties.includes(ctx.id)) {
    const pendingKey = partyKeys.pendingShare(state.keyId, session);
    const pending = await ctx.tables.keyShares.get(pendingKey);
    if (pending === undefined || pending.value.publicPackageHash !== newHash) {
      throw new RefusedError(RefusalCode.wrongRound, `no pending share of key "${state.keyId}" from this session for the confirmed package (expired?)`);
    }
    // Replaces only the epoch being left, or an older one (a stale share of a party once removed), or nothing.
    const stale = active !== undefined && epochOf(active.value) < state.fromEpoch;
    if (active !== undefined && !stale && (epochOf(active.value) !== state.fromEpoch || active.value.publicPackageHash !== state.fromPackageHash)) {
      throw new RefusedError(RefusalCode.conflict, `key "${state.keyId}" moved to epoch ${epochOf(active.value)} meanwhile`);
    }
    operations.push(
      ctx.tables.keyShares.putOperation(shareKey, { ...pending.value, status: 'active' }, (active?.version ?? 0) + 1, active !== undefined ? { kind: 'version', version: active.version } : { kind: 'absent' }),
      { op: 'delete', key: pendingKey, condition: { kind: 'version', version: pending.version } },
    );
    outcome = `share of epoch ${state.fromEpoch + 1} active${active !== undefined ? `, epoch ${epochOf(active.value)} share replaced` : ''}`;
  } else if (active !== undefined && epochOf(active.value) <= state.fromEpoch) {
    operations.push({ op: 'delete', key: shareKey, condition: { kind: 'version', version: active.version } });
    outcome = `removed from the key: epoch ${epochOf(active.value)} share deleted`;
  } else {
    outcome = 'removed from the key: no share held';
  }
  const nonces = await staleNonceDeletions(ctx, state.keyId, state.fromEpoch + 1);
  const pool = await stalePoolDeletions(ctx, state.keyId, state.fromEpoch + 1);
  // Two-round and pool nonces alike: at most POOL_DELETIONS_PER_WRITE go into the switch's own transaction (100 items at most).
  operations.push(...(await deleteOverflow(ctx, [...nonces, ...pool])));
  operations.push(...(await releaseLockOperations(ctx, state.keyId, session)));
  // Nothing of the session's secrets outlives it: the X25519 secret and a dealer's sealed output go (as at abort and abandon).
  const { secret: _secret, dealing: _dealing, ...rest } = state;
  operations.push(stateOperation(ctx, session, { ...rest, status: 'confirmed' }, stored.version));
  const entry = { ...auditEntry(ctx.now(), 'reshare', session, body.request), decision: 'approved' as const, reason: `${outcome}; ${nonces.length} unused older-epoch nonces deleted${pool.length > 0 ? `; ${pool.length} older-epoch pool items deleted` : ''}` };
  const audit = await ctx.audit.appendOperations(`reshare#${session}#confirmed`, entry);
  await ctx.tables.backend.write([...audit, ...operations], ctx.nowSeconds());
  ctx.log.info('reshare confirmed', { party: ctx.id, session, keyId: state.keyId, epoch: state.fromEpoch + 1, outcome, noncesDeleted: nonces.length, poolItemsDeleted: pool.length });
}

/** Deletes of every unused nonce of this key committed under an epoch before `epoch` (a rare scan). */
async function staleNonceDeletions(ctx: PartyContext, keyId: string, epoch: number): Promise<WriteOperation[]> {
  const operations: WriteOperation[] = [];
  for (const item of await ctx.tables.backend.scanPrefix('nonce#')) {
    // An expired item counts as absent (and a version condition on it would fail the switch): TTL reaps it.
    if (item.sk !== 'nonce' || isExpired(item, ctx.nowSeconds())) continue;
    const parsed = NonceRecord.safeParse(item.data);
    if (!parsed.success || parsed.data.keyId !== keyId || (parsed.data.epoch ?? 0) >= epoch) continue;
    operations.push({ op: 'delete', key: { pk: item.pk, sk: item.sk }, condition: { kind: 'version', version: item.version } });
  }
  return operations;
}
