/**
 * A party refused a keygen message, coordinator side: one refusal ends the keygen; blame
 * only where the signed transcript the session holds proves it (dkg-blame.ts), otherwise on
 * the accuser.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import type { KeygenSession } from '../../../../lib/protocol/coordinator-state.js';
import { onKeygenRefusal } from '../../../../lib/protocol/keygen/coordinator-refusal.js';
import { MessageType, type Accusation } from '../../../../lib/protocol/messages.js';
import { AUDIT, Cast, keygenSession, runDkg, type DkgRun } from '../../../support/coordinator-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
/** p2 seals a share for p1 that does not match its round-1 commitment. */
let run: DkgRun;
beforeAll(async () => {
  run = await runDkg(cast, { badShare: { from: 'p2', to: 'p1' } });
});

const refused = (from: string, fields: { code?: string; abandoned?: boolean; accusation?: Accusation } = {}) =>
  cast.envelope(from, MessageType.partyRefused, run.session, {
    inResponseTo: MessageType.dkgRound3,
    code: fields.code ?? RefusalCode.protocol,
    reason: 'round 3 failed',
    ...(fields.abandoned === undefined ? {} : { abandoned: fields.abandoned }),
    ...(fields.accusation === undefined ? {} : { accusation: fields.accusation }),
    audit: AUDIT,
  });
const evidence = (party: string) => ({ kind: 'dkg-share' as const, ephemeralSecret: run.ephemeralSecrets[party] ?? '' });

describe('a keygen refusal (coordinator)', () => {
  it('without an accusation: the keygen fails with the party’s code and reason, blaming nobody', async () => {
    const envelope = await refused('p3', { code: RefusalCode.policy });
    const step = onKeygenRefusal(keygenSession(cast, run, 'round1'), envelope, cast.context());
    expect(step.next).toMatchObject({
      phase: 'failed',
      refused: { p3: { code: RefusalCode.policy, reason: 'round 3 failed' } },
      error: { code: RefusalCode.policy, message: 'party "p3" refused: round 3 failed' },
    });
    expect(step.next?.error?.blame).toBeUndefined();
    expect(step.next?.abandonment).toBeUndefined();
  });

  it('an abandoning refusal is kept, to relay to the other parties; delivered again, it asks for the aborts again', async () => {
    const envelope = await refused('p3', { abandoned: true });
    const failed = onKeygenRefusal(keygenSession(cast, run, 'round3'), envelope, cast.context()).next;
    expect(failed?.abandonment).toEqual(envelope);
    if (failed === undefined) throw new Error('not failed');
    expect(onKeygenRefusal(failed, envelope, cast.context())).toEqual({ resend: true });
    expect(onKeygenRefusal(failed, await refused('p1'), cast.context())).toEqual({ resend: false });
  });

  it('an accusation the evidence proves names the accused, with the accuser’s code, and the verdict is logged', async () => {
    const envelope = await refused('p1', { abandoned: true, accusation: { accused: 'p2', evidence: evidence('p1') } });
    const step = onKeygenRefusal(keygenSession(cast, run, 'round3'), envelope, cast.context());
    expect(step.next?.error).toMatchObject({ code: RefusalCode.protocol, blame: ['p2'] });
    expect(step.next?.error?.message).toContain('the coordinator checked the evidence');
    expect(step.logs).toEqual([
      expect.objectContaining({ message: 'dkg accusation judged', fields: expect.objectContaining({ accuser: 'p1', accused: 'p2', holds: true, faulty: 'p2' }) }),
    ]);
  });

  it.each([
    ['against a party whose share was fine', (): Accusation => ({ accused: 'p3', evidence: evidence('p1') })],
    ['without evidence', (): Accusation => ({ accused: 'p2' })],
  ])('an accusation %s names the accuser (cheater-detected)', async (_what, accusation) => {
    const envelope = await refused('p1', { abandoned: true, accusation: accusation() });
    const step = onKeygenRefusal(keygenSession(cast, run, 'round3'), envelope, cast.context());
    expect(step.next?.error).toMatchObject({ code: 'cheater-detected', blame: ['p1'] });
  });

  it('an accusation that cannot be judged (its refusal is not signed by the accuser) is refused, session unchanged', async () => {
    const envelope = await refused('p1', { abandoned: true, accusation: { accused: 'p2', evidence: evidence('p1') } });
    const session: KeygenSession = keygenSession(cast, run, 'round3');
    const before = structuredClone(session);
    const tampered = { ...envelope, body: { ...(envelope.body as object), reason: 'altered' } };
    expect(refusal(() => onKeygenRefusal(session, tampered, cast.context())).code).toBe(RefusalCode.badSignature);
    expect(session).toEqual(before);
  });

  it('a refusal after the keygen finished changes nothing', async () => {
    const session = { ...keygenSession(cast, run, 'round3'), phase: 'done' as const };
    expect(onKeygenRefusal(session, await refused('p2'), cast.context())).toEqual({ resend: false });
  });
});
