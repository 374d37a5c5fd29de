/** A signing package's commitments, checked before any nonce is touched (sign/commitments.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { sortCommitments } from '../../../../lib/protocol/frost-wire.js';
import { MessageType, type Envelope, type NonceCommitment } from '../../../../lib/protocol/messages.js';
import { assertOwnCommitment, verifyCommitments } from '../../../../lib/protocol/sign/commitments.js';
import { commitNonces } from '../../../../lib/protocol/sign/party-commit.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Scratch } from '../../../support/harness.js';
import { AUDIT, member, openCast, OTHER_SESSION, SESSION, testScope, type Cast } from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const PARTIES = ['p1', 'p2', 'p3'];
const { frost } = ed25519Suite;
const scratch = new Scratch();
const scope = testScope();
const share = { parties: PARTIES, threshold: 2 };
const dealt = frost.trustedDealer({ min: 2, max: 3 }, PARTIES.map((p) => frost.Identifier.derive(p)));
let cast: Cast;
let commitments: Record<string, NonceCommitment>;
let signed: Record<string, Envelope>;

beforeAll(async () => {
  cast = await openCast(scratch, [...PARTIES, 'p4']);
  commitments = Object.fromEntries(
    PARTIES.map((p) => {
      const secret = dealt.secretShares[frost.Identifier.derive(p)];
      if (secret === undefined) throw new Error(`dealt a share for ${p}`);
      return [p, commitNonces(cast.view(p), secret, scope).commitment];
    }),
  );
  signed = Object.fromEntries(
    await Promise.all(PARTIES.map(async (p) => [p, await cast.signed(MessageType.signCommitment, p, { attempt: 1, commitment: member(commitments, p), audit: AUDIT })] as const)),
  );
});
afterAll(async () => {
  scope.wipe();
  await scratch.cleanup();
});

const verify = (envelopes: Envelope[], attempt = 1) => verifyCommitments(cast.view('p1'), envelopes, SESSION, attempt, share);
const of = (...names: string[]) => names.map((n) => member(signed, n));

describe('verifyCommitments', () => {
  it('returns the signed commitments sorted by identifier', () => {
    const list = verify(of('p3', 'p1'));
    expect(list).toEqual(sortCommitments([member(commitments, 'p1'), member(commitments, 'p3')]));
  });

  it('refuses a commitment not signed by its party, or of another session', async () => {
    const forged = await cast.signed(MessageType.signCommitment, 'p2', { attempt: 1, commitment: member(commitments, 'p2'), audit: AUDIT }, { signer: 'coordinator' });
    expect(refusal(() => verify([...of('p1'), forged])).code).toBe(RefusalCode.badSignature);
    const elsewhere = await cast.signed(MessageType.signCommitment, 'p2', { attempt: 1, commitment: member(commitments, 'p2'), audit: AUDIT }, { session: OTHER_SESSION });
    expect(refusal(() => verify([...of('p1'), elsewhere])).code).toBe(RefusalCode.wrongSession);
  });

  it('refuses a commitment from a party not of this key, and a repeated one', async () => {
    const stranger = await cast.signed(MessageType.signCommitment, 'p4', { attempt: 1, commitment: member(commitments, 'p3'), audit: AUDIT });
    const foreign = refusal(() => verify([...of('p1', 'p2'), stranger]));
    expect(foreign.code).toBe(RefusalCode.unexpectedSender);
    expect(foreign.message).toMatch(/unexpected or repeated commitment from "p4"/);
    expect(refusal(() => verify(of('p1', 'p2', 'p2'))).message).toMatch(/unexpected or repeated commitment from "p2"/);
  });

  it('refuses a commitment for another attempt or under another party\'s identifier', async () => {
    expect(refusal(() => verify(of('p1', 'p2'), 2)).message).toMatch(/for another attempt or identifier/);
    const borrowed = await cast.signed(MessageType.signCommitment, 'p2', { attempt: 1, commitment: member(commitments, 'p3'), audit: AUDIT });
    expect(refusal(() => verify([...of('p1'), borrowed])).message).toMatch(/from "p2" is for another attempt or identifier/);
  });

  it('refuses a commitment that is not a valid group element, naming its sender (RFC 9591 §3.1)', async () => {
    // The identity element: a valid encoding, but never a valid commitment.
    const identity = `01${'00'.repeat(31)}`;
    const bad = await cast.signed(MessageType.signCommitment, 'p2', { attempt: 1, commitment: { ...member(commitments, 'p2'), hiding: identity }, audit: AUDIT });
    const refused = refusal(() => verify([...of('p1'), bad]));
    expect(refused.code).toBe(RefusalCode.invalidCommitment);
    expect(refused.blame).toEqual(['p2']);
  });

  it('refuses a package with fewer commitments than the threshold', () => {
    const refused = refusal(() => verify(of('p1')));
    expect(refused.code).toBe(RefusalCode.incompleteTranscript);
    expect(refused.message).toMatch(/1 commitments, threshold is 2/);
  });
});

describe('assertOwnCommitment', () => {
  const own = () => member(commitments, 'p1');
  const identifier = frost.Identifier.derive('p1');

  it('accepts a package holding this party\'s commitment as committed', () => {
    expect(() => assertOwnCommitment([own(), member(commitments, 'p2')], identifier, own())).not.toThrow();
  });

  it('refuses a package without this party\'s commitment, or with it altered', () => {
    expect(refusal(() => assertOwnCommitment([member(commitments, 'p2'), member(commitments, 'p3')], identifier, own())).code).toBe(RefusalCode.missingCommitment);
    const altered = { ...own(), binding: member(commitments, 'p2').binding };
    const incorrect = refusal(() => assertOwnCommitment([altered, member(commitments, 'p2')], identifier, own()));
    expect(incorrect.message).toMatch(/does not contain this party's commitment/);
    expect(incorrect.code).toBe(RefusalCode.incorrectCommitment);
  });
});
