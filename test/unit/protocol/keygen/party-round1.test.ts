/** DKG round 1, party side: the pure step (keygen/party-round1.ts `startRound1`). */
import { x25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '../../../../lib/protocol/encoding.js';
import { unpackRoundSecret } from '../../../../lib/protocol/keygen/noble-dkg-state.js';
import { startRound1 } from '../../../../lib/protocol/keygen/party-round1.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Scratch } from '../../../support/harness.js';
import { openCast, testScope, type Cast } from '../../../support/party-steps.js';

const { frost, Point } = ed25519Suite;
const { Fn } = frost.utils;
const scratch = new Scratch();
const scope = testScope();
let cast: Cast;

beforeAll(async () => {
  cast = await openCast(scratch, ['p1', 'p2', 'p3']);
});
afterAll(async () => {
  scope.wipe();
  await scratch.cleanup();
});

describe('startRound1', () => {
  it('publishes a package for this party\'s identifier and keeps the polynomial it commits to', () => {
    const view = cast.view('p2');
    const output = startRound1(view, { threshold: 2, parties: ['p1', 'p2', 'p3'] }, scope);
    expect(output.ownPackage.identifier).toBe(view.identifierOf('p2'));
    expect(output.ownPackage.commitment).toHaveLength(2);
    expect(output.ownPackage.proofOfKnowledge).toMatch(/^[0-9a-f]{128}$/);

    const { ephemeral, coefficients } = unpackRoundSecret(output.secret);
    expect(output.secret).toHaveLength(32 + 2 * Fn.BYTES);
    expect(bytesToHex(x25519.getPublicKey(ephemeral))).toBe(output.ephemeralKey);
    // The stored coefficients are the polynomial of the published commitment.
    for (let i = 0; i < 2; i++) {
      const coefficient = Fn.fromBytes(coefficients.subarray(i * Fn.BYTES, (i + 1) * Fn.BYTES));
      expect(bytesToHex(Point.BASE.multiply(coefficient).toBytes())).toBe(output.ownPackage.commitment[i]);
    }
  });

  it('commits to threshold coefficients, with fresh randomness every time', () => {
    const view = cast.view('p1');
    const first = startRound1(view, { threshold: 3, parties: ['p1', 'p2', 'p3'] }, scope);
    const second = startRound1(view, { threshold: 3, parties: ['p1', 'p2', 'p3'] }, scope);
    expect(first.ownPackage.commitment).toHaveLength(3);
    expect(second.ownPackage.commitment[0]).not.toBe(first.ownPackage.commitment[0]);
    expect(second.ephemeralKey).not.toBe(first.ephemeralKey);
  });

  it('leaves its secrets in the caller\'s scope only, so that wiping the scope wipes them', () => {
    const own = testScope();
    const output = startRound1(cast.view('p1'), { threshold: 2, parties: ['p1', 'p2'] }, own);
    expect(own.tracked).toContain(output.secret);
    own.wipe();
    expect(output.secret.every((b) => b === 0)).toBe(true);
  });
});
