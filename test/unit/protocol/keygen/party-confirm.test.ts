/** DKG confirmation, party side: the pure step (keygen/party-confirm.ts `verifyConfirmations`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { verifyConfirmations } from '../../../../lib/protocol/keygen/party-confirm.js';
import { MessageType, type DkgDoneBody, type Envelope } from '../../../../lib/protocol/messages.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Scratch } from '../../../support/harness.js';
import { AUDIT, KEY_ID, openCast, OTHER_SESSION, SESSION, type Cast } from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const PARTIES = ['p1', 'p2', 'p3'];
const HASH = 'aa'.repeat(32);
const scratch = new Scratch();
let cast: Cast;
let done: Record<string, Envelope>;

/** A `dkg.done` as `from` signs it; the step compares only key id and public-package hash. */
function doneBody(changes: Partial<DkgDoneBody> = {}): DkgDoneBody {
  return {
    keyId: KEY_ID,
    suite: ed25519Suite.id,
    threshold: 2,
    parties: PARTIES,
    groupKey: '11'.repeat(32),
    publicPackageHash: HASH,
    publicPackage: { signers: { min: 2, max: 3 }, commitments: ['11'.repeat(32), '22'.repeat(32)], verifyingShares: {} },
    audit: AUDIT,
    ...changes,
  };
}

beforeAll(async () => {
  cast = await openCast(scratch, [...PARTIES, 'p4']);
  done = Object.fromEntries(await Promise.all(PARTIES.map(async (p) => [p, await cast.signed(MessageType.dkgDone, p, doneBody())] as const)));
});
afterAll(() => scratch.cleanup());

const all = () => PARTIES.map((p) => done[p]).filter((e): e is Envelope => e !== undefined);
const verify = (envelopes: Envelope[]) => verifyConfirmations(cast.view('p1'), { keyId: KEY_ID, parties: PARTIES }, { publicPackageHash: HASH }, envelopes, SESSION);

describe('verifyConfirmations', () => {
  it('accepts one signed dkg.done per party, each for this party\'s public package', () => {
    expect(() => verify(all())).not.toThrow();
  });

  it('refuses a confirmation from a party not of this key', async () => {
    const stranger = await cast.signed(MessageType.dkgDone, 'p4', doneBody());
    const refused = refusal(() => verify([...all(), stranger]));
    expect(refused.code).toBe(RefusalCode.unexpectedSender);
    expect(refused.message).toMatch(/non-party "p4"/);
  });

  it('refuses, as a conflict, a party that finished with another public package or key', async () => {
    const otherPackage = await cast.signed(MessageType.dkgDone, 'p3', doneBody({ publicPackageHash: 'bb'.repeat(32) }));
    expect(refusal(() => verify([...all().slice(0, 2), otherPackage])).code).toBe(RefusalCode.conflict);
    const otherKey = await cast.signed(MessageType.dkgDone, 'p3', doneBody({ keyId: 'k2' }));
    expect(refusal(() => verify([...all().slice(0, 2), otherKey])).code).toBe(RefusalCode.conflict);
  });

  it('refuses until every party confirmed (a repeated one counts once)', () => {
    const [first, second] = all();
    if (first === undefined || second === undefined) throw new Error('two confirmations');
    expect(refusal(() => verify([first, second])).message).toMatch(/only 2 of 3 parties confirmed/);
    expect(refusal(() => verify([first, second, second])).message).toMatch(/only 2 of 3 parties confirmed/);
  });

  it('refuses a confirmation not signed by its party, or of another session', async () => {
    const forged = await cast.signed(MessageType.dkgDone, 'p3', doneBody(), { signer: 'coordinator' });
    expect(refusal(() => verify([...all().slice(0, 2), forged])).code).toBe(RefusalCode.badSignature);
    const elsewhere = await cast.signed(MessageType.dkgDone, 'p3', doneBody(), { session: OTHER_SESSION });
    expect(refusal(() => verify([...all().slice(0, 2), elsewhere])).code).toBe(RefusalCode.wrongSession);
  });
});
