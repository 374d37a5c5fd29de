/** DKG abort, party side: the pure step (keygen/party-abort.ts `verifyAbandonment`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { verifyAbandonment } from '../../../../lib/protocol/keygen/party-abort.js';
import { MessageType, type Envelope, type PartyRefusedBody } from '../../../../lib/protocol/messages.js';
import { Scratch } from '../../../support/harness.js';
import { AUDIT, KEY_ID, openCast, OTHER_SESSION, SESSION, type Cast } from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const PARTIES = ['p1', 'p2', 'p3'];
const scratch = new Scratch();
let cast: Cast;

const refusedBody = (changes: Partial<PartyRefusedBody> = {}): PartyRefusedBody => ({
  inResponseTo: MessageType.dkgRound3,
  code: RefusalCode.protocol,
  reason: 'a share did not open',
  abandoned: true,
  audit: AUDIT,
  ...changes,
});

beforeAll(async () => {
  cast = await openCast(scratch, [...PARTIES, 'p4']);
});
afterAll(() => scratch.cleanup());

const verify = (refused: Envelope) => verifyAbandonment(cast.view('p1'), { keyId: KEY_ID, parties: PARTIES }, refused, SESSION);

describe('verifyAbandonment', () => {
  it('accepts a party\'s signed refusal that abandons the keygen, and names that party', async () => {
    expect(verify(await cast.signed(MessageType.partyRefused, 'p2', refusedBody()))).toBe('p2');
  });

  it('refuses a refusal that does not abandon the keygen', async () => {
    const notAbandoned = await cast.signed(MessageType.partyRefused, 'p2', refusedBody({ abandoned: undefined }));
    const refused = refusal(() => verify(notAbandoned));
    expect(refused.code).toBe(RefusalCode.unprovenAbort);
    expect(refused.message).toMatch(/does not abandon the keygen/);
  });

  it('refuses a refusal from a party not of this key', async () => {
    const stranger = await cast.signed(MessageType.partyRefused, 'p4', refusedBody());
    expect(refusal(() => verify(stranger)).message).toMatch(/not a party of key "k1"/);
  });

  it('refuses the coordinator\'s word: a refusal not signed by its party, or of another session', async () => {
    const forged = await cast.signed(MessageType.partyRefused, 'p2', refusedBody(), { signer: 'coordinator' });
    expect(refusal(() => verify(forged)).code).toBe(RefusalCode.badSignature);
    const elsewhere = await cast.signed(MessageType.partyRefused, 'p2', refusedBody(), { session: OTHER_SESSION });
    expect(refusal(() => verify(elsewhere)).code).toBe(RefusalCode.wrongSession);
  });
});
