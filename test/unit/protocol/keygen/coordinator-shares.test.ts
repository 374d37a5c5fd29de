/** DKG round 2, coordinator side: collecting sealed shares; shares for the wrong recipients are refused naming the sender. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { onShares } from '../../../../lib/protocol/keygen/coordinator-shares.js';
import { MessageType, type Envelope, type SealedShare } from '../../../../lib/protocol/messages.js';
import { AUDIT, Cast, keygenSession, runDkg, type DkgRun } from '../../../support/coordinator-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let run: DkgRun;
beforeAll(async () => {
  run = await runDkg(cast);
});

const sharesOf = (party: string): Envelope => {
  const envelope = run.shares[party];
  if (envelope === undefined) throw new Error(`no shares of ${party}`);
  return envelope;
};
const sealedOf = (party: string) => (sharesOf(party).body as { shares: Record<string, SealedShare> }).shares;
const signedShares = (from: string, shares: Record<string, SealedShare>, keyId = run.keyId) =>
  cast.envelope(from, MessageType.dkgShares, run.session, { keyId, shares, audit: AUDIT });

describe('DKG round 2 (coordinator)', () => {
  it('records each party’s shares and moves to round 3 with the last', () => {
    let session = keygenSession(cast, run, 'round2');
    for (const party of ['p3', 'p1']) {
      const step = onShares(session, sharesOf(party));
      expect(step.next?.phase).toBe('round2');
      session = step.next ?? session;
    }
    const last = onShares(session, sharesOf('p2'));
    expect(last.next?.phase).toBe('round3');
    expect(last.next?.shares).toEqual(run.shares);
  });

  it('shares arriving in round 1 (before the round opened) change nothing', () => {
    expect(onShares(keygenSession(cast, run, 'round1'), sharesOf('p1'))).toEqual({ resend: false });
  });

  it.each([
    ['a share missing for one party', (from: string) => signedShares(from, { p3: sealedOf(from).p3 ?? { iv: '', ct: '' } })],
    ['a share for itself', (from: string) => signedShares(from, { ...sealedOf(from), [from]: sealedOf(from).p3 ?? { iv: '', ct: '' } })],
    ['another key id', (from: string) => signedShares(from, sealedOf(from), 'k2')],
  ])('refuses %s (inconsistent-package), naming the sender, session unchanged', async (_what, make) => {
    const session = keygenSession(cast, run, 'round2');
    const before = structuredClone(session);
    const envelope = await make('p1');
    expect(refusal(() => onShares(session, envelope))).toMatchObject({ code: RefusalCode.inconsistentPackage, blame: ['p1'] });
    expect(session).toEqual(before);
  });

  it('a second, different set of shares in the same round is equivocation', async () => {
    const session = onShares(keygenSession(cast, run, 'round2'), sharesOf('p1')).next;
    if (session === undefined) throw new Error('not recorded');
    const swapped = await signedShares('p1', { p2: sealedOf('p1').p3 ?? { iv: '', ct: '' }, p3: sealedOf('p1').p2 ?? { iv: '', ct: '' } });
    expect(refusal(() => onShares(session, swapped))).toMatchObject({ code: RefusalCode.equivocation, blame: ['p1'] });
  });
});
