/** DKG round 1, coordinator side: collecting signed round-1 packages; a package that does not fit is refused naming its sender. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { applyKeygen } from '../../../../lib/protocol/keygen/coordinator-apply.js';
import { onRound1 } from '../../../../lib/protocol/keygen/coordinator-round1.js';
import { MessageType, type Envelope, type Round1Package } from '../../../../lib/protocol/messages.js';
import { AUDIT, Cast, identifierOf, keygenSession, runDkg, type DkgRun } from '../../../support/coordinator-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let run: DkgRun;
beforeAll(async () => {
  run = await runDkg(cast);
});

const round1 = (party: string): Envelope => {
  const envelope = run.round1[party];
  if (envelope === undefined) throw new Error(`no round 1 of ${party}`);
  return envelope;
};
/** `from` signs a round-1 package of its own making. */
const forged = (from: string, change: (pkg: Round1Package) => Round1Package, keyId = run.keyId) => {
  const body = round1(from).body as { package: Round1Package; ephemeralKey: string };
  return cast.envelope(from, MessageType.dkgRound1, run.session, { keyId, package: change(body.package), ephemeralKey: body.ephemeralKey, audit: AUDIT });
};

describe('DKG round 1 (coordinator)', () => {
  it('records each package and moves to round 2 when the last party has sent one', () => {
    let session = keygenSession(cast, run, 'round1');
    for (const party of ['p2', 'p3']) {
      const step = onRound1(session, round1(party), cast.context());
      expect(step).toMatchObject({ resend: false, next: { phase: 'round1' } });
      session = step.next ?? session;
    }
    const last = onRound1(session, round1('p1'), cast.context());
    expect(last.next?.phase).toBe('round2');
    expect(last.next?.round1).toEqual(run.round1);
    expect(last.refusal).toBeUndefined();
  });

  it('the same package again changes nothing and asks for a resend; after the round, nothing', () => {
    const session = onRound1(keygenSession(cast, run, 'round1'), round1('p1'), cast.context()).next;
    if (session === undefined) throw new Error('not recorded');
    expect(onRound1(session, round1('p1'), cast.context())).toEqual({ resend: true });
    expect(onRound1(keygenSession(cast, run, 'round2'), round1('p1'), cast.context())).toEqual({ resend: true });
  });

  it('a second, different package from one party in the same round is equivocation, blamed on it', async () => {
    const session = onRound1(keygenSession(cast, run, 'round1'), round1('p1'), cast.context()).next;
    if (session === undefined) throw new Error('not recorded');
    const other = await forged('p1', (pkg) => ({ ...pkg, proofOfKnowledge: 'ab'.repeat(64) }));
    const before = structuredClone(session);
    const error = refusal(() => onRound1(session, other, cast.context()));
    expect(error).toMatchObject({ code: RefusalCode.equivocation, blame: ['p1'] });
    expect(session).toEqual(before);
  });

  it.each([
    ['another key id', (from: string) => forged(from, (pkg) => pkg, 'k2'), RefusalCode.inconsistentPackage],
    ['more coefficients than the threshold', (from: string) => forged(from, (pkg) => ({ ...pkg, commitment: [...pkg.commitment, pkg.commitment[0] ?? ''] })), RefusalCode.inconsistentPackage],
    ["another party's identifier", (from: string) => forged(from, (pkg) => ({ ...pkg, identifier: identifierOf('p3') })), RefusalCode.wrongIdentifier],
  ] as const)('refuses a package with %s, naming its sender, session unchanged', async (_what, make, code) => {
    const session = keygenSession(cast, run, 'round1');
    const before = structuredClone(session);
    const envelope = await make('p2');
    expect(refusal(() => onRound1(session, envelope, cast.context()))).toMatchObject({ code, blame: ['p2'] });
    expect(session).toEqual(before);
  });

  it('refuses a package with fewer coefficients than the threshold (inconsistent-package), naming its sender', () => {
    const session = { ...keygenSession(cast, run, 'round1'), threshold: 3 };
    expect(refusal(() => onRound1(session, round1('p2'), cast.context()))).toMatchObject({ code: RefusalCode.inconsistentPackage, blame: ['p2'] });
  });
});

describe('keygen dispatch (coordinator)', () => {
  it('refuses a sender that is not a party of the key (unexpected-sender), blaming nobody', () => {
    // A keygen among p1 and p2 only; p3 is known to the directory but no party of this key.
    const session = { ...keygenSession(cast, run, 'round1'), parties: ['p1', 'p2'] };
    const error = refusal(() => applyKeygen(session, round1('p3'), cast.context()));
    expect(error.code).toBe(RefusalCode.unexpectedSender);
    expect(error.blame).toEqual([]);
  });

  it('refuses a message type that has no place in a keygen (wrong-round)', async () => {
    const share = await cast.envelope('p1', MessageType.signShare, run.session, { attempt: 1, packageHash: '00'.repeat(32), share: '00'.repeat(32), audit: AUDIT });
    expect(refusal(() => applyKeygen(keygenSession(cast, run, 'round1'), share, cast.context())).code).toBe(RefusalCode.wrongRound);
  });
});
