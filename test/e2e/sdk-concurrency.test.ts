import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalCluster } from '../../lib/dev/cluster.js';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function opensslVerifies(publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, message, key, signature);
}

describe('initiator SDK on the local cluster', () => {
  let dataDir: string;
  let cluster: LocalCluster;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'frostline-sdk-'));
    cluster = await LocalCluster.open({ dataDir, parties: 3, initiators: ['alice', 'bob'] });
    cluster.serve();
    await cluster.client('alice').keygen({ keyId: 'shared', threshold: 2, parties: ['p1', 'p2', 'p3'] });
  }, 300_000);

  afterAll(async () => {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('two initiators with 24 requests in flight each receive exactly their own results', async () => {
    // 24 signatures queued behind one another on a loaded 2-core machine took 56 s of a 60 s
    // client timeout: what is checked is which results arrive, not how fast, so the
    // budget is generous.
    const alice = cluster.client('alice', { timeoutMs: 480_000 });
    const bob = cluster.client('bob', { timeoutMs: 480_000 });
    const requests = Array.from({ length: 24 }, (_, i) => {
      const client = i % 2 === 0 ? alice : bob;
      const message = new TextEncoder().encode(`${i % 2 === 0 ? 'alice' : 'bob'} message ${i}`);
      return { message, requestId: `req-${i}`, promise: client.sign({ keyId: 'shared', message, requestId: `req-${i}` }) };
    });
    const results = await Promise.all(requests.map((r) => r.promise));
    results.forEach((result, i) => {
      const request = requests[i];
      if (request === undefined) throw new Error('missing request');
      expect(result.requestId).toBe(request.requestId);
      expect(Buffer.from(result.message).equals(Buffer.from(request.message))).toBe(true);
      expect(result.duplicate).toBe(false);
      expect(opensslVerifies(result.publicKey, request.message, result.signature)).toBe(true);
    });
  }, 600_000);

  test('getKey returns the group key; an unknown key is a typed error', async () => {
    const client = cluster.client('bob');
    const key = await client.getKey('shared');
    expect(key.threshold).toBe(2);
    expect(key.publicKey).toMatch(/^[0-9a-f]{64}$/);
    await expect(client.getKey('nope')).rejects.toMatchObject({ name: 'UnknownKeyError', code: 'unknown-key' });
  });
});
