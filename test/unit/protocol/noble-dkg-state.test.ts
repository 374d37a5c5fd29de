/**
 * Guard against a noble release changing its internal DKG round state (`DKG_Secret`): a
 * party stores round 1's coefficients and rebuilds noble's object in later invocations
 * (lib/protocol/keygen/noble-dkg-state.ts). If noble adds, renames or reinterprets a field,
 * these tests fail before a keygen does.
 */
import { describe, expect, it } from 'vitest';
import { RefusalCode, RefusedError } from '../../../lib/ports/errors.js';
import {
  NobleDkgError,
  packRoundSecret,
  restoreRound1Secret,
  restoreRound2Secret,
  round2ShareFor,
  runRound2,
  unpackRoundSecret,
  type DkgSecret,
  type DkgSecretParts,
} from '../../../lib/protocol/keygen/noble-dkg-state.js';
import { bytesToHex } from '../../../lib/protocol/encoding.js';
import { SecretScope } from '../../../lib/protocol/secret-scope.js';
import { ed25519Suite as suite } from '../../../lib/protocol/suite.js';

const { frost } = suite;
const NAMES = ['p1', 'p2', 'p3'] as const;
const signers = { min: 2, max: 3 };
const EPHEMERAL = new Uint8Array(32).fill(7);

function dkgRound1() {
  return NAMES.map((name) => ({ name, identifier: frost.Identifier.derive(name), ...frost.DKG.round1(frost.Identifier.derive(name), signers) }));
}

/** What a party stores of its round-1 state (sealed secret and published package), as restore takes it. */
function storedParts(party: { identifier: string; public: { commitment: Uint8Array[] }; secret: DkgSecret }, scope: SecretScope): DkgSecretParts {
  const { ephemeral, coefficients } = unpackRoundSecret(packRoundSecret(suite, EPHEMERAL, party.secret, scope));
  expect(ephemeral).toEqual(EPHEMERAL);
  return { identifier: party.identifier, coefficients, commitment: party.public.commitment.map(bytesToHex), signers };
}

describe('noble DKG round state (noble-dkg-state.ts)', () => {
  it('round 1 returns exactly the fields the party stores or derives', () => {
    const [p1] = dkgRound1();
    expect(Object.keys(p1?.secret ?? {}).sort()).toEqual(['coefficients', 'commitment', 'identifier', 'signers', 'step']);
    expect(p1?.secret.step).toBe(1);
    expect(p1?.secret.coefficients).toHaveLength(signers.min);
  });

  it('a rebuilt round-1 state equals the original, and round 2 and round 3 give the same outputs from it', () => {
    const parties = dkgRound1();
    const [p1, p2, p3] = parties;
    if (p1 === undefined || p2 === undefined || p3 === undefined) throw new Error('three parties');
    const scope = new SecretScope();
    try {
      const restored = restoreRound1Secret(suite, storedParts(p1, scope));
      expect(restored).toEqual(p1.secret);

      const others = [p2.public, p3.public];
      const fromRestored = runRound2(suite, restored, others, scope);
      const fromOriginal = frost.DKG.round2(p1.secret, others);
      expect(fromRestored).toEqual(fromOriginal);
      expect(round2ShareFor(fromRestored, p2.identifier, 'p2')).toEqual(fromOriginal[p2.identifier]?.signingShare);

      // What p1 receives in round 3.
      const toP1 = [p2, p3].map((sender) => {
        const out = frost.DKG.round2(sender.secret, parties.filter((p) => p !== sender).map((p) => p.public));
        const pkg = out[p1.identifier];
        if (pkg === undefined) throw new Error(`no share from ${sender.name}`);
        return pkg;
      });
      const resumed = restoreRound2Secret(suite, storedParts(p1, scope), others, scope);
      const keyFromResumed = frost.DKG.round3(resumed, others, toP1);
      const keyFromOriginal = frost.DKG.round3(p1.secret, others, toP1);
      expect(keyFromResumed).toEqual(keyFromOriginal);
    } finally {
      scope.wipe();
    }
  });

  it('a round-1 package noble rejects is refused, by round 2 and by the round-3 replay', () => {
    const [p1, p2, p3] = dkgRound1();
    if (p1 === undefined || p2 === undefined || p3 === undefined) throw new Error('three parties');
    const forged = { ...p2.public, proofOfKnowledge: p3.public.proofOfKnowledge };
    const scope = new SecretScope();
    const parts = storedParts(p1, scope);
    const attempt = () => runRound2(suite, restoreRound1Secret(suite, parts), [forged, p3.public], scope);
    expect(attempt).toThrow(RefusedError);
    expect(attempt).toThrow(/a round-1 package was rejected/);
    try {
      restoreRound2Secret(suite, parts, [forged, p3.public], scope);
      expect.unreachable('a forged package must be refused');
    } catch (error) {
      expect((error as RefusedError).code).toBe(RefusalCode.invalidPackage);
    }
    scope.wipe();
  });

  it('a recipient round 2 produced no share for is an error, not a refusal', () => {
    expect(() => round2ShareFor({}, frost.Identifier.derive('p9'), 'p9')).toThrow(NobleDkgError);
  });
});
