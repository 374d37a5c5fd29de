/**
 * Refresh/reshare start, party side (`reshare.start` → `reshare.round1`): decide (audited),
 * then — a participant (dealer or new party) — take the key's one reshare lock, draw an
 * X25519 session key (a new party: and from it one receiving key per dealer), and answer
 * with the public keys. A party that only leaves (a removed non-dealer) records the plan,
 * to act on the confirmation, and answers nothing. A redelivery answers from the stored state.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { ConditionFailedError } from '../../ports/errors.js';
import { bytesToHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';
import { decide } from '../party-audit.js';
import type { PartyContext } from '../party-context.js';
import { partyKeys, type ReshareStateRecord } from '../party-state.js';
import { sealSecret } from '../sealed-item.js';
import { ephemeralPublicKey, newEphemeralSecret } from '../share-sealing.js';
import { receiveKeys } from './receive-keys.js';
import {
  activeShareAt,
  checkCurrent,
  checkLifecyclePolicy,
  checkLifecycleRequest,
  checkPlan,
  openReshareState,
  reshareSeconds,
} from './party-session.js';

export async function onReshareStart(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.reshareStart);
  const existing = await openReshareState(ctx, session);
  if (existing !== undefined) return answerRound1(ctx, session, existing.value);

  const { plan, attested, active } = await decide(ctx, 'reshare', session, body.request, async () => {
    const lifecycle = checkLifecycleRequest(ctx, body.request, session);
    checkLifecyclePolicy(ctx, body.request, lifecycle);
    const current = checkCurrent(ctx, lifecycle.body.keyId, body.current);
    const checkedPlan = checkPlan(ctx, lifecycle, current);
    const share = await activeShareAt(ctx, current.keyId, current);
    if (checkedPlan.dealers.includes(ctx.id) && share === undefined) {
      throw new RefusedError(RefusalCode.unknownKey, `this party is named a dealer of key "${current.keyId}" but holds no share of it`);
    }
    return { plan: checkedPlan, attested: current, active: share };
  });
  const participant = plan.participants.includes(ctx.id);
  const keyCtx = ctx.forSuite(attested.suite);
  const stateKey = partyKeys.reshareState(session);
  const base: ReshareStateRecord = {
    keyId: plan.keyId,
    mode: plan.mode,
    status: 'started',
    fromEpoch: attested.epoch,
    fromPackageHash: attested.publicPackageHash,
    keygenPackageHash: attested.keygenPackageHash,
    groupKey: attested.publicKey,
    suite: attested.suite,
    current: [...plan.current],
    threshold: plan.threshold,
    parties: [...plan.parties],
    dealers: [...plan.dealers],
  };
  const record: ReshareStateRecord = participant
    ? await keyCtx.withSecrets(async (scope) => {
        const ephemeral = newEphemeralSecret(scope);
        const receiving = plan.parties.includes(ctx.id) ? { receiveKeys: receiveKeys(ephemeral, { session, keyId: plan.keyId, party: ctx.id }, plan.dealers, scope) } : {};
        return {
          ...base,
          ephemeralKey: bytesToHex(ephemeralPublicKey(ephemeral)),
          ...receiving,
          secret: await sealSecret(ctx.vault, ctx.secretContext(plan.keyId, 'reshare-state'), stateKey, ephemeral, scope),
        };
      })
    : base;
  const seconds = reshareSeconds(ctx);
  const lockKey = partyKeys.reshareLock(plan.keyId);
  const lock = participant ? await ctx.tables.reshareLocks.get(lockKey) : undefined;
  // A lock of a session that left an epoch before the attested one is over (every party of
  // the later epoch signed that the key moved on, this party just missed the confirmation):
  // taken over. Any other lock of another session refuses this one.
  if (lock !== undefined && lock.value.session !== session && lock.value.fromEpoch >= attested.epoch) {
    throw new RefusedError(RefusalCode.conflict, `another refresh or reshare of key "${plan.keyId}" is in flight at this party`);
  }
  try {
    // One transaction: the state and (participants) the key's one lock appear together.
    await ctx.tables.backend.write(
      [
        ctx.tables.reshareStates.putOperation(stateKey, record, 1, { kind: 'absent' }, seconds),
        ...(participant
          ? [
              ctx.tables.reshareLocks.putOperation(
                lockKey,
                { keyId: plan.keyId, session, fromEpoch: attested.epoch },
                (lock?.version ?? 0) + 1,
                lock === undefined ? { kind: 'absent' } : { kind: 'version', version: lock.version },
                seconds,
              ),
            ]
          : []),
      ],
      ctx.nowSeconds(),
    );
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    const winner = await ctx.tables.reshareStates.get(stateKey);
    if (winner !== undefined) return answerRound1(ctx, session, winner.value);
    // Another session took the lock meanwhile: redelivered, this start is refused above.
    throw error;
  }
  ctx.log.info('reshare started', { party: ctx.id, session, keyId: plan.keyId, mode: plan.mode, fromEpoch: attested.epoch, participant, holdsShare: active !== undefined });
  await answerRound1(ctx, session, record);
}

/** The round-1 answer of a participant, from its stored state (nothing for a party that only leaves). */
async function answerRound1(ctx: PartyContext, session: string, state: ReshareStateRecord): Promise<void> {
  if (state.ephemeralKey === undefined || state.status !== 'started') return;
  const active = await ctx.tables.keyShares.get(partyKeys.keyShare(state.keyId));
  const holds = active !== undefined && active.value.publicPackageHash === state.fromPackageHash;
  await ctx.send(MessageType.reshareRound1, session, {
    keyId: state.keyId,
    epoch: state.fromEpoch,
    ...(holds ? { publicPackageHash: state.fromPackageHash } : {}),
    ephemeralKey: state.ephemeralKey,
    ...(state.receiveKeys !== undefined ? { receiveKeys: state.receiveKeys } : {}),
  });
}
