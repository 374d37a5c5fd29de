/**
 * DKG round 3, party side (`dkg.round3` → `dkg.done`): open the shares sealed to this
 * party, check each against its sender's round-1 commitment, and derive this party's
 * signing share and the public package. The share is stored pending until every party
 * confirms the same public package (party-confirm.ts). A share that does not open or does
 * not match its commitment is an accusation, with evidence anyone can check (dkg-blame.ts).
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { dkgLifetimes } from '../directory.js';
import { bytesToHex, decodeHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { decodeSuiteHex, groupKeyOf, publicPackageHash, publicToWire, round1TranscriptHash } from '../frost-wire.js';
import { MessageType, type DkgRound1Body, type Envelope, type PublicPackage, type SealedShare } from '../messages.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { partyKeys, type DkgRound2State, type KeyShareRecord, type StoredRefusal } from '../party-state.js';
import { openSecret, sealSecret } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';
import { openShare } from '../share-sealing.js';
import type { Suite } from '../suite.js';
import { restoreRound2Secret, unpackRoundSecret } from './noble-dkg-state.js';
import { abandon } from './party-abandon.js';
import { checkKeygenRequest, KeygenAbandonedError, keyShareOfSession, markerOperation, nextMarker, openSession } from './party-session.js';
import { entryOf, otherRound1Packages, verifyRound1Transcript, verifySharesTranscript, type Round1Transcript } from './transcripts.js';

export interface Round3Input {
  readonly session: string;
  readonly state: DkgRound2State;
  /** The verified round-1 transcript, the one round 2 used. */
  readonly round1: Round1Transcript;
  /** The verified shares sealed to this party, by sender (`verifySharesTranscript`). */
  readonly sealedFrom: Readonly<Record<string, SealedShare>>;
  /** The opened round secret (`packRoundSecret`). */
  readonly secret: Uint8Array;
}

/** What round 3 comes to: this party's share, or an accusation with its evidence. */
export type Round3Outcome =
  | { readonly kind: 'share'; readonly signingShare: Uint8Array; readonly publicPackage: PublicPackage }
  | { readonly kind: 'accuse'; readonly accused: string; readonly reason: string; readonly ephemeralSecret: string };

/**
 * RFC 9591 App. C.2 `vss_verify` for one sender's share: a share that does not match its
 * sender's round-1 commitment names that sender.
 */
function shareMatchesCommitment(view: PartyView, share: Uint8Array, senderRound1: DkgRound1Body, state: DkgRound2State): boolean {
  const commitments = senderRound1.package.commitment.map((c, i) => decodeSuiteHex(view.suite, 'element', c, `commitment[${i}]`));
  try {
    view.suite.frost.validateSecret(
      { identifier: view.identifierOf(view.id), signingShare: share },
      { signers: { min: state.threshold, max: state.parties.length }, commitments, verifyingShares: {} },
    );
    return true;
  } catch {
    return false;
  }
}

/** Pure step: this party's signing share (owned by `scope`) and the public package, or whom to accuse. */
export function round3Outcome(view: PartyView, input: Round3Input, scope: SecretScope): Round3Outcome {
  const { session, state, round1 } = input;
  const { ephemeral, coefficients } = unpackRoundSecret(input.secret);
  const others = otherRound1Packages(view, state.parties, round1);
  const signers = { min: state.threshold, max: state.parties.length };
  const dkgSecret = restoreRound2Secret(view.suite, { identifier: view.identifierOf(view.id), coefficients, commitment: state.ownPackage.commitment, signers }, others, scope);
  // The evidence of an accusation: public once sent, and sent only after abandoning.
  const accuse = (accused: string, reason: string): Round3Outcome => ({ kind: 'accuse', accused, reason, ephemeralSecret: bytesToHex(ephemeral) });
  try {
    const received: { sender: string; identifier: string; signingShare: Uint8Array }[] = [];
    for (const [sender, sealed] of Object.entries(input.sealedFrom)) {
      const senderKey = decodeHex(entryOf(round1, sender).ephemeralKey, 'ephemeralKey', 32);
      const binding = { session, keyId: state.keyId, sender, recipient: view.id };
      const share = openShare(ephemeral, senderKey, binding, sealed, scope);
      if (share === undefined) return accuse(sender, `sealed share from "${sender}" does not open`);
      received.push({ sender, identifier: view.identifierOf(sender), signingShare: share });
    }
    let key: ReturnType<PartyView['suite']['frost']['DKG']['round3']>;
    try {
      key = view.suite.frost.DKG.round3(dkgSecret, others, received);
    } catch (error) {
      // Round 3 says only that some share was wrong; find out whose (costs nothing on
      // the happy path, where round 3 has already checked every share).
      for (const { sender, signingShare } of received) {
        if (!shareMatchesCommitment(view, signingShare, entryOf(round1, sender), state)) {
          return accuse(sender, `round-2 share from "${sender}" does not match its round-1 commitment`);
        }
      }
      throw new RefusedError(RefusalCode.invalidPackage, `round 3 failed: ${(error as Error).message}`);
    }
    return { kind: 'share', signingShare: scope.track(key.secret.signingShare), publicPackage: publicToWire(key.public) };
  } finally {
    view.suite.frost.DKG.clean(dkgSecret);
  }
}

/** Thin step: verify both transcripts, run round 3, then store the pending share, or abandon and accuse. */
export async function onDkgRound3(party: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.dkgRound3);
  const keygen = checkKeygenRequest(party, body.request, session);
  // The key's suite, from the signed request: every size and computation below is its.
  const ctx = party.forSuite(keygen.suite);
  const done = await keyShareOfSession(ctx, keygen.keyId, session);
  if (done !== undefined) return sendDone(ctx, session, done);
  const marker = await openSession(ctx, session);

  const stateKey = partyKeys.dkgState(session);
  const stored = await ctx.tables.dkgStates.get(stateKey);
  if (stored === undefined || stored.value.step !== 2) {
    throw new RefusedError(RefusalCode.wrongRound, 'round 3 for a session that has not completed round 2');
  }
  const state = stored.value;
  const round1 = verifyRound1Transcript(ctx, body.round1, session, state);
  if (round1TranscriptHash(round1) !== state.round1Hash) {
    throw new RefusedError(RefusalCode.conflict, 'round 3 carries a different round-1 transcript than round 2');
  }
  const sealedFrom = verifySharesTranscript(ctx, body.shares, session, state);
  // Sealed under the active share's table key, so that confirmation promotes the pending
  // item by copying it (no decrypt and re-encrypt). The status field, not the AAD, tells
  // pending from active; a writer who could move the blob could flip that field anyway.
  const activeKey = partyKeys.keyShare(state.keyId);

  const outcome = await ctx.withSecrets(async (scope) => {
    const secret = await openSecret(ctx.vault, ctx.secretContext(state.keyId, 'dkg-state'), stateKey, state.secret, scope);
    const result = round3Outcome(ctx, { session, state, round1, sealedFrom, secret }, scope);
    if (result.kind === 'accuse') return result;
    const record: KeyShareRecord = {
      keyId: state.keyId,
      session,
      suite: ctx.suite.id,
      threshold: state.threshold,
      parties: [...state.parties],
      identifier: ctx.identifierOf(ctx.id),
      share: await sealSecret(ctx.vault, ctx.secretContext(state.keyId, 'key-share'), activeKey, result.signingShare, scope),
      publicPackage: result.publicPackage,
      publicPackageHash: publicPackageHash(result.publicPackage),
      groupKey: requiredGroupKey(ctx.suite, result.publicPackage),
      status: 'pending',
      createdAt: ctx.now(),
    };
    return { kind: 'share' as const, record };
  });

  if (outcome.kind === 'accuse') {
    const refusal: StoredRefusal = {
      // Stays `protocol`: callers and tests have always seen this code for a proven bad share.
      code: RefusalCode.protocol,
      reason: outcome.reason,
      accusation: { accused: outcome.accused, evidence: { kind: 'dkg-share', ephemeralSecret: outcome.ephemeralSecret } },
    };
    // The ephemeral secret opens every share sent to this party in this session, so it is
    // revealed only once abandoning is durable: state deleted, marker `abandoned`, in one
    // transaction that excludes finishing. If a concurrent delivery finished the session
    // instead, nothing is revealed.
    const abandoned = await abandon(ctx, session, state.keyId, refusal);
    // Stays `protocol`: callers and tests have always seen this code for a proven bad share.
    if (abandoned === undefined) throw new RefusedError(RefusalCode.protocol, outcome.reason);
    throw new KeygenAbandonedError(abandoned);
  }
  const { record } = outcome;
  const share = await writeOrAdopt(
    async () => {
      // One transaction: the pending share appears exactly when the round state disappears
      // and the session is marked finished (which excludes abandoning it).
      await ctx.tables.backend.write(
        [
          // Pending shares expire with the session marker: past the request window no
          // confirmation can be accepted, so an unconfirmed share is of no use to anyone.
          ctx.tables.keyShares.putOperation(partyKeys.pendingShare(record.keyId, session), record, 1, { kind: 'absent' }, dkgLifetimes(ctx.limits).sessionSeconds),
          { op: 'delete', key: stateKey, condition: { kind: 'version', version: stored.version } },
          markerOperation(ctx, session, marker, nextMarker(marker, record.keyId, 'finished')),
        ],
        ctx.nowSeconds(),
      );
      return record;
    },
    () => keyShareOfSession(ctx, record.keyId, session),
  );
  await sendDone(ctx, session, share);
}

/** The group key of a public package noble just computed: always the suite's size. */
function requiredGroupKey(suite: Suite, pub: PublicPackage): string {
  const key = groupKeyOf(suite, pub);
  if (key === undefined) throw new Error('DKG produced no group commitment of the suite\'s size');
  return key;
}

/** This party's signed attestation of the finished keygen. */
async function sendDone(ctx: PartyContext, session: string, share: KeyShareRecord): Promise<void> {
  await ctx.send(MessageType.dkgDone, session, {
    keyId: share.keyId,
    suite: share.suite,
    threshold: share.threshold,
    parties: [...share.parties].sort(),
    groupKey: share.groupKey,
    publicPackageHash: share.publicPackageHash,
    publicPackage: share.publicPackage,
    epoch: 0,
  });
}
