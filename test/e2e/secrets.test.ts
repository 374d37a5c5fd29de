/** Secrets in memory: every buffer a round handler registered is zeros once it returns or throws. */
import { afterAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../lib/protocol/messages.js';
import type { SecretScope } from '../../lib/protocol/secret-scope.js';
import { bodyOf, encoder, openHarness, opensslVerifies, parseRaw, requiredVault, resign, Scratch, typeOf } from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const allZero = (buffer: Uint8Array) => buffer.every((b) => b === 0);

function expectWiped(scopes: readonly SecretScope[]): number {
  const buffers = scopes.flatMap((scope) => [...scope.tracked]);
  expect(buffers.length).toBeGreaterThan(0);
  const dirty = buffers.filter((b) => !allZero(b));
  expect(dirty.length, `${dirty.length} of ${buffers.length} secret buffers still hold data`).toBe(0);
  return buffers.length;
}

describe('secret wiping', () => {
  it('after a whole keygen and signing, every secret buffer of every round handler is all zeros', async () => {
    const scopes: SecretScope[] = [];
    const harness = await openHarness(await scratch.dir(), { parties: 3, onSecretsWiped: (scope) => scopes.push(scope) });
    scratch.own(harness.cluster);
    const keygen = await harness.cluster.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen.ok).toBe(true);
    const afterKeygen = scopes.length;
    // Round 1, 2 and 3 each handle secrets at each of the 3 parties.
    expect(afterKeygen).toBeGreaterThanOrEqual(9);
    const message = encoder.encode('wipe me');
    const signed = await harness.cluster.sign({ keyId: 'k1', message });
    expect(signed.ok).toBe(true);
    expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
    // 3 commits (share opened to hedge the nonces) and 2 signature shares.
    expect(scopes.length - afterKeygen).toBeGreaterThanOrEqual(5);
    // Checked at the end, not only when each scope closed: nothing refilled a wiped buffer.
    const count = expectWiped(scopes);
    expect(count).toBeGreaterThanOrEqual(scopes.length);
  });

  it('a round handler that throws (round 3 with a share that does not open) wipes its secrets too', async () => {
    const scopes: SecretScope[] = [];
    const harness = await openHarness(await scratch.dir(), { parties: 3, onSecretsWiped: (scope) => scopes.push(scope) });
    scratch.own(harness.cluster);
    // p2 corrupts the round-2 share sealed to p1 (re-signing with its own key, so only the
    // AEAD can tell): p1's round 3 decrypts its DKG state, then fails inside its scope.
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== 'p2' || typeOf(body) !== MessageType.dkgShares) return [body];
      const envelope = parseRaw(body);
      const shares = bodyOf(envelope).shares as Record<string, { iv: string; ct: string }>;
      const forP1 = shares.p1;
      if (forP1 === undefined) throw new Error('no share for p1');
      const ct = (forP1.ct[0] === '0' ? '1' : '0') + forP1.ct.slice(1);
      return [await resign(requiredVault(harness.cluster, 'p2'), envelope, { body: { ...bodyOf(envelope), shares: { ...shares, p1: { ...forP1, ct } } } })];
    };
    // Which scopes belong to p1's round 3: handlers run one at a time, so those closed during its call.
    const round3Scopes: SecretScope[] = [];
    harness.hooks.wrap = async (node, body, context, handler) => {
      const before = scopes.length;
      try {
        await handler(body, context);
      } finally {
        if (node === 'p1' && typeOf(body) === MessageType.dkgRound3) round3Scopes.push(...scopes.slice(before));
      }
    };

    const keygen = await harness.cluster.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen.ok).toBe(false);
    expect(keygen.publicKey).toBeUndefined();
    const p1Round3 = harness.cluster.outcomes.filter((o) => o.node === 'p1' && o.outcome.type === MessageType.dkgRound3);
    expect(p1Round3.map((o) => o.outcome)).toEqual([expect.objectContaining({ status: 'refused', code: 'protocol' })]);
    expect(round3Scopes.length).toBeGreaterThan(0);
    expectWiped(round3Scopes);
    expectWiped(scopes);
    expect(await harness.cluster.coordinator.getKey('k1')).toBeUndefined();
  });
});
