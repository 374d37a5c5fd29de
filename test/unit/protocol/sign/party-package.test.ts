/** Signing round 2, party side: the pure steps (sign/party-package.ts `signatureShare`, `spentOn`). */
import { describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { decodeHex } from '../../../../lib/protocol/encoding.js';
import { commitmentFromWire, publicToWire, sortCommitments } from '../../../../lib/protocol/frost-wire.js';
import type { PartyView } from '../../../../lib/protocol/party-context.js';
import { commitNonces } from '../../../../lib/protocol/sign/party-commit.js';
import { signatureShare, spentOn } from '../../../../lib/protocol/sign/party-package.js';
import { ed25519Suite as suite } from '../../../../lib/protocol/suite.js';
import { testScope } from '../../../support/party-steps.js';
import { refusal } from '../../../support/refusal.js';

const { frost } = suite;
const view: PartyView = { id: 'p1', directory: { coordinator: { alg: 'ed25519', spki: '' }, parties: {}, initiators: {} }, suite, identifierOf: (p) => frost.Identifier.derive(p) };
const dealt = frost.trustedDealer({ min: 2, max: 3 }, ['p1', 'p2', 'p3'].map((p) => frost.Identifier.derive(p)));
const publicPackage = publicToWire(dealt.public);
const message = new TextEncoder().encode('pay 10 to bob');

function keyOf(party: string) {
  const secret = dealt.secretShares[frost.Identifier.derive(party)];
  if (secret === undefined) throw new Error(`dealt a share for ${party}`);
  return { identifier: secret.identifier, signingShare: secret.signingShare };
}

describe('signatureShare', () => {
  it('signs its part of the package: two shares aggregate to a signature OpenSSL accepts', () => {
    const scope = testScope();
    const round = ['p1', 'p3'].map((p) => ({ key: keyOf(p), ...commitNonces(view, keyOf(p), scope) }));
    const commitments = sortCommitments(round.map((r) => r.commitment));
    const shares = Object.fromEntries(
      round.map((r) => [r.key.identifier, decodeHex(signatureShare(view, { ...r.key, nonces: r.nonces, publicPackage, commitments, message }, scope), 'share')]),
    );
    const signature = frost.aggregate(dealt.public, commitments.map((c) => commitmentFromWire(suite, c)), message, shares);
    expect(suite.verifyFinal(dealt.public.commitments[0] ?? new Uint8Array(), message, signature)).toBe(true);
    scope.wipe();
  });

  it('refuses a package noble rejects (a nonce pair that does not match the commitment), without a share', () => {
    const scope = testScope();
    const own = commitNonces(view, keyOf('p1'), scope);
    const other = commitNonces(view, keyOf('p2'), scope);
    const stale = commitNonces(view, keyOf('p1'), scope);
    const refused = refusal(() =>
      signatureShare(view, { ...keyOf('p1'), nonces: stale.nonces, publicPackage, commitments: sortCommitments([own.commitment, other.commitment]), message }, scope),
    );
    expect(refused.code).toBe(RefusalCode.invalidPackage);
    expect(refused.message).toMatch(/^signing package rejected/);
    scope.wipe();
  });
});

describe('spentOn', () => {
  const spent = { requestFingerprint: 'aa'.repeat(32), packageHash: 'bb'.repeat(32), share: 'cc'.repeat(32) };

  it('answers only the package and request a nonce was spent on', () => {
    expect(spentOn(spent, spent.packageHash, spent.requestFingerprint)).toBe(true);
    expect(spentOn(spent, 'dd'.repeat(32), spent.requestFingerprint)).toBe(false);
    expect(spentOn(spent, spent.packageHash, 'dd'.repeat(32))).toBe(false);
  });
});
