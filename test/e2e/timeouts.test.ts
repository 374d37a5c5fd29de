import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { LocalCluster } from '../../lib/dev/cluster.js';

test('a session stalled by unresponsive parties is timed out and its initiator told who never answered', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-timeout-'));
  const offline = new Set<string>();
  const cluster = await LocalCluster.open({
    dataDir,
    parties: 3,
    maxReceiveCount: 2,
    visibilityTimeoutMs: 10,
    wrapHandler: (node, handler) => async (body, context) => {
      if (offline.has(node)) throw new Error(`${node} is down`);
      return handler(body, context);
    },
  });
  try {
    const key = await cluster.keygen({ keyId: 'k', threshold: 2 });
    expect(key.ok).toBe(true);

    offline.add('p2').add('p3');
    const session = await cluster.initiator.requestSignature({ keyId: 'k', message: new TextEncoder().encode('stuck') });
    await cluster.run(); // p2 and p3 never commit: their sign.commit ends in their dead-letter queues
    expect(cluster.takeResults()).toEqual([]);
    expect((await cluster.coordinator.getSession(session))?.phase).toBe('commit');

    // Not yet stalled: nothing happens.
    expect(await cluster.coordinator.expireStalled(60 * 60_000)).toEqual([]);

    const expired = await cluster.coordinator.expireStalled(0);
    expect(expired.map((e) => [e.stalledIn, e.session.phase])).toEqual([['commit', 'failed']]);
    expect((await cluster.coordinator.getSession(session))?.phase).toBe('failed');
    const [result] = cluster.takeResults();
    expect(result?.type).toBe('sign.result');
    expect(result?.body).toMatchObject({ ok: false, error: { code: 'timeout' } });
    expect(result?.body.error?.message).toContain('phase commit');

    // A second sweep finds nothing left to expire.
    expect(await cluster.coordinator.expireStalled(0)).toEqual([]);
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
