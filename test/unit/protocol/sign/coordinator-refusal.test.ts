/** A party refused a signing message, coordinator side: recorded; a lost signer or too few left means a fresh attempt or failure. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import type { SignSession } from '../../../../lib/protocol/coordinator-state.js';
import { MessageType } from '../../../../lib/protocol/messages.js';
import { onSignRefusal } from '../../../../lib/protocol/sign/coordinator-refusal.js';
import { AUDIT, Cast } from '../../../support/coordinator-fixtures.js';
import { freshSignSession, signSetup, type SignSetup } from '../../../support/sign-fixtures.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
beforeAll(async () => {
  setup = await signSetup(cast);
});

const refused = (from: string, code: string, attempt = 1) =>
  cast.envelope(from, MessageType.partyRefused, setup.session, { inResponseTo: MessageType.signCommit, attempt, code, reason: `${from} says no`, audit: AUDIT });
/** The signers p1 and p2 are fixed for attempt 1 (their commitments are not looked at here). */
const signingSession = (): SignSession => ({ ...freshSignSession(setup), phase: 'sign', signers: ['p1', 'p2'] });

describe('a signing refusal (coordinator)', () => {
  it('from a party while commitments are collected: recorded, collecting goes on', async () => {
    const step = onSignRefusal(freshSignSession(setup), setup.key, await refused('p3', RefusalCode.policy));
    expect(step.next).toMatchObject({ phase: 'commit', attempt: 1, refused: { p3: { code: RefusalCode.policy, reason: 'p3 says no' } } });
    expect(step.logs).toEqual([]);
  });

  it('from a signer of the current attempt: a fresh attempt without it', async () => {
    const step = onSignRefusal(signingSession(), setup.key, await refused('p2', RefusalCode.wrongRound));
    expect(step.next).toMatchObject({ phase: 'commit', attempt: 2, signers: [], commitments: {} });
  });

  it('from a non-signer while signing: recorded, signing goes on', async () => {
    expect(onSignRefusal(signingSession(), setup.key, await refused('p3', RefusalCode.policy)).next).toMatchObject({ phase: 'sign', attempt: 1 });
  });

  it('for an earlier attempt: changes nothing (the party was asked again; after an epoch switch every old signer refuses the old attempt)', async () => {
    const restarted: SignSession = { ...freshSignSession(setup), attempt: 2 };
    for (const party of ['p1', 'p2', 'p3']) {
      expect(onSignRefusal(restarted, setup.key, await refused(party, RefusalCode.staleEpoch, 1)).next).toBeUndefined();
    }
    expect(onSignRefusal({ ...signingSession(), attempt: 2 }, setup.key, await refused('p1', RefusalCode.policy, 1)).next).toBeUndefined();
  });

  it('leaving too few parties: failed with the parties’ common code and every reason', async () => {
    const first = onSignRefusal(freshSignSession(setup), setup.key, await refused('p1', RefusalCode.policy)).next;
    if (first === undefined) throw new Error('not recorded');
    const step = onSignRefusal(first, setup.key, await refused('p2', RefusalCode.policy));
    expect(step.next).toMatchObject({ phase: 'failed', error: { code: RefusalCode.policy, message: 'refused by parties: "p1": p1 says no; "p2": p2 says no' } });
  });

  it('leaving too few parties with different codes: failed with the last code', async () => {
    const first = onSignRefusal(freshSignSession(setup), setup.key, await refused('p1', RefusalCode.policy)).next;
    if (first === undefined) throw new Error('not recorded');
    expect(onSignRefusal(first, setup.key, await refused('p2', RefusalCode.unknownKey)).next?.error?.code).toBe(RefusalCode.unknownKey);
  });

  it('a refusal for nonce reuse is logged as an error: a second package for a spent nonce is a possible attack', async () => {
    const step = onSignRefusal(signingSession(), setup.key, await refused('p1', RefusalCode.nonceReuse));
    expect(step.logs).toEqual([{ level: 'error', message: 'party refused a second package for a spent nonce', fields: { session: setup.session, party: 'p1' } }]);
  });

  it('a second refusal from one party, or any after the session finished, changes nothing', async () => {
    const first = onSignRefusal(freshSignSession(setup), setup.key, await refused('p3', RefusalCode.policy)).next;
    if (first === undefined) throw new Error('not recorded');
    expect(onSignRefusal(first, setup.key, await refused('p3', RefusalCode.malformed))).toEqual({ resend: false });
    expect(onSignRefusal({ ...signingSession(), phase: 'done' }, setup.key, await refused('p3', RefusalCode.policy))).toEqual({ resend: false });
  });
});
