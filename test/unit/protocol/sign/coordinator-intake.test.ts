/** Signing intake and dispatch, coordinator side. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { MessageType } from '../../../../lib/protocol/messages.js';
import { requestFingerprint } from '../../../../lib/protocol/requests.js';
import { applySign } from '../../../../lib/protocol/sign/coordinator-apply.js';
import { newSignSession } from '../../../../lib/protocol/sign/coordinator-intake.js';
import { AUDIT, Cast, NOW } from '../../../support/coordinator-fixtures.js';
import { commitmentOf, freshSignSession, signSetup, type SignSetup } from '../../../support/sign-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
beforeAll(async () => {
  setup = await signSetup(cast);
});
const body = () => ({ requestId: 'sign-k1', keyId: 'k1', message: setup.message });

describe('signing intake (coordinator)', () => {
  it('a request for a known key starts attempt 1, collecting commitments', () => {
    expect(newSignSession(setup.request, body(), setup.key, NOW)).toEqual({
      request: setup.request,
      requestFingerprint: requestFingerprint(setup.request),
      initiator: 'cli',
      requestId: 'sign-k1',
      keyId: 'k1',
      createdAt: NOW,
      refused: {},
      kind: 'sign',
      phase: 'commit',
      attempt: 1,
      excluded: [],
      commitments: {},
      signers: [],
      shares: {},
    });
  });

  it('a request for a key the coordinator does not hold is refused (unknown-key)', () => {
    expect(refusal(() => newSignSession(setup.request, body(), undefined, NOW)).code).toBe(RefusalCode.unknownKey);
  });
});

describe('signing dispatch (coordinator)', () => {
  it('refuses a sender that holds no share of the key (unexpected-sender), blaming nobody', async () => {
    const key = { ...setup.key, parties: ['p1', 'p2'] };
    const { envelope } = await commitmentOf(cast, setup, 'p3');
    const error = refusal(() => applySign(freshSignSession(setup), key, envelope, undefined, cast.context()));
    expect(error.code).toBe(RefusalCode.unexpectedSender);
    expect(error.blame).toEqual([]);
  });

  it('refuses a message type that has no place in signing (wrong-round)', async () => {
    const shares = await cast.envelope('p1', MessageType.dkgShares, setup.session, { keyId: 'k1', shares: {}, audit: AUDIT });
    expect(refusal(() => applySign(freshSignSession(setup), setup.key, shares, undefined, cast.context())).code).toBe(RefusalCode.wrongRound);
  });
});
