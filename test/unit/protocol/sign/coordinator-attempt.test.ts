/** Signing attempts, coordinator side: who may still sign, and what a lost signer leads to. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { eligible, fallBackToTwoRounds, nextAttempt, restartAtEpoch } from '../../../../lib/protocol/sign/coordinator-attempt.js';
import { Cast } from '../../../support/coordinator-fixtures.js';
import { freshSignSession, signSetup, type SignSetup } from '../../../support/sign-fixtures.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
beforeAll(async () => {
  setup = await signSetup(cast);
});
const refused = (code: string) => ({ code, reason: 'no' });

describe('signing attempts (coordinator)', () => {
  it('eligible: the key’s parties, less the excluded and the refused', () => {
    expect(eligible(freshSignSession(setup), setup.key)).toEqual(['p1', 'p2', 'p3']);
    expect(eligible({ ...freshSignSession(setup), excluded: ['p2'], refused: { p3: refused(RefusalCode.policy) } }, setup.key)).toEqual(['p1']);
  });

  it('next attempt: fresh commitments, signers and shares, attempt + 1', () => {
    const session = { ...freshSignSession(setup), phase: 'sign' as const, signers: ['p1', 'p2'], excluded: ['p3'] };
    expect(nextAttempt(session, setup.key, 'x')).toMatchObject({ phase: 'commit', attempt: 2, commitments: {}, signers: [], shares: {}, excluded: ['p3'] });
  });

  it('too few left with someone excluded: cheater-detected naming every excluded party', () => {
    const session = { ...freshSignSession(setup), excluded: ['p2', 'p3'] };
    expect(nextAttempt(session, setup.key, RefusalCode.invalidCommitment)).toMatchObject({ phase: 'failed', error: { code: 'cheater-detected', blame: ['p2', 'p3'] } });
  });

  it('too few left by refusals only: their common code, else the given reason', () => {
    const agreeing = { ...freshSignSession(setup), refused: { p1: refused('policy'), p2: refused('policy') } };
    expect(nextAttempt(agreeing, setup.key, 'x').error?.code).toBe('policy');
    const differing = { ...freshSignSession(setup), refused: { p1: refused('policy'), p2: refused('unknown-key') } };
    expect(nextAttempt(differing, setup.key, 'the reason').error?.code).toBe('the reason');
  });

  it('a key that moved to another epoch: the same request again at that epoch, old refusals dropped, the excluded still out; failed only without attempts left', () => {
    const session = { ...freshSignSession(setup), phase: 'sign' as const, attempt: 3, signers: ['p1', 'p2'], excluded: ['p3'], refused: { p1: refused(RefusalCode.staleEpoch) } };
    expect(restartAtEpoch(session, { ...setup.key, epoch: 2 })).toMatchObject({ phase: 'commit', epoch: 2, attempt: 4, refused: {}, commitments: {}, signers: [], shares: {}, excluded: ['p3'] });
    expect(restartAtEpoch({ ...session, attempt: 255 }, { ...setup.key, epoch: 2 })).toMatchObject({ phase: 'failed', error: { code: RefusalCode.staleEpoch } });
  });

  it('every later attempt takes two rounds: a one-round attempt’s pooled commitments are dropped by each way on', () => {
    const commitment = { identifier: '01'.repeat(32), hiding: '02'.repeat(32), binding: '03'.repeat(32) };
    const pooled = { ...freshSignSession(setup), phase: 'sign' as const, signers: ['p1', 'p2'], pooled: { p1: { batchId: 'ab'.repeat(16), index: 0, commitment }, p2: { batchId: 'cd'.repeat(16), index: 3, commitment } } };
    for (const next of [nextAttempt(pooled, setup.key, 'x'), restartAtEpoch(pooled, { ...setup.key, epoch: 1 }), fallBackToTwoRounds(pooled)]) {
      expect(next).toMatchObject({ phase: 'commit', attempt: 2, signers: [], commitments: {}, shares: {} });
      expect(next).not.toHaveProperty('pooled');
    }
    // Silence is no proof: the fallback keeps everyone eligible.
    expect(eligible(fallBackToTwoRounds(pooled), setup.key)).toEqual(['p1', 'p2', 'p3']);
    expect(fallBackToTwoRounds({ ...pooled, attempt: 255 })).toMatchObject({ phase: 'failed', error: { code: 'timeout' } });
  });
});
