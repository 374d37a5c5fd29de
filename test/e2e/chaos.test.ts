/**
 * The chaos harness in miniature (the full run is `npm run chaos`): a fixed seed, every
 * fault kind at a raised rate, every invariant held; and the invariant checker shown to
 * catch each violation it exists for, on real stores tampered with after a real session.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../lib/dev/cluster.js';
import { checkNonces, checkSessions, checkShares, snapshotShares, type SessionSeen } from '../../lib/dev/chaos/invariants.js';
import { runLocalChaos } from '../../lib/dev/chaos/local-run.js';
import { makeFaultPlan, partyDownAt } from '../../lib/dev/chaos/fault-plan.js';
import { COORDINATOR } from '../../lib/protocol/messages.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { utf8ToBytes } from '../../lib/protocol/encoding.js';
import type { ItemBackend } from '../../lib/ports/store.js';

describe('chaos run (fixed seed, every fault kind)', () => {
  it('keeps every invariant under drops, duplicates, reordering, delays, crashes, a party down and clock skew', async () => {
    const report = await runLocalChaos({
      signatures: 6,
      keygens: 2,
      seed: 'npm-test',
      concurrency: 8,
      intensity: 3,
      partyDownPeriodMs: 1_000,
      partyDownWindowMs: 300,
    });
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.sessions.total).toBe(8);
    expect(report.sessions.timedOut).toBe(0);
    expect(report.sessions.completed + report.sessions.failedTyped).toBe(8);
    expect(report.sessions.invalidSignatures).toBe(0);
    expect(report.nonceViolations).toBe(0);
    expect(report.sharesLost).toBe(0);
    expect(report.sessions.duplicateResults).toBe(0);
    // Each per-message fault fired (hundreds of draws at 6-9% each), and every node's clock is skewed.
    for (const kind of ['drop', 'duplicate', 'reorder', 'delay', 'crashBeforeAck', 'crashAfterWrite'] as const) expect(report.faults[kind]).toBeGreaterThan(0);
    expect(report.faults.clockSkew).toBeGreaterThan(0);
  });

  it('derives the same plan from the same seed, and never has two parties down at once', () => {
    const options = { seed: 's', parties: ['p1', 'p2', 'p3'], nodes: ['p1', 'p2', 'p3', 'coordinator'], limits: DEFAULT_LIMITS };
    expect(makeFaultPlan(options)).toEqual(makeFaultPlan(options));
    expect(makeFaultPlan(options)).not.toEqual(makeFaultPlan({ ...options, seed: 't' }));
    const plan = makeFaultPlan(options);
    const skews = Object.values(plan.clockSkewMs);
    expect(Math.max(...skews) - Math.min(...skews)).toBeLessThan(DEFAULT_LIMITS.maxClockSkewMs);
    const down = Array.from({ length: 400 }, (_, i) => partyDownAt(plan, i * 50)).filter((p) => p !== undefined);
    expect(down.length).toBeGreaterThan(0);
    expect(down.length).toBeLessThan(400);
  });
});

describe('invariant checker catches violations (real stores, tampered)', () => {
  let dataDir: string;
  let cluster: LocalCluster;
  let publicKey: string;
  let signature: string;
  const message = utf8ToBytes('checked message');
  const parties = () => new Map<string, ItemBackend>([...cluster.stores].filter(([node]) => node !== COORDINATOR));

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'frostline-chaos-check-'));
    cluster = await LocalCluster.open({ dataDir, parties: 3 });
    const keygen = await cluster.keygen({ keyId: 'k', threshold: 2 });
    const signed = await cluster.sign({ keyId: 'k', message });
    if (keygen.publicKey === undefined || signed.signature === undefined) throw new Error('setup session failed');
    publicKey = keygen.publicKey;
    signature = signed.signature;
  });
  afterAll(async () => {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const signSession = (sig: string, results = 1): SessionSeen => ({
    requestId: 'r1',
    kind: 'sign',
    keyId: 'k',
    message,
    expectedPublicKey: publicKey,
    results: Array.from({ length: results }, () => ({ ok: true, duplicate: false, signature: sig, publicKey })),
  });

  it('accepts the untampered state', async () => {
    const violations: string[] = [];
    expect(checkSessions([signSession(signature)], violations).completed).toBe(1);
    expect(await checkNonces(parties(), cluster.stores.get(COORDINATOR), violations)).toBe(0);
    expect(violations).toEqual([]);
  });

  it('reports a signature that does not verify, a missing result and two different results for one request id', () => {
    const violations: string[] = [];
    const flipped = `${signature.slice(0, 10)}${signature[10] === '0' ? '1' : '0'}${signature.slice(11)}`;
    expect(checkSessions([signSession(flipped)], violations).invalidSignatures).toBe(1);
    expect(checkSessions([{ ...signSession(signature), results: [] }], violations).timedOut).toBe(1);
    const twoSignatures = { ...signSession(signature), results: [signSession(signature).results[0], { ok: true, duplicate: false, signature: flipped, publicKey }] } as SessionSeen;
    expect(checkSessions([twoSignatures], violations).duplicateResults).toBe(1);
    expect(violations).toHaveLength(3);
    // The same outcome delivered twice is at-least-once redelivery, not a second result.
    const again = checkSessions([signSession(signature, 2)], violations);
    expect([again.duplicateResults, again.redelivered]).toEqual([0, 1]);
    expect(violations).toHaveLength(3);
  });

  it('reports a nonce consumed twice and a commitment used in two sessions', async () => {
    const stores = parties();
    // Any party that signed: with concurrent delivery, which t of the n answer first varies.
    const spent = await Promise.all(
      [...stores].map(async ([node, backend]) => ({ node, backend, consumed: (await backend.scanPrefix('nonce#')).find((item) => item.sk === 'consumed') })),
    );
    const signer = spent.find((entry) => entry.consumed !== undefined);
    if (signer?.consumed === undefined) throw new Error('no party stored a consumed-nonce record');
    const { node: party, backend: store, consumed } = signer;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const tamper = async (check: (violations: string[]) => void) => {
      const violations: string[] = [];
      await checkNonces(stores, cluster.stores.get(COORDINATOR), violations);
      check(violations);
    };
    // A second write over the consumed record: what consuming the same nonce twice leaves.
    await store.write([{ op: 'put', item: { ...consumed, version: 2 }, condition: { kind: 'exists' } }], nowSeconds);
    await tamper((v) => expect(v.some((line) => line.startsWith(`nonce consumed twice: ${party}`))).toBe(true));
    await store.write([{ op: 'put', item: consumed, condition: { kind: 'none' } }], nowSeconds);
    // The coordinator's sign session copied under another session id: every commitment in it now appears twice.
    const coordinator = cluster.stores.get(COORDINATOR);
    const session = (await coordinator?.scanPrefix('session#'))?.find((item) => (item.data as { kind?: string }).kind === 'sign');
    if (coordinator === undefined || session === undefined) throw new Error('no stored sign session');
    await coordinator.write([{ op: 'put', item: { ...session, pk: 'session#0000000000000000ffffffffffffffff' }, condition: { kind: 'absent' } }], nowSeconds);
    await tamper((v) => expect(v.filter((line) => line.startsWith('nonce reused')).length).toBeGreaterThanOrEqual(2));
    await coordinator.write([{ op: 'delete', key: { pk: 'session#0000000000000000ffffffffffffffff', sk: 'state' }, condition: { kind: 'none' } }], nowSeconds);
    await tamper((v) => expect(v).toEqual([]));
  });

  it('reports a share lost or changed', async () => {
    const stores = parties();
    const before = await snapshotShares(stores);
    const store = stores.get('p2');
    const share = (await store?.scanPrefix('key#'))?.find((item) => item.sk === 'share');
    if (store === undefined || share === undefined) throw new Error('p2 holds no share');
    const nowSeconds = Math.floor(Date.now() / 1000);
    await store.write([{ op: 'delete', key: share, condition: { kind: 'none' } }], nowSeconds);
    try {
      const violations: string[] = [];
      expect(await checkShares(before, stores, [], violations)).toBe(1);
      expect(violations[0]).toContain('share lost: p2');
      const keygen: SessionSeen = { requestId: 'g', kind: 'keygen', keyId: 'k', parties: ['p1', 'p2', 'p3'], results: [{ ok: true, duplicate: false, publicKey }] };
      expect(await checkShares(new Map(), stores, [keygen], [])).toBe(1);
    } finally {
      await store.write([{ op: 'put', item: share, condition: { kind: 'absent' } }], nowSeconds);
    }
    expect(await checkShares(before, stores, [], [])).toBe(0);
  });
});
