/** DKG round 3, party side: the pure step (keygen/party-round3.ts `round3Outcome`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { bytesToHex, decodeHex } from '../../../../lib/protocol/encoding.js';
import { publicFromWire } from '../../../../lib/protocol/frost-wire.js';
import { unpackRoundSecret } from '../../../../lib/protocol/keygen/noble-dkg-state.js';
import { round3Outcome, type Round3Outcome } from '../../../../lib/protocol/keygen/party-round3.js';
import { verifySharesTranscript } from '../../../../lib/protocol/keygen/transcripts.js';
import type { DkgRound1Body, SealedShare } from '../../../../lib/protocol/messages.js';
import { sealShare } from '../../../../lib/protocol/share-sealing.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Scratch } from '../../../support/harness.js';
import { dkgRound1, dkgRound2, KEY_ID, member, openCast, SESSION, testScope, type Cast, type Round1Party, type Round2Party } from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const PARTIES = ['p1', 'p2', 'p3'];
const { frost, Point } = ed25519Suite;
const scratch = new Scratch();
const scope = testScope();
let cast: Cast;
let round1: Record<string, Round1Party>;
let round2: Record<string, Round2Party>;

beforeAll(async () => {
  cast = await openCast(scratch, PARTIES);
  round1 = await dkgRound1(cast, PARTIES, 2, scope);
  round2 = await dkgRound2(cast, round1, scope);
});
afterAll(async () => {
  scope.wipe();
  await scratch.cleanup();
});

/** Round 3 for `name`, with the verified shares of the others (changed by `alter`). */
function outcomeOf(name: string, alter: (sealed: Record<string, SealedShare>) => Record<string, SealedShare> = (s) => s): Round3Outcome {
  const view = cast.view(name);
  const { state, round1: transcript } = member(round2, name);
  const others = PARTIES.filter((p) => p !== name).map((p) => member(round2, p).envelope);
  const sealedFrom = alter(verifySharesTranscript(view, others, SESSION, state));
  return round3Outcome(view, { session: SESSION, state, round1: transcript, sealedFrom, secret: member(round1, name).secret }, scope);
}

function share(outcome: Round3Outcome) {
  if (outcome.kind !== 'share') throw new Error(`expected a share, got an accusation: ${outcome.reason}`);
  return outcome;
}

const ephemeralOf = (name: string) => unpackRoundSecret(member(round1, name).secret).ephemeral;
const round1Of = (name: string) => member(round1, name).envelope.body as DkgRound1Body;

describe('round3Outcome', () => {
  it('gives every party the same public package and a share of its key: any two sign, and OpenSSL accepts the signature', () => {
    const outcomes = Object.fromEntries(PARTIES.map((p) => [p, share(outcomeOf(p))]));
    const pub = member(outcomes, 'p1').publicPackage;
    for (const p of PARTIES) {
      const { publicPackage, signingShare } = member(outcomes, p);
      expect(publicPackage).toEqual(pub);
      const verifying = bytesToHex(Point.BASE.multiply(frost.utils.Fn.fromBytes(signingShare)).toBytes());
      expect(verifying).toBe(pub.verifyingShares[frost.Identifier.derive(p)]);
    }

    const message = new TextEncoder().encode('signed by two of three');
    const signers = ['p1', 'p3'].map((p) => ({ identifier: frost.Identifier.derive(p), signingShare: member(outcomes, p).signingShare }));
    const round = signers.map((secret) => ({ secret, ...frost.commit(secret) }));
    const commitments = round.map((r) => r.commitments);
    const shares = Object.fromEntries(round.map((r) => [r.secret.identifier, frost.signShare(r.secret, publicFromWire(ed25519Suite, pub), r.nonces, commitments, message)]));
    const signature = frost.aggregate(publicFromWire(ed25519Suite, pub), commitments, message, shares);
    const groupKey = pub.commitments[0] ?? '';
    expect(ed25519Suite.verifyFinal(decodeHex(groupKey, 'groupKey'), message, signature)).toBe(true);
  });

  it('accuses the sender of a sealed share that does not open, with this party\'s ephemeral secret as evidence', () => {
    const outcome = outcomeOf('p1', (sealed) => {
      const fromP2 = sealed.p2;
      if (fromP2 === undefined) throw new Error('no share from p2');
      const flipped = (Number.parseInt(fromP2.ct.slice(0, 2), 16) ^ 1).toString(16).padStart(2, '0');
      return { ...sealed, p2: { ...fromP2, ct: flipped + fromP2.ct.slice(2) } };
    });
    expect(outcome).toEqual({ kind: 'accuse', accused: 'p2', reason: 'sealed share from "p2" does not open', ephemeralSecret: bytesToHex(ephemeralOf('p1')) });
  });

  it('accuses the sender of a share that opens but does not match its round-1 commitment (vss_verify)', () => {
    const outcome = outcomeOf('p1', (sealed) => {
      const wrong = frost.utils.randomScalar();
      const binding = { session: SESSION, keyId: KEY_ID, sender: 'p3', recipient: 'p1' };
      return { ...sealed, p3: sealShare(ephemeralOf('p3'), decodeHex(round1Of('p1').ephemeralKey, 'e'), binding, wrong, scope) };
    });
    expect(outcome).toMatchObject({ kind: 'accuse', accused: 'p3', reason: 'round-2 share from "p3" does not match its round-1 commitment' });
  });

  it('refuses, accusing nobody, when round 3 fails with every share matching its commitment', () => {
    const refused = refusal(() => outcomeOf('p1', ({ p3: _dropped, ...rest }) => rest));
    expect(refused.code).toBe(RefusalCode.invalidPackage);
    expect(refused.message).toMatch(/^round 3 failed/);
  });
});
