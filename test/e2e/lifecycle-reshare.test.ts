import { afterAll, expect, test } from 'vitest';
import { MessageType, type Envelope } from '../../lib/protocol/messages.js';
import { partyKeys } from '../../lib/protocol/party-state.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { bodyOf, encoder, openHarness, parseRaw, Scratch, storeItems, typeOf } from '../support/harness.js';
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
  const sentOfType = (from: number, type: string): Envelope[] => harness.sent.slice(from).filter((m) => typeOf(m.body) === type).map((m) => parseRaw(m.body));
  /** A party's unused pool nonces and published batches of key k, with their epochs (a spent nonce's item, the record of what it was spent on, stays until its TTL). */
  const poolItemsOf = async (party: string) =>
    ((await cluster.stores.get(party)?.query(partyKeys.poolPartition('k'))) ?? [])
      .filter((item) => (item.sk.startsWith('nonce#') && item.data.state !== 'spent') || item.sk.startsWith('batch#'))
      .map((item) => ({ kind: item.sk.startsWith('nonce#') ? 'nonce' : 'batch', epoch: (item.data as { epoch: number }).epoch }));
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
    // An unused nonce of the old epoch at every committer: a signing session whose packages
    // never arrive. The pools are full (the signature before filled them), so its attempt 1
    // is one round: its sign.pooled is dropped too (a claimed pool nonce never spent), and it
    // falls back to a two-round attempt whose commitments are made and packages dropped.
    harness.hooks.intercept = ({ body }) => (typeOf(body) === MessageType.signPackage || typeOf(body) === MessageType.signPooled ? [] : [body]);
    await cluster.initiator.requestSignature({ keyId: 'k', message: encoder.encode(`stalled ${epoch}`) });
    await cluster.run();
    expect(await cluster.coordinator.fallBackPooled(0)).toBe(1);
    await cluster.run();
    harness.hooks.intercept = undefined;
    const unused = await Promise.all(current.map(async (p) => ((await cluster.stores.get(p)?.scanPrefix('nonce#')) ?? []).filter((i) => i.sk === 'nonce').length));
    expect(unused.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // And every party of the old epoch holds a pool (nonces and its published batch) of that epoch.
    for (const party of current) expect((await poolItemsOf(party)).filter((item) => item.epoch === epoch - 1).map((item) => item.kind).sort(), `pool at ${party}`).toEqual(expect.arrayContaining(['batch', 'nonce']));

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
    // The first signature of the new epoch takes two rounds (the coordinator's cursor is of
    // the old one) and asks the new parties, and only them, for batches of the new epoch.
    const firstFrom = harness.sent.length;
    await expectSubsetsSign(cluster, 'k', publicKey, `epoch ${epoch}`);
    expect(sentOfType(firstFrom, MessageType.signCommit).length).toBeGreaterThanOrEqual(step.threshold);
    expect(sentOfType(firstFrom, MessageType.poolRefill).map((e) => e.to).sort()).toEqual([...step.parties].sort());
    for (const refill of sentOfType(firstFrom, MessageType.poolRefill)) expect(bodyOf(refill).epoch).toBe(epoch);
    // The next one runs one round: t′ packages, to new parties, of new-epoch batches only.
    const pooledFrom = harness.sent.length;
    const pooledMessage = encoder.encode(`one round at epoch ${epoch}`);
    const pooled = await cluster.sign({ keyId: 'k', message: pooledMessage });
    expect(pooled.ok, JSON.stringify(pooled.error)).toBe(true);
    expect(verifyWithNodeCrypto(publicKey, pooledMessage, pooled.signature ?? '')).toBe(true);
    const packages = sentOfType(pooledFrom, MessageType.signPooled);
    expect(sentOfType(pooledFrom, MessageType.signCommit)).toEqual([]);
    expect(packages.map((e) => e.to).sort()).toEqual([...(pooled.signers ?? [])].sort());
    expect(packages).toHaveLength(step.threshold);
    for (const envelope of packages) {
      expect(step.parties).toContain(envelope.to);
      const entries = bodyOf(envelope).commitments as { batch: Envelope }[];
      expect(entries).toHaveLength(step.threshold);
      for (const entry of entries) expect({ from: step.parties.includes(entry.batch.from), epoch: bodyOf(entry.batch).epoch }).toEqual({ from: true, epoch });
    }
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
      // Pool nonces and batches of older epochs too; a removed party makes none of the new one.
      const pool = await poolItemsOf(party);
      expect(pool.filter((item) => item.epoch < epoch), `stale pool items at ${party}`).toEqual([]);
      if (!step.parties.includes(party)) expect(pool, `pool items at removed ${party}`).toEqual([]);
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
  // With pools (on by default) p1 also held a pool at epochs 0 and 1, deleted at each switch;
  // removed at epoch 2, it was asked for none, so the third confirmation deletes no pool item.
  expect(reasons.map((d) => d.reason)).toEqual([
    expect.stringMatching(/^share of epoch 1 active, epoch 0 share replaced; \d+ unused older-epoch nonces deleted; [1-9]\d* older-epoch pool items deleted$/),
    expect.stringMatching(/^removed from the key: epoch 1 share deleted; [1-9]\d* unused older-epoch nonces deleted; [1-9]\d* older-epoch pool items deleted$/),
    expect.stringMatching(/^share of epoch 3 active; \d+ unused older-epoch nonces deleted$/),
  ]);
});
