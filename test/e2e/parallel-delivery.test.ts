/**
 * Issue #14: the local cluster delivers to every inbox concurrently, up to a bounded number
 * of handlers per inbox, and many concurrent signatures all come out right. What is checked
 * is counts (handlers in progress at once, results, dead letters), never times.
 * `npm test` signs FROSTLINE_PARALLEL_SIGNATURES (default 8) at once; `npm run
 * test:parallel` signs 100.
 */
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalCluster } from '../../lib/dev/cluster.js';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SIGNATURES = Number(process.env.FROSTLINE_PARALLEL_SIGNATURES ?? 8);
const CONCURRENCY = 4;

function opensslVerifies(publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, message, key, signature);
}

describe('parallel delivery on the local cluster', () => {
  let dataDir: string;
  let cluster: LocalCluster;
  /** Handlers in progress now and at most, per node and over the whole cluster. */
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  let runningTotal = 0;
  let peakTotal = 0;
  let peakNodes = 0;
  /**
   * Each party's first CONCURRENCY deliveries of the signing run wait for one another (a
   * barrier), so reaching the bound does not depend on timing. The old one-at-a-time loop
   * never gets past the first: the barrier then gives up after BARRIER_MS and the counts fail.
   */
  const BARRIER_MS = 120_000;
  const barriers = new Map<string, { waiting: number; open: () => void; opened: Promise<void> }>();
  let barriersArmed = false;
  const barrierFor = (node: string) => {
    let barrier = barriers.get(node);
    if (barrier === undefined) {
      let open = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
        setTimeout(resolve, BARRIER_MS).unref();
      });
      barrier = { waiting: 0, open, opened };
      barriers.set(node, barrier);
    }
    return barrier;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'frostline-parallel-'));
    cluster = await LocalCluster.open({
      dataDir,
      parties: 3,
      deliveryConcurrency: CONCURRENCY,
      wrapHandler: (node, handler) => async (body, context) => {
        running.set(node, (running.get(node) ?? 0) + 1);
        runningTotal += 1;
        peak.set(node, Math.max(peak.get(node) ?? 0, running.get(node) ?? 0));
        peakTotal = Math.max(peakTotal, runningTotal);
        peakNodes = Math.max(peakNodes, [...running.values()].filter((n) => n > 0).length);
        try {
          if (barriersArmed && node !== 'coordinator') {
            const barrier = barrierFor(node);
            if (barrier.waiting < CONCURRENCY) {
              barrier.waiting += 1;
              if (barrier.waiting === CONCURRENCY) barrier.open();
              await barrier.opened;
            }
          }
          await handler(body, context);
        } finally {
          running.set(node, (running.get(node) ?? 1) - 1);
          runningTotal -= 1;
        }
      },
    });
    cluster.serve();
    await cluster.client('cli').keygen({ keyId: 'k', threshold: 2, parties: ['p1', 'p2', 'p3'] });
  }, 300_000);

  afterAll(async () => {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test(`${SIGNATURES} concurrent 2-of-3 signatures: every one verifies, no duplicate, nothing dead-lettered, handlers ran concurrently`, async () => {
    const client = cluster.client('cli', { timeoutMs: 1_800_000 });
    barriersArmed = true;
    const requests = Array.from({ length: SIGNATURES }, (_, i) => {
      const message = new TextEncoder().encode(`parallel message ${i}`);
      return { message, requestId: `par-${i}`, promise: client.sign({ keyId: 'k', message, requestId: `par-${i}` }) };
    });
    const results = await Promise.all(requests.map((r) => r.promise));
    barriersArmed = false;
    results.forEach((result, i) => {
      const request = requests[i];
      if (request === undefined) throw new Error('missing request');
      expect(result.requestId).toBe(request.requestId);
      expect(result.duplicate).toBe(false);
      expect(opensslVerifies(result.publicKey, request.message, result.signature)).toBe(true);
    });
    expect(new Set(results.map((r) => r.signatureHex)).size).toBe(SIGNATURES);
    for (const [node, inbox] of cluster.inboxes) expect(inbox.deadLetters.peekAll(), node).toEqual([]);
    expect(cluster.unhealthy()).toEqual([]);

    // The sequential loop ran one handler at a time in the whole cluster (peak 1). Each
    // inbox received SIGNATURES messages of distinct sessions at once, so every party
    // reaches its bound, and several inboxes have handlers in progress together.
    for (const party of ['p1', 'p2', 'p3']) expect(peak.get(party), party).toBe(CONCURRENCY);
    expect(peakNodes).toBeGreaterThanOrEqual(2);
    expect(peakTotal).toBeGreaterThan(CONCURRENCY);
    expect(Math.max(...peak.values())).toBeLessThanOrEqual(CONCURRENCY);
  }, 1_800_000);

  test('close() returns with no handler running', async () => {
    const client = cluster.client('cli', { timeoutMs: 1_800_000 });
    // Requests in flight while the cluster closes: whatever was received finishes first.
    const pending = Array.from({ length: 4 }, (_, i) =>
      client.sign({ keyId: 'k', message: new TextEncoder().encode(`closing ${i}`), requestId: `close-${i}` }).catch(() => undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    await cluster.stop();
    expect(runningTotal).toBe(0);
    cluster.serve(); // let them finish so afterAll closes a quiet cluster
    await Promise.all(pending);
    await cluster.stop();
    expect(runningTotal).toBe(0);
  }, 600_000);
});
