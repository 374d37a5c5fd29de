/**
 * Refresh/reshare dealing, party side (`reshare.deal` → `reshare.dealing`): a dealer checks
 * the round-1 transcript, opens its share, deals (dealing.ts) and seals each new party's
 * share to that party's round-1 receiving key for this dealer. The output is stored with the transcript's hash,
 * so a redelivery gets the same dealing and another transcript is refused.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { decodeHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { MessageType, type Envelope, type SealedShare } from '../messages.js';
import { writeOrAdopt, type PartyContext } from '../party-context.js';
import { epochOf, partyKeys, type ReshareStateRecord } from '../party-state.js';
import { openSecret } from '../sealed-item.js';
import { sealShare } from '../share-sealing.js';
import { deal } from './dealing.js';
import { RESHARE_SHARE_PURPOSE } from './receive-keys.js';
import { assertSameSession, checkLifecycleRequest, requiredReshareState, stateOperation } from './party-session.js';
import { reshareRound1Hash, verifyReshareRound1 } from './transcripts.js';


export async function onReshareDeal(party: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.reshareDeal);
  const lifecycle = checkLifecycleRequest(party, body.request, session);
  const stored = await requiredReshareState(party, session);
  const state = stored.value;
  assertSameSession(state, lifecycle);
  const ctx = party.forSuite(state.suite);
  if (!state.dealers.includes(ctx.id)) throw new RefusedError(RefusalCode.wrongRecipient, `"${ctx.id}" is not a dealer of this reshare`);
  const round1 = verifyReshareRound1(ctx, body.round1, session, state);
  const round1Hash = reshareRound1Hash(round1);
  if (state.dealing !== undefined) {
    if (state.dealing.round1Hash !== round1Hash) throw new RefusedError(RefusalCode.conflict, 'deal repeated with a different round-1 transcript');
    return sendDealing(ctx, session, state, state.dealing);
  }
  if (state.status !== 'started' || state.secret === undefined) throw new RefusedError(RefusalCode.wrongRound, `a deal for a reshare that is ${state.status} here`);
  const secretBlob = state.secret;
  const active = await ctx.tables.keyShares.get(partyKeys.keyShare(state.keyId));
  if (active === undefined || epochOf(active.value) !== state.fromEpoch || active.value.publicPackageHash !== state.fromPackageHash) {
    throw new RefusedError(RefusalCode.staleEpoch, `this party no longer holds key "${state.keyId}" at epoch ${state.fromEpoch}`);
  }
  const stateKey = partyKeys.reshareState(session);
  const dealing = await ctx.withSecrets(async (scope) => {
    const ephemeral = await openSecret(ctx.vault, ctx.secretContext(state.keyId, 'reshare-state'), stateKey, secretBlob, scope);
    const signingShare = await openSecret(ctx.vault, ctx.secretContext(state.keyId, 'key-share'), partyKeys.keyShare(state.keyId), active.value.share, scope);
    const output = deal(
      ctx.suite,
      {
        mode: state.mode,
        threshold: state.threshold,
        recipients: state.parties.map((p) => ctx.identifierOf(p)),
        dealer: ctx.identifierOf(ctx.id),
        dealers: state.dealers.map((p) => ctx.identifierOf(p)),
        signingShare,
      },
      scope,
    );
    const shares: Record<string, SealedShare> = {};
    for (const recipient of state.parties) {
      const share = output.shares.get(ctx.identifierOf(recipient));
      // Sealed to the recipient's receiving key for this dealer (checked present and usable with the transcript).
      const receiveKey = round1[recipient]?.receiveKeys?.[ctx.id];
      if (share === undefined || receiveKey === undefined) throw new RefusedError(RefusalCode.incompleteTranscript, `no share or receiving key for "${recipient}"`);
      const binding = { session, keyId: state.keyId, sender: ctx.id, recipient };
      shares[recipient] = sealShare(ephemeral, decodeHex(receiveKey, 'receiveKey', 32), binding, share, scope, RESHARE_SHARE_PURPOSE);
    }
    return { round1Hash, commitments: output.commitments, shares };
  });
  const next: ReshareStateRecord = { ...state, dealing };
  const stored2 = await writeOrAdopt(
    async () => {
      await ctx.tables.backend.write([stateOperation(ctx, session, next, stored.version)], ctx.nowSeconds());
      return dealing;
    },
    async () => {
      const winner = (await ctx.tables.reshareStates.get(stateKey))?.value.dealing;
      return winner?.round1Hash === round1Hash ? winner : undefined;
    },
  );
  await sendDealing(ctx, session, state, stored2);
}

async function sendDealing(ctx: PartyContext, session: string, state: ReshareStateRecord, dealing: NonNullable<ReshareStateRecord['dealing']>): Promise<void> {
  await ctx.send(MessageType.reshareDealing, session, {
    keyId: state.keyId,
    epoch: state.fromEpoch,
    publicPackageHash: state.fromPackageHash,
    round1Hash: dealing.round1Hash,
    commitments: dealing.commitments,
    shares: dealing.shares,
  });
}
