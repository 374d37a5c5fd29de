/** The signed keygen transcripts a party checks before touching a secret (keygen/transcripts.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { entryOf, ownRound1Hash, verifyRound1Transcript, verifySharesTranscript } from '../../../../lib/protocol/keygen/transcripts.js';
import { MessageType, type DkgRound1Body, type Envelope } from '../../../../lib/protocol/messages.js';
import { Scratch } from '../../../support/harness.js';
import {
  AUDIT,
  dkgRound1,
  dkgRound2,
  KEY_ID,
  member,
  openCast,
  OTHER_SESSION,
  SESSION,
  testScope,
  type Cast,
  type Round1Party,
  type Round2Party,
} from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const PARTIES = ['p1', 'p2', 'p3'];
const scratch = new Scratch();
const scope = testScope();
let cast: Cast;
let round1: Record<string, Round1Party>;
let round2: Record<string, Round2Party>;

beforeAll(async () => {
  // p4 is a known party, but not one of this key.
  cast = await openCast(scratch, [...PARTIES, 'p4']);
  round1 = await dkgRound1(cast, PARTIES, 2, scope);
  round2 = await dkgRound2(cast, round1, scope);
});
afterAll(async () => {
  scope.wipe();
  await scratch.cleanup();
});

const p1 = () => member(round1, 'p1');
const envelopeOf = (name: string) => member(round1, name).envelope;
const bodyOf = (name: string) => member(round1, name).envelope.body as DkgRound1Body;

describe('verifyRound1Transcript', () => {
  const verify = (envelopes: Envelope[], state = p1().state) => verifyRound1Transcript(cast.view('p1'), envelopes, SESSION, state);

  it('returns every party\'s signed package, by name', () => {
    const transcript = verify(PARTIES.map(envelopeOf));
    expect(Object.keys(transcript).sort()).toEqual(PARTIES);
    expect(transcript.p2).toEqual(bodyOf('p2'));
  });

  it('refuses a package not signed by its party', async () => {
    const forged = await cast.signed(MessageType.dkgRound1, 'p2', bodyOf('p2'), { signer: 'coordinator' });
    expect(refusal(() => verify([envelopeOf('p1'), forged, envelopeOf('p3')])).code).toBe(RefusalCode.badSignature);
  });

  it('refuses a package of another session', async () => {
    const other = await cast.signed(MessageType.dkgRound1, 'p2', bodyOf('p2'), { session: OTHER_SESSION });
    expect(refusal(() => verify([envelopeOf('p1'), other, envelopeOf('p3')])).code).toBe(RefusalCode.wrongSession);
  });

  it('refuses a package from a party not of this key, and a repeated one', async () => {
    const stranger = await cast.signed(MessageType.dkgRound1, 'p4', { ...bodyOf('p3') }, {});
    const foreign = refusal(() => verify([...PARTIES.map(envelopeOf), stranger]));
    expect(foreign.code).toBe(RefusalCode.unexpectedSender);
    expect(foreign.message).toMatch(/unexpected or repeated package from "p4"/);
    const repeated = refusal(() => verify([...PARTIES.map(envelopeOf), envelopeOf('p2')]));
    expect(repeated.message).toMatch(/unexpected or repeated package from "p2"/);
  });

  it('refuses a package for another key id or with another party\'s identifier', async () => {
    const otherKey = await cast.signed(MessageType.dkgRound1, 'p2', { ...bodyOf('p2'), keyId: 'k2' });
    expect(refusal(() => verify([envelopeOf('p1'), otherKey, envelopeOf('p3')])).message).toMatch(/from "p2" is for another key or identifier/);
    const otherIdentifier = await cast.signed(MessageType.dkgRound1, 'p2', { ...bodyOf('p3') });
    expect(refusal(() => verify([envelopeOf('p1'), otherIdentifier, envelopeOf('p3')])).message).toMatch(/from "p2" is for another key or identifier/);
  });

  it('refuses a transcript missing a party', () => {
    const missing = refusal(() => verify([envelopeOf('p1'), envelopeOf('p2')]));
    expect(missing.code).toBe(RefusalCode.incompleteTranscript);
    expect(missing.message).toMatch(/2 of 3 packages/);
  });

  it('refuses a transcript in which this party\'s own package is not the one it published', () => {
    const republished = { ...p1().state, ephemeralKey: bodyOf('p2').ephemeralKey };
    expect(refusal(() => verify(PARTIES.map(envelopeOf), republished)).message).toMatch(/this party's package unchanged/);
    const otherPackage = { ...p1().state, ownPackage: { ...p1().state.ownPackage, proofOfKnowledge: bodyOf('p2').package.proofOfKnowledge } };
    expect(refusal(() => verify(PARTIES.map(envelopeOf), otherPackage)).message).toMatch(/this party's package unchanged/);
  });
});

describe('verifySharesTranscript', () => {
  const sharesOf = (name: string) => member(round2, name).envelope;
  const verify = (envelopes: Envelope[]) => verifySharesTranscript(cast.view('p1'), envelopes, SESSION, p1().state);

  it('returns the share each other party sealed to this party', () => {
    const sealed = verify([sharesOf('p2'), sharesOf('p3')]);
    expect(sealed).toEqual({ p2: member(round2, 'p2').shares.p1, p3: member(round2, 'p3').shares.p1 });
  });

  it('refuses this party\'s own shares, a repeated sender and a sender not of this key', async () => {
    expect(refusal(() => verify([sharesOf('p1'), sharesOf('p2'), sharesOf('p3')])).message).toMatch(/unexpected or repeated shares from "p1"/);
    expect(refusal(() => verify([sharesOf('p2'), sharesOf('p2'), sharesOf('p3')])).message).toMatch(/unexpected or repeated shares from "p2"/);
    const stranger = await cast.signed(MessageType.dkgShares, 'p4', { keyId: KEY_ID, shares: member(round2, 'p3').shares, audit: AUDIT });
    expect(refusal(() => verify([sharesOf('p2'), stranger])).message).toMatch(/unexpected or repeated shares from "p4"/);
  });

  it('refuses shares for another key, or holding nothing for this party', async () => {
    const otherKey = await cast.signed(MessageType.dkgShares, 'p2', { keyId: 'k2', shares: member(round2, 'p2').shares, audit: AUDIT });
    expect(refusal(() => verify([otherKey, sharesOf('p3')])).message).toMatch(/shares from "p2" hold nothing for "p1"/);
    const { p3: onlyForP3 } = member(round2, 'p2').shares;
    if (onlyForP3 === undefined) throw new Error('p2 sealed a share for p3');
    const notForMe = await cast.signed(MessageType.dkgShares, 'p2', { keyId: KEY_ID, shares: { p3: onlyForP3 }, audit: AUDIT });
    expect(refusal(() => verify([notForMe, sharesOf('p3')])).message).toMatch(/shares from "p2" hold nothing for "p1"/);
  });

  it('refuses shares not signed by their sender, and a transcript missing a sender', async () => {
    const forged = await cast.signed(MessageType.dkgShares, 'p2', { keyId: KEY_ID, shares: member(round2, 'p2').shares, audit: AUDIT }, { signer: 'p3' });
    expect(refusal(() => verify([forged, sharesOf('p3')])).code).toBe(RefusalCode.badSignature);
    expect(refusal(() => verify([sharesOf('p2')])).message).toMatch(/shares from 1 of 2 parties/);
  });
});

describe('ownRound1Hash and entryOf', () => {
  it('identifies the package and ephemeral key a party published', () => {
    const { state } = p1();
    expect(ownRound1Hash(state)).toBe(ownRound1Hash({ ...state }));
    expect(ownRound1Hash({ ...state, ephemeralKey: bodyOf('p2').ephemeralKey })).not.toBe(ownRound1Hash(state));
  });

  it('refuses a missing entry', () => {
    expect(entryOf({ a: 1 }, 'a')).toBe(1);
    expect(refusal(() => entryOf({ a: 1 }, 'b')).code).toBe(RefusalCode.incompleteTranscript);
  });
});
