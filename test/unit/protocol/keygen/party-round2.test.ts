/** DKG round 2, party side: the pure step (keygen/party-round2.ts `round2Shares`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { bytesToHex, decodeHex } from '../../../../lib/protocol/encoding.js';
import { unpackRoundSecret } from '../../../../lib/protocol/keygen/noble-dkg-state.js';
import { startRound1 } from '../../../../lib/protocol/keygen/party-round1.js';
import { round2Shares } from '../../../../lib/protocol/keygen/party-round2.js';
import { verifyRound1Transcript } from '../../../../lib/protocol/keygen/transcripts.js';
import { MessageType, type DkgRound1Body, type SealedShare } from '../../../../lib/protocol/messages.js';
import { openShare } from '../../../../lib/protocol/share-sealing.js';
import { Scratch } from '../../../support/harness.js';
import { dkgRound1, member, openCast, SESSION, testScope, KEY_ID, type Cast, type Round1Party } from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const PARTIES = ['p1', 'p2', 'p3'];
const scratch = new Scratch();
const scope = testScope();
let cast: Cast;
let round1: Record<string, Round1Party>;

beforeAll(async () => {
  cast = await openCast(scratch, PARTIES);
  round1 = await dkgRound1(cast, PARTIES, 2, scope);
});
afterAll(async () => {
  scope.wipe();
  await scratch.cleanup();
});

const envelopes = () => PARTIES.map((p) => member(round1, p).envelope);
const bodyOf = (name: string) => member(round1, name).envelope.body as DkgRound1Body;

function p1Shares(transcriptEnvelopes = envelopes()): Record<string, SealedShare> {
  const view = cast.view('p1');
  const { state, secret } = member(round1, 'p1');
  const transcript = verifyRound1Transcript(view, transcriptEnvelopes, SESSION, state);
  return round2Shares(view, { session: SESSION, state, round1: transcript, secret }, scope);
}

/** What `recipient` opens from p1's sealed share, with its own ephemeral secret. */
function opened(recipient: string, sealed: SealedShare | undefined): Uint8Array | undefined {
  if (sealed === undefined) return undefined;
  const { ephemeral } = unpackRoundSecret(member(round1, recipient).secret);
  const binding = { session: SESSION, keyId: KEY_ID, sender: 'p1', recipient };
  return openShare(ephemeral, decodeHex(bodyOf('p1').ephemeralKey, 'ephemeralKey'), binding, sealed, scope);
}

describe('round2Shares', () => {
  it('seals to every other party a share that opens for it alone and matches this party\'s commitment (vss_verify)', () => {
    const shares = p1Shares();
    expect(Object.keys(shares).sort()).toEqual(['p2', 'p3']);
    const { frost } = cast.view('p1').suite;
    for (const recipient of ['p2', 'p3']) {
      const share = opened(recipient, shares[recipient]);
      if (share === undefined) throw new Error(`share for ${recipient} does not open`);
      expect(() =>
        frost.validateSecret(
          { identifier: frost.Identifier.derive(recipient), signingShare: share },
          { signers: { min: 2, max: 3 }, commitments: bodyOf('p1').package.commitment.map((c) => decodeHex(c, 'c')), verifyingShares: {} },
        ),
      ).not.toThrow();
    }
    // Sealed to its recipient: p3 cannot open p2's share.
    const { ephemeral } = unpackRoundSecret(member(round1, 'p3').secret);
    const binding = { session: SESSION, keyId: KEY_ID, sender: 'p1', recipient: 'p2' };
    const sealedForP2 = shares.p2;
    if (sealedForP2 === undefined) throw new Error('no share for p2');
    expect(openShare(ephemeral, decodeHex(bodyOf('p1').ephemeralKey, 'e'), binding, sealedForP2, scope)).toBeUndefined();
  });

  it('is deterministic apart from the sealing: run again, it seals the same shares (what round 3 replays)', () => {
    const first = p1Shares();
    const second = p1Shares();
    expect(second.p2).not.toEqual(first.p2);
    expect(bytesToHex(opened('p2', second.p2) ?? new Uint8Array())).toBe(bytesToHex(opened('p2', first.p2) ?? new Uint8Array(1)));
  });

  it('refuses a signed round-1 package whose proof of knowledge does not verify', async () => {
    const forged = await cast.signed(MessageType.dkgRound1, 'p2', { ...bodyOf('p2'), package: { ...bodyOf('p2').package, proofOfKnowledge: bodyOf('p3').package.proofOfKnowledge } });
    const refused = refusal(() => p1Shares([member(round1, 'p1').envelope, forged, member(round1, 'p3').envelope]));
    expect(refused.code).toBe(RefusalCode.invalidPackage);
    expect(refused.message).toMatch(/a round-1 package was rejected/);
  });

  it('refuses a signed round-1 package committing to another threshold', async () => {
    const output = startRound1(cast.view('p2'), { threshold: 3, parties: PARTIES }, scope);
    const wide = await cast.signed(MessageType.dkgRound1, 'p2', { ...bodyOf('p2'), package: output.ownPackage });
    const refused = refusal(() => p1Shares([member(round1, 'p1').envelope, wide, member(round1, 'p3').envelope]));
    expect(refused.message).toMatch(/a round-1 package was rejected/);
  });
});
