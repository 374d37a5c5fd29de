/**
 * DKG round 2, party side (`dkg.round2` → `dkg.shares`): given every party's signed round-1
 * package, evaluate this party's polynomial for each other party and seal each share to
 * that party's ephemeral key. The output is stored with the transcript's hash, so a
 * redelivery gets the same shares and another transcript is refused.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { dkgLifetimes } from '../directory.js';
import { decodeHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { round1TranscriptHash } from '../frost-wire.js';
import { MessageType, type Envelope, type SealedShare } from '../messages.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { partyKeys, type DkgRound1State, type DkgRound2State } from '../party-state.js';
import { openSecret } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';
import { sealShare } from '../share-sealing.js';
import { restoreRound1Secret, round2ShareFor, runRound2, unpackRoundSecret } from './noble-dkg-state.js';
import { checkKeygenRequest, keyShareOfSession, openSession } from './party-session.js';
import { entryOf, otherRound1Packages, verifyRound1Transcript, type Round1Transcript } from './transcripts.js';

export interface Round2Input {
  readonly session: string;
  readonly state: DkgRound1State;
  /** The verified round-1 transcript (`verifyRound1Transcript`). */
  readonly round1: Round1Transcript;
  /** The opened round secret (`packRoundSecret`). */
  readonly secret: Uint8Array;
}

/** Pure step (apart from fresh IVs): the sealed round-2 share for every other party, by name. */
export function round2Shares(view: PartyView, input: Round2Input, scope: SecretScope): Record<string, SealedShare> {
  const { session, state, round1 } = input;
  const { ephemeral, coefficients } = unpackRoundSecret(input.secret);
  const dkgSecret = restoreRound1Secret(view.suite, {
    identifier: view.identifierOf(view.id),
    coefficients,
    commitment: state.ownPackage.commitment,
    signers: { min: state.threshold, max: state.parties.length },
  });
  try {
    const outgoing = runRound2(view.suite, dkgSecret, otherRound1Packages(view, state.parties, round1), scope);
    const sealed: Record<string, SealedShare> = {};
    for (const recipient of state.parties.filter((p) => p !== view.id)) {
      const share = round2ShareFor(outgoing, view.identifierOf(recipient), recipient);
      const recipientKey = decodeHex(entryOf(round1, recipient).ephemeralKey, 'ephemeralKey', 32);
      const binding = { session, keyId: state.keyId, sender: view.id, recipient };
      sealed[recipient] = sealShare(ephemeral, recipientKey, binding, share, scope);
    }
    return sealed;
  } finally {
    view.suite.frost.DKG.clean(dkgSecret);
  }
}

/** Thin step: load the round state, verify the transcript, compute or repeat round 2, answer. */
export async function onDkgRound2(party: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.dkgRound2);
  const keygen = checkKeygenRequest(party, body.request, session);
  // The key's suite, from the signed request: every size and computation below is its.
  const ctx = party.forSuite(keygen.suite);
  if ((await keyShareOfSession(ctx, keygen.keyId, session)) !== undefined) return;
  await openSession(ctx, session);
  const stateKey = partyKeys.dkgState(session);
  const stored = await ctx.tables.dkgStates.get(stateKey);
  if (stored === undefined) throw new RefusedError(RefusalCode.wrongRound, 'round 2 for a session without round-1 state');
  const state = stored.value;
  const round1 = verifyRound1Transcript(ctx, body.round1, session, state);
  const round1Hash = round1TranscriptHash(round1);

  let shares: Record<string, SealedShare>;
  if (state.step === 2) {
    if (state.round1Hash !== round1Hash) {
      throw new RefusedError(RefusalCode.conflict, 'round 2 repeated with a different round-1 transcript');
    }
    shares = state.sharesOutput;
  } else {
    const computed = await ctx.withSecrets(async (scope) => {
      const secret = await openSecret(ctx.vault, ctx.secretContext(state.keyId, 'dkg-state'), stateKey, state.secret, scope);
      return round2Shares(ctx, { session, state, round1, secret }, scope);
    });
    const next: DkgRound2State = { ...state, step: 2, round1Hash, sharesOutput: computed };
    shares = await writeOrAdopt(
      async () => {
        await ctx.tables.dkgStates.replace(stateKey, next, stored.version, dkgLifetimes(ctx.limits).stateSeconds);
        return computed;
      },
      // A concurrent delivery of the same transcript stored its shares first: send those.
      async () => {
        const winner = (await ctx.tables.dkgStates.get(stateKey))?.value;
        return winner?.step === 2 && winner.round1Hash === round1Hash ? winner.sharesOutput : undefined;
      },
    );
  }
  await ctx.send(MessageType.dkgShares, session, { keyId: state.keyId, shares });
}
