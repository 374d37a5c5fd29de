/** A party's stored round state: typed per DKG step, and corrupt items fail loudly (party-state.ts). */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { FrostlineError, RefusedError } from '../../../lib/ports/errors.js';
import { StoredStateError } from '../../../lib/ports/errors.js';
import { DkgStateRecord, recordParser, type DkgRound1State, type DkgRound2State } from '../../../lib/protocol/party-state.js';
import { UNUSED_BLOB } from '../../support/party-steps.js';

const round1: DkgRound1State = {
  step: 1,
  keyId: 'k1',
  threshold: 2,
  parties: ['p1', 'p2'],
  ownPackage: { identifier: '11'.repeat(32), commitment: ['22'.repeat(32), '33'.repeat(32)], proofOfKnowledge: '44'.repeat(64) },
  ephemeralKey: '55'.repeat(32),
  secret: UNUSED_BLOB,
};
const round2: DkgRound2State = { ...round1, step: 2, round1Hash: '66'.repeat(32), sharesOutput: { p2: { iv: '77'.repeat(12), ct: '88'.repeat(48) } } };

describe('DKG round state', () => {
  it('has round-2 output only in a round-2 state (a compile-time fact)', () => {
    expectTypeOf<DkgRound1State>().not.toHaveProperty('sharesOutput');
    expectTypeOf<DkgRound1State>().not.toHaveProperty('round1Hash');
    expectTypeOf<DkgRound2State>().toHaveProperty('sharesOutput').toEqualTypeOf<Record<string, { iv: string; ct: string }>>();
  });

  it('parses each step as its own shape, and nothing in between', () => {
    expect(DkgStateRecord.parse(round1)).toEqual(round1);
    expect(DkgStateRecord.parse(round2)).toEqual(round2);
    expect(DkgStateRecord.safeParse({ ...round1, sharesOutput: round2.sharesOutput }).success).toBe(false);
    const { sharesOutput: _shares, ...withoutOutput } = round2;
    expect(DkgStateRecord.safeParse(withoutOutput).success).toBe(false);
    expect(DkgStateRecord.safeParse({ ...round1, step: 3 }).success).toBe(false);
  });

  it('a stored item that does not parse is corrupt state: thrown for a redelivery, never a refusal', () => {
    const parse = recordParser(DkgStateRecord, 'DKG state');
    let thrown: unknown;
    try {
      parse({ ...round1, step: 2 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StoredStateError);
    expect(thrown).toBeInstanceOf(FrostlineError);
    expect(thrown).not.toBeInstanceOf(RefusedError);
    expect((thrown as StoredStateError).code).toBe('stored-state');
  });
});
