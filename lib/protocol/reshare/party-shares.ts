/**
 * Refresh/reshare shares, party side (`reshare.shares` → `reshare.done`): a new party checks
 * every dealer's signed dealing against the attested current epoch (dealing.ts), opens and
 * checks the share sealed to it, and stores its new share **pending** (epoch + 1) until every
 * new party confirmed the same package (party-confirm.ts). A bad share or commitment names
 * its dealer with evidence anyone can check, after this party abandoned the session.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { bytesToHex, decodeHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { groupKeyOf, publicPackageHash } from '../frost-wire.js';
import { MessageType, type Envelope, type PublicPackage } from '../messages.js';
import { writeOrAdopt, type PartyContext } from '../party-context.js';
import { epochOf, partyKeys, type KeyShareRecord, type ReshareStateRecord, type StoredRefusal } from '../party-state.js';
import { openSecret, sealSecret } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';
import { openShare } from '../share-sealing.js';
import { checkDealingCommitments, combineShares, constantsSumToGroupKey, nextPublicPackage, shareMatchesDealing } from './dealing.js';
import { abandonReshare } from './party-abandon.js';
import { receiveSecret, RESHARE_SHARE_PURPOSE } from './receive-keys.js';
import { assertSameSession, checkCurrent, checkLifecycleRequest, requiredReshareState, reshareSeconds, ReshareAbandonedError, stateOperation } from './party-session.js';
import { reshareRound1Hash, verifyDealings, verifyReshareRound1, type DealingsTranscript, type ReshareRound1Transcript } from './transcripts.js';

type Outcome =
  | { readonly kind: 'share'; readonly record: KeyShareRecord }
  | { readonly kind: 'accuse'; readonly accused: string; readonly reason: string; readonly evidence: { kind: 'reshare-share' | 'reshare-commitment'; receiveSecret?: string } };

export async function onReshareShares(party: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.reshareShares);
  const lifecycle = checkLifecycleRequest(party, body.request, session);
  const stored = await requiredReshareState(party, session);
  const state = stored.value;
  assertSameSession(state, lifecycle);
  const ctx = party.forSuite(state.suite);
  if (!state.parties.includes(ctx.id)) throw new RefusedError(RefusalCode.wrongRecipient, `"${ctx.id}" is not a new party of this reshare`);
  const pendingKey = partyKeys.pendingShare(state.keyId, session);
  if (state.status === 'finished' || state.status === 'confirmed') {
    const pending = await ctx.tables.keyShares.get(pendingKey);
    const active = await ctx.tables.keyShares.get(partyKeys.keyShare(state.keyId));
    const own = pending?.value ?? (active?.value.session === session ? active.value : undefined);
    if (own === undefined) throw new RefusedError(RefusalCode.sessionClosed, 'the new share of this reshare is gone (expired)');
    return sendDone(ctx, session, own);
  }
  if (state.secret === undefined) throw new RefusedError(RefusalCode.wrongRound, 'no round-1 secret for this reshare');
  // The attested current epoch, again: the public package the dealings must fit.
  const attested = checkCurrent(ctx, state.keyId, body.current);
  if (attested.epoch !== state.fromEpoch || attested.publicPackageHash !== state.fromPackageHash) {
    throw new RefusedError(RefusalCode.conflict, 'shares carry attestations of another epoch than start did');
  }
  const round1 = verifyReshareRound1(ctx, body.round1, session, state);
  const dealings = verifyDealings(ctx, body.dealings, session, state, reshareRound1Hash(round1));
  const active = state.mode === 'refresh' ? await ctx.tables.keyShares.get(partyKeys.keyShare(state.keyId)) : undefined;
  if (state.mode === 'refresh' && (active === undefined || epochOf(active.value) !== state.fromEpoch || active.value.publicPackageHash !== state.fromPackageHash)) {
    throw new RefusedError(RefusalCode.staleEpoch, `a refresh needs this party's share of key "${state.keyId}" at epoch ${state.fromEpoch}`);
  }
  const secretBlob = state.secret;
  const outcome = await ctx.withSecrets(async (scope): Promise<Outcome> => {
    const ephemeral = await openSecret(ctx.vault, ctx.secretContext(state.keyId, 'reshare-state'), partyKeys.reshareState(session), secretBlob, scope);
    const oldShare = active === undefined ? undefined : await openSecret(ctx.vault, ctx.secretContext(state.keyId, 'key-share'), partyKeys.keyShare(state.keyId), active.value.share, scope);
    const result = newShare(ctx, { session, state, round1, dealings, current: attested.publicPackage, ephemeral, oldShare }, scope);
    if (result.kind === 'accuse') return result;
    const record: KeyShareRecord = {
      keyId: state.keyId,
      session,
      suite: ctx.suite.id,
      threshold: state.threshold,
      parties: [...state.parties],
      identifier: ctx.identifierOf(ctx.id),
      share: await sealSecret(ctx.vault, ctx.secretContext(state.keyId, 'key-share'), partyKeys.keyShare(state.keyId), result.share, scope),
      publicPackage: result.publicPackage,
      publicPackageHash: publicPackageHash(result.publicPackage),
      groupKey: state.groupKey,
      status: 'pending',
      createdAt: ctx.now(),
      epoch: state.fromEpoch + 1,
      keygenPackageHash: state.keygenPackageHash,
    };
    return { kind: 'share', record };
  });
  if (outcome.kind === 'accuse') {
    const refusal: StoredRefusal = { code: RefusalCode.badDealing, reason: outcome.reason, accusation: { accused: outcome.accused, evidence: outcome.evidence } };
    const abandoned = await abandonReshare(ctx, session, state.keyId, refusal, body.request);
    if (abandoned === undefined) throw new RefusedError(RefusalCode.badDealing, outcome.reason);
    throw new ReshareAbandonedError(abandoned);
  }
  const { record } = outcome;
  const next: ReshareStateRecord = withoutSecret({ ...state, status: 'finished' });
  const share = await writeOrAdopt(
    async () => {
      // One transaction: the pending share appears exactly when the session is marked
      // finished here (which excludes abandoning it); it expires with the session.
      await ctx.tables.backend.write(
        [ctx.tables.keyShares.putOperation(pendingKey, record, 1, { kind: 'absent' }, reshareSeconds(ctx)), stateOperation(ctx, session, next, stored.version)],
        ctx.nowSeconds(),
      );
      return record;
    },
    async () => (await ctx.tables.keyShares.get(pendingKey))?.value,
  );
  ctx.log.info('reshare share stored pending', { party: ctx.id, session, keyId: state.keyId, epoch: share.epoch });
  await sendDone(ctx, session, share);
}

function withoutSecret(state: ReshareStateRecord): ReshareStateRecord {
  const { secret: _secret, ...rest } = state;
  return rest;
}

interface ShareInput {
  readonly session: string;
  readonly state: ReshareStateRecord;
  readonly round1: ReshareRound1Transcript;
  readonly dealings: DealingsTranscript;
  readonly current: PublicPackage;
  readonly ephemeral: Uint8Array;
  readonly oldShare: Uint8Array | undefined;
}

/** Pure step: this party's new share (owned by `scope`) and the new public package, or whom to accuse. */
export function newShare(ctx: PartyContext, input: ShareInput, scope: SecretScope): { kind: 'share'; share: Uint8Array; publicPackage: PublicPackage } | Extract<Outcome, { kind: 'accuse' }> {
  const { state, dealings } = input;
  const suite = ctx.suite;
  const dealerIds = state.dealers.map((d) => ctx.identifierOf(d));
  const received: Uint8Array[] = [];
  for (const dealer of state.dealers) {
    const dealing = dealings[dealer];
    const dealerRound1 = input.round1[dealer];
    if (dealing === undefined || dealerRound1 === undefined) throw new RefusedError(RefusalCode.incompleteTranscript, `no dealing of "${dealer}"`);
    const verifyingShare = input.current.verifyingShares[ctx.identifierOf(dealer)];
    const wrong = checkDealingCommitments(suite, {
      mode: state.mode,
      threshold: state.threshold,
      commitments: dealing.commitments,
      dealer: ctx.identifierOf(dealer),
      dealers: dealerIds,
      ...(verifyingShare !== undefined ? { dealerVerifyingShare: verifyingShare } : {}),
    });
    if (wrong !== undefined) return { kind: 'accuse', accused: dealer, reason: `dealing of "${dealer}" is wrong: ${wrong}`, evidence: { kind: 'reshare-commitment' } };
    const sealed = dealing.shares[ctx.id];
    if (sealed === undefined) throw new RefusedError(RefusalCode.missingShare, `dealing of "${dealer}" holds nothing for "${ctx.id}"`);
    const binding = { session: input.session, keyId: state.keyId, sender: dealer, recipient: ctx.id };
    // This party's receiving secret for this dealer only: revealed as evidence, it opens this dealer's share to this party and nothing else.
    const receiving = receiveSecret(input.ephemeral, { session: input.session, keyId: state.keyId, party: ctx.id }, dealer, scope);
    const share = openShare(receiving, decodeHex(dealerRound1.ephemeralKey, 'ephemeralKey', 32), binding, sealed, scope, RESHARE_SHARE_PURPOSE);
    // The evidence (as text) is made only when accusing: it is public once sent.
    const evidence = () => ({ kind: 'reshare-share' as const, receiveSecret: bytesToHex(receiving) });
    if (share === undefined) return { kind: 'accuse', accused: dealer, reason: `sealed share from "${dealer}" does not open`, evidence: evidence() };
    if (!shareMatchesDealing(suite, state.mode, ctx.identifierOf(ctx.id), share, dealing.commitments)) {
      return { kind: 'accuse', accused: dealer, reason: `share from "${dealer}" does not match its dealing's commitments`, evidence: evidence() };
    }
    received.push(share);
  }
  const ordered = state.dealers.map((d) => dealings[d]?.commitments ?? []);
  const currentGroup = input.current.commitments[0];
  if (state.mode === 'reshare' && (currentGroup === undefined || !constantsSumToGroupKey(suite, ordered, currentGroup))) {
    throw new RefusedError(RefusalCode.inconsistentPackage, 'the dealings\' constant commitments do not sum to the group key');
  }
  const share = combineShares(suite, state.mode, received, input.oldShare, scope);
  const publicPackage = nextPublicPackage(suite, {
    mode: state.mode,
    threshold: state.threshold,
    recipients: state.parties.map((p) => ctx.identifierOf(p)),
    dealings: ordered,
    current: input.current,
  });
  if (groupKeyOf(suite, publicPackage) !== state.groupKey) throw new RefusedError(RefusalCode.inconsistentPackage, 'the new public package has another group key');
  // This party's share must be the one its verifying share in the new package says.
  const own = publicPackage.verifyingShares[ctx.identifierOf(ctx.id)];
  try {
    suite.frost.validateSecret({ identifier: ctx.identifierOf(ctx.id), signingShare: share }, { signers: publicPackage.signers, commitments: publicPackage.commitments.map((c) => decodeHex(c, 'commitment')), verifyingShares: {} });
  } catch {
    throw new RefusedError(RefusalCode.inconsistentPackage, `the combined share does not match the new package (verifying share ${own ?? 'missing'})`);
  }
  return { kind: 'share', share, publicPackage };
}

/** This party's signed attestation of the new epoch. */
export async function sendDone(ctx: PartyContext, session: string, share: KeyShareRecord): Promise<void> {
  await ctx.send(MessageType.reshareDone, session, {
    keyId: share.keyId,
    suite: share.suite,
    threshold: share.threshold,
    parties: [...share.parties].sort(),
    groupKey: share.groupKey,
    publicPackageHash: share.publicPackageHash,
    publicPackage: share.publicPackage,
    epoch: epochOf(share),
    ...(share.keygenPackageHash !== undefined ? { keygenPackageHash: share.keygenPackageHash } : {}),
  });
}
