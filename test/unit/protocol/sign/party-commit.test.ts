/** Signing round 1, party side: the pure step (sign/party-commit.ts `commitNonces`). */
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../../../lib/protocol/encoding.js';
import type { PartyView } from '../../../../lib/protocol/party-context.js';
import { commitNonces } from '../../../../lib/protocol/sign/party-commit.js';
import { ed25519Suite as suite } from '../../../../lib/protocol/suite.js';
import { testScope } from '../../../support/party-steps.js';

const { frost, Point } = suite;
const { Fn } = frost.utils;
// commitNonces reads only the suite: no directory needed.
const view: PartyView = { id: 'p1', directory: { coordinator: { alg: 'ed25519', spki: '' }, parties: {}, initiators: {} }, suite, identifierOf: (p) => frost.Identifier.derive(p) };
const dealt = frost.trustedDealer({ min: 2, max: 3 }, ['p1', 'p2', 'p3'].map((p) => frost.Identifier.derive(p)));
const key = () => {
  const secret = dealt.secretShares[frost.Identifier.derive('p1')];
  if (secret === undefined) throw new Error('dealt a share for p1');
  return { identifier: secret.identifier, signingShare: secret.signingShare };
};

describe('commitNonces', () => {
  it('commits to the nonce pair it returns, under this party\'s identifier', () => {
    const scope = testScope();
    const { commitment, nonces } = commitNonces(view, key(), scope);
    expect(commitment.identifier).toBe(frost.Identifier.derive('p1'));
    expect(nonces).toHaveLength(64);
    const element = (bytes: Uint8Array) => bytesToHex(Point.BASE.multiply(Fn.fromBytes(bytes)).toBytes());
    expect(element(nonces.subarray(0, 32))).toBe(commitment.hiding);
    expect(element(nonces.subarray(32))).toBe(commitment.binding);
    scope.wipe();
  });

  it('draws fresh nonces every time, and leaves them in the caller\'s scope only', () => {
    const scope = testScope();
    const first = commitNonces(view, key(), scope);
    const second = commitNonces(view, key(), scope);
    expect(second.commitment.hiding).not.toBe(first.commitment.hiding);
    expect(second.commitment.binding).not.toBe(first.commitment.binding);
    expect(scope.tracked).toContain(first.nonces);
    scope.wipe();
    expect(first.nonces.every((b) => b === 0)).toBe(true);
  });
});
