/**
 * The lifecycle arithmetic against noble's own DKG and signing: after a refresh or reshare,
 * any t′ of the new parties sign under the unchanged group key (checked by the suite's
 * independent verifier), old and new shares do not combine, and every check refuses what it
 * must.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { publicFromWire, publicToWire } from '../../../../lib/protocol/frost-wire.js';
import type { PublicPackage } from '../../../../lib/protocol/messages.js';
import {
  checkDealingCommitments,
  combineShares,
  constantsSumToGroupKey,
  deal,
  nextPublicPackage,
  shareMatchesDealing,
  type LifecycleMode,
} from '../../../../lib/protocol/reshare/dealing.js';
import { SecretScope } from '../../../../lib/protocol/secret-scope.js';
import type { Suite } from '../../../../lib/protocol/suite.js';
import { suiteFor } from '../../../../lib/protocol/suites.js';

interface Sharing {
  readonly pub: PublicPackage;
  /** Signing share by identifier. */
  readonly shares: Map<string, Uint8Array>;
}

function dkg(suite: Suite, names: readonly string[], t: number): { ids: Map<string, string>; sharing: Sharing } {
  const { frost } = suite;
  const ids = new Map(names.map((n) => [n, frost.Identifier.derive(n)]));
  const signers = { min: t, max: names.length };
  const round1 = names.map((n) => frost.DKG.round1(ids.get(n) ?? '', signers));
  const round2 = round1.map((r, i) => frost.DKG.round2(r.secret, round1.filter((_, j) => j !== i).map((o) => o.public)));
  const shares = new Map<string, Uint8Array>();
  let pub: PublicPackage | undefined;
  round1.forEach((r, i) => {
    const others = round1.filter((_, j) => j !== i).map((o) => o.public);
    const received = round2.flatMap((out, j) => (j === i ? [] : [{ identifier: round1[j]?.public.identifier ?? '', signingShare: out[r.public.identifier]?.signingShare ?? new Uint8Array() }]));
    const key = frost.DKG.round3(r.secret, others, received);
    shares.set(key.secret.identifier, key.secret.signingShare);
    pub = publicToWire(key.public);
  });
  if (pub === undefined) throw new Error('no DKG output');
  return { ids, sharing: { pub, shares } };
}

/** Every dealer deals, every recipient checks and combines, as the parties do. */
function runLifecycle(suite: Suite, mode: LifecycleMode, from: Sharing, dealers: readonly string[], recipients: readonly string[], threshold: number, scope: SecretScope): Sharing {
  const dealings = dealers.map((dealer) => ({
    dealer,
    output: deal(suite, { mode, threshold, recipients, dealer, dealers, signingShare: from.shares.get(dealer) }, scope),
  }));
  for (const { dealer, output } of dealings) {
    expect(checkDealingCommitments(suite, { mode, threshold, commitments: output.commitments, dealer, dealers, dealerVerifyingShare: from.pub.verifyingShares[dealer] })).toBeUndefined();
  }
  if (mode === 'reshare') expect(constantsSumToGroupKey(suite, dealings.map((d) => d.output.commitments), from.pub.commitments[0] ?? '')).toBe(true);
  const shares = new Map<string, Uint8Array>();
  for (const recipient of recipients) {
    const received = dealings.map(({ output }) => {
      const share = output.shares.get(recipient);
      if (share === undefined) throw new Error('missing share');
      expect(shareMatchesDealing(suite, mode, recipient, share, output.commitments)).toBe(true);
      return share;
    });
    shares.set(recipient, combineShares(suite, mode, received, from.shares.get(recipient), scope));
  }
  const pub = nextPublicPackage(suite, { mode, threshold, recipients, dealings: dealings.map((d) => d.output.commitments), current: from.pub });
  return { pub, shares };
}

const MESSAGE = hexToBytes('a1'.repeat(32));

/** noble signs with `signers` (identifier → share); true when the suite's independent verifier accepts. */
async function signs(suite: Suite, pub: PublicPackage, signers: ReadonlyMap<string, Uint8Array>): Promise<boolean> {
  const { frost } = suite;
  const nobPub = publicFromWire(suite, pub);
  const rounds = [...signers].map(([identifier, signingShare]) => ({ identifier, signingShare, ...frost.commit({ identifier, signingShare }) }));
  const commitments = rounds.map((r) => r.commitments);
  const shares: Record<string, Uint8Array> = {};
  for (const r of rounds) shares[r.identifier] = frost.signShare({ identifier: r.identifier, signingShare: r.signingShare }, nobPub, r.nonces, commitments, MESSAGE);
  let signature: Uint8Array;
  try {
    signature = frost.aggregate(nobPub, commitments, MESSAGE, shares);
  } catch {
    return false; // noble's aggregate checks the shares against the package: a mix fails here
  }
  await suite.prepareVerifier();
  return suite.verifyFinal(suite.publicKeyOf(hexToBytes(pub.commitments[0] ?? '')), MESSAGE, signature);
}

const pick = (shares: ReadonlyMap<string, Uint8Array>, ids: readonly string[]) => new Map(ids.map((id) => [id, shares.get(id) ?? new Uint8Array()]));

describe.each(['ed25519', 'secp256k1-tr', 'ed448'])('key lifecycle arithmetic (%s)', (name) => {
  const suite = suiteFor(name);

  it('refresh: same key, t of the refreshed shares sign, old and new shares do not combine', async () => {
    const scope = new SecretScope();
    const { ids, sharing } = dkg(suite, ['a', 'b', 'c'], 2);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => ids.get(n) ?? '');
    const all = [a, b, c].map(String);
    const refreshed = runLifecycle(suite, 'refresh', sharing, all, all, 2, scope);
    expect(refreshed.pub.commitments[0]).toBe(sharing.pub.commitments[0]);
    expect(refreshed.shares.get(String(a))).not.toEqual(sharing.shares.get(String(a)));
    expect(await signs(suite, refreshed.pub, pick(refreshed.shares, [String(a), String(c)]))).toBe(true);
    expect(await signs(suite, refreshed.pub, pick(refreshed.shares, [String(b), String(c)]))).toBe(true);
    const mixed = new Map([[String(a), sharing.shares.get(String(a)) ?? new Uint8Array()], [String(b), refreshed.shares.get(String(b)) ?? new Uint8Array()]]);
    expect(await signs(suite, refreshed.pub, mixed)).toBe(false);
    expect(await signs(suite, sharing.pub, mixed)).toBe(false);
    scope.wipe();
  });

  it('reshare 2-of-3 → 3-of-4 with a new party, dealt by two of the old: same key, any three new sign', async () => {
    const scope = new SecretScope();
    const { ids, sharing } = dkg(suite, ['a', 'b', 'c'], 2);
    const id = (n: string) => ids.get(n) ?? suite.frost.Identifier.derive(n);
    const dealers = [id('a'), id('c')];
    const recipients = ['a', 'b', 'c', 'd'].map(id);
    const next = runLifecycle(suite, 'reshare', sharing, dealers, recipients, 3, scope);
    expect(next.pub.commitments[0]).toBe(sharing.pub.commitments[0]);
    expect(next.pub.signers).toEqual({ min: 3, max: 4 });
    expect(next.pub.commitments).toHaveLength(3);
    expect(await signs(suite, next.pub, pick(next.shares, [id('a'), id('b'), id('d')]))).toBe(true);
    expect(await signs(suite, next.pub, pick(next.shares, [id('b'), id('c'), id('d')]))).toBe(true);
    // Two new shares are below the new threshold; with an old share they still do not make three.
    const mixed = new Map([...pick(next.shares, [id('b'), id('d')]), [id('a'), sharing.shares.get(id('a')) ?? new Uint8Array()]]);
    expect(await signs(suite, next.pub, mixed)).toBe(false);
    scope.wipe();
  });
});

describe('key lifecycle refusals (ed25519)', () => {
  const suite = suiteFor('ed25519');
  const { ids, sharing } = dkg(suite, ['a', 'b', 'c'], 2);
  const id = (n: string) => ids.get(n) ?? suite.frost.Identifier.derive(n);
  const dealers = [id('a'), id('b')];
  const recipients = ['a', 'b', 'c'].map(id);

  it('a reshare constant other than λ·Y of the dealer is refused, and constants that do not add up to the key are caught', () => {
    const scope = new SecretScope();
    const honest = deal(suite, { mode: 'reshare', threshold: 2, recipients, dealer: id('a'), dealers, signingShare: sharing.shares.get(id('a')) }, scope);
    // A dealer dealing a secret of its own choosing: a valid polynomial, the wrong constant.
    const rogue = deal(suite, { mode: 'refresh', threshold: 3, recipients, dealer: id('a'), dealers }, scope);
    const check = (commitments: readonly string[]) =>
      checkDealingCommitments(suite, { mode: 'reshare', threshold: 2, commitments, dealer: id('a'), dealers, dealerVerifyingShare: sharing.pub.verifyingShares[id('a')] });
    expect(check(honest.commitments)).toBeUndefined();
    expect(check(rogue.commitments)).toMatch(/constant commitment is not λ·Y/);
    expect(check(honest.commitments.slice(0, 1))).toMatch(/1 commitments, expected 2/);
    expect(check([honest.commitments[0] ?? '', '01' + '00'.repeat(31)])).toMatch(/commitment\[1\] is not a valid/);
    const other = deal(suite, { mode: 'reshare', threshold: 2, recipients, dealer: id('b'), dealers, signingShare: sharing.shares.get(id('b')) }, scope);
    expect(constantsSumToGroupKey(suite, [honest.commitments, other.commitments], sharing.pub.commitments[0] ?? '')).toBe(true);
    expect(constantsSumToGroupKey(suite, [honest.commitments, honest.commitments], sharing.pub.commitments[0] ?? '')).toBe(false);
    scope.wipe();
  });

  it('a refresh dealing with a constant commitment has the wrong length (no constant travels)', () => {
    const scope = new SecretScope();
    const withConstant = deal(suite, { mode: 'reshare', threshold: 2, recipients, dealer: id('a'), dealers: recipients, signingShare: sharing.shares.get(id('a')) }, scope);
    expect(checkDealingCommitments(suite, { mode: 'refresh', threshold: 2, commitments: withConstant.commitments, dealer: id('a'), dealers: recipients })).toMatch(/expected 1/);
    scope.wipe();
  });

  it('a share that does not match its dealer\'s commitments is caught, for any altered byte', () => {
    const scope = new SecretScope();
    const dealt = deal(suite, { mode: 'refresh', threshold: 2, recipients, dealer: id('a'), dealers: recipients }, scope);
    const share = dealt.shares.get(id('b')) ?? new Uint8Array();
    expect(shareMatchesDealing(suite, 'refresh', id('b'), share, dealt.commitments)).toBe(true);
    expect(shareMatchesDealing(suite, 'refresh', id('c'), share, dealt.commitments)).toBe(false);
    expect(shareMatchesDealing(suite, 'reshare', id('b'), share, dealt.commitments)).toBe(false);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: share.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, delta) => {
        const altered = share.slice();
        altered[index] = ((altered[index] ?? 0) + delta) & 0xff;
        return !shareMatchesDealing(suite, 'refresh', id('b'), altered, dealt.commitments);
      }),
      { seed: 11, numRuns: 40 },
    );
    scope.wipe();
  });

  it('property: for random thresholds and sets, a reshare keeps the key and the new verifying shares match the new shares', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 2, max: 4 }), (t, extraOld, tNew) => {
        const scope = new SecretScope();
        const oldNames = Array.from({ length: t + extraOld }, (_, i) => `p${i}`);
        const { ids: oldIds, sharing: old } = dkg(suite, oldNames, t);
        const oldId = (n: string) => oldIds.get(n) ?? '';
        const dealerIds = oldNames.slice(extraOld).map(oldId);
        const newIds = Array.from({ length: tNew + 1 }, (_, i) => suite.frost.Identifier.derive(`q${i}`));
        const next = runLifecycle(suite, 'reshare', old, dealerIds, newIds, tNew, scope);
        const ok = next.pub.commitments[0] === old.pub.commitments[0] &&
          newIds.every((nid) => bytesToHex(suite.Point.BASE.multiply(suite.frost.utils.Fn.fromBytes(next.shares.get(nid) ?? new Uint8Array(32))).toBytes()) === next.pub.verifyingShares[nid]);
        scope.wipe();
        return ok;
      }),
      { seed: 7, numRuns: 6 },
    );
  });
});
