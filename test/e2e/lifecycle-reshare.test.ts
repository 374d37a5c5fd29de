import { afterAll, expect, test } from 'vitest';
import { MessageType } from '../../lib/protocol/messages.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { encoder, openHarness, Scratch, storeItems, typeOf } from '../support/harness.js';
import { expectSubsetsSign, lifecyclePolicy, openStoredShare, shareRecordOf, signWithShares, type OpenedShare } from '../support/lifecycle.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

/** Every t-subset of `parties` (in order). */
function subsets<T>(items: readonly T[], t: number): T[][] {
  if (t === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), t - 1).map((rest) => [item, ...rest]));
}

test('reshare chain 2-of-3 {p1,p2,p3} → 3-of-5 {p1..p5} → 2-of-2 {p4,p5} → 2-of-3 {p1,p4,p6}: same group key and child key, t′-subsets sign, old shares gone and useless', async () => {
  const harness = await openHarness(await scratch.dir(), { parties: 6, policy: lifecyclePolicy() });
  const { cluster } = harness;
  scratch.own(cluster);
  const keygen = await cluster.keygen({ keyId: 'k', threshold: 2, parties: ['p1', 'p2', 'p3'] });
  expect(keygen.ok).toBe(true);
  const publicKey = keygen.publicKey ?? '';
  const child = await cluster.sign({ keyId: 'k', message: encoder.encode('child before'), path: 'm/0/7' });
  expect(child.ok).toBe(true);
  const childKey = child.publicKey ?? '';
  expect(childKey).not.toBe(publicKey);

  const steps: { parties: string[]; threshold: number }[] = [
    { parties: ['p1', 'p2', 'p3', 'p4', 'p5'], threshold: 3 },
    { parties: ['p4', 'p5'], threshold: 2 },
    { parties: ['p1', 'p4', 'p6'], threshold: 2 },
  ];
  let current = ['p1', 'p2', 'p3'];
  for (const [index, step] of steps.entries()) {
    const epoch = index + 1;
    const before: OpenedShare[] = await Promise.all(current.map((p) => openStoredShare(cluster, p, 'k')));
    // An unused nonce of the old epoch at every committer: a signing session whose packages never arrive.
    harness.hooks.intercept = ({ body }) => (typeOf(body) === MessageType.signPackage ? [] : [body]);
    await cluster.initiator.requestSignature({ keyId: 'k', message: encoder.encode(`stalled ${epoch}`) });
    await cluster.run();
    harness.hooks.intercept = undefined;
    const unused = await Promise.all(current.map(async (p) => ((await cluster.stores.get(p)?.scanPrefix('nonce#')) ?? []).filter((i) => i.sk === 'nonce').length));
    expect(unused.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    const result = await cluster.reshare({ keyId: 'k', parties: step.parties, threshold: step.threshold });
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.epoch).toBe(epoch);
    expect(result.publicKey).toBe(publicKey);
    const record = await cluster.coordinator.getKey('k');
    expect(record).toMatchObject({ epoch, threshold: step.threshold, parties: step.parties, publicKey });

    const after = await Promise.all(step.parties.map((p) => openStoredShare(cluster, p, 'k')));
    const message = encoder.encode(`epoch ${epoch}`);
    for (const subset of subsets(after, step.threshold).slice(0, 4)) {
      const signature = signWithShares(subset, after[0]?.record.publicPackage ?? record?.publicPackage ?? { signers: { min: 0, max: 0 }, commitments: [], verifyingShares: {} }, message);
      expect(signature !== undefined && verifyWithNodeCrypto(publicKey, message, signature), `subset ${subset.map((s) => s.party).join(',')}`).toBe(true);
    }
    await expectSubsetsSign(cluster, 'k', publicKey, `epoch ${epoch}`);
    // An old-epoch share never completes a new-epoch signature.
    const oldOne = before[0];
    const newOnes = after.filter((s) => s.party !== oldOne?.party).slice(0, step.threshold - 1);
    if (oldOne !== undefined && after[0] !== undefined) {
      const mixed = signWithShares([oldOne, ...newOnes], after[0].record.publicPackage, message);
      expect(mixed !== undefined && verifyWithNodeCrypto(publicKey, message, mixed)).toBe(false);
    }
    // Removed parties hold no share; every party's unused older-epoch nonces of the key are gone.
    for (const party of current.filter((p) => !step.parties.includes(p))) expect(await shareRecordOf(cluster, party, 'k')).toBeUndefined();
    for (const party of new Set([...current, ...step.parties])) {
      const nonces = (await cluster.stores.get(party)?.scanPrefix('nonce#')) ?? [];
      const stale = nonces.filter((item) => item.sk === 'nonce' && ((item.data as { epoch?: number }).epoch ?? 0) < epoch);
      expect(stale, `stale nonces at ${party}`).toEqual([]);
    }
    current = step.parties;
  }
  const childAfter = await cluster.sign({ keyId: 'k', message: encoder.encode('child after'), path: 'm/0/7' });
  expect(childAfter.ok, JSON.stringify(childAfter.error)).toBe(true);
  expect(childAfter.publicKey).toBe(childKey);
  expect(verifyWithNodeCrypto(childKey, encoder.encode('child after'), childAfter.signature ?? '')).toBe(true);
  await cluster.close();
  // Every decision is in every party's audit trail: three reshare confirmations at p1 (it was in steps 1 and 3, removed in 2).
  const audit = await storeItems(harness.dir, 'p1', 'audit');
  const reasons = audit.map((item) => item.data as { kind?: string; decision?: string; reason?: string }).filter((d) => d.kind === 'reshare' && d.decision === 'approved' && d.reason !== undefined);
  expect(reasons.map((d) => d.reason)).toEqual([
    expect.stringMatching(/^share of epoch 1 active, epoch 0 share replaced; \d+ unused older-epoch nonces deleted$/),
    expect.stringMatching(/^removed from the key: epoch 1 share deleted; [1-9]\d* unused older-epoch nonces deleted$/),
    expect.stringMatching(/^share of epoch 3 active; \d+ unused older-epoch nonces deleted$/),
  ]);
});
