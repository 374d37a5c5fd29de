/**
 * End to end on the emulator: every party and the coordinator in a separate emulated
 * account, with real queues, tables and KMS keys, and the real Lambda handlers driven by
 * the event-source runner. Every signature is verified with node:crypto.
 */
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queueDepth } from '../../lib/dev/sqs-event-source-runner.js';
import { DynamoItemBackend } from '../../lib/adapters/aws/dynamodb-backend.js';
import { runtimeEnvironment } from '../../lib/config/runtime.js';
import type { Transport } from '../../lib/ports/transport.js';
import { SealedBlob, openSecret, secretContext } from '../../lib/protocol/sealed-item.js';
import { withSecretScope } from '../../lib/protocol/secret-scope.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { EmulatedDeployment, kmsVault } from '../support/emulated-deployment.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');
const text = (s: string) => new TextEncoder().encode(s);

/** The nonce items of one signing session in a party's table, by sort key. */
async function nonceItems(deployment: EmulatedDeployment, party: string, session: string) {
  const node = deployment.party(party);
  const items = await new DynamoItemBackend(node.account.clients.dynamodb, node.account.tableName).scanPrefix(`nonce#${session}#`);
  return { nonces: items.filter((i) => i.sk === 'nonce'), consumed: items.filter((i) => i.sk === 'consumed') };
}

/** A party's pool items of `keyId`: unused nonces, spent nonces (the record of what each was spent on, in the nonce's own item), batch records. */
async function poolItems(deployment: EmulatedDeployment, party: string, keyId: string) {
  const node = deployment.party(party);
  const items = await new DynamoItemBackend(node.account.clients.dynamodb, node.account.tableName).query(`pool#${keyId}`);
  const nonceItems = items.filter((i) => i.sk.startsWith('nonce#'));
  return { nonces: nonceItems.filter((i) => i.data.state !== 'spent'), spent: nonceItems.filter((i) => i.data.state === 'spent'), batches: items.filter((i) => i.sk.startsWith('batch#')) };
}

describe('2-of-3 across emulated accounts', () => {
  let deployment: EmulatedDeployment;
  /** When set, the coordinator sends every message to the parties twice (SQS at-least-once). */
  let duplicate = false;
  let publicKey = '';

  beforeAll(async () => {
    deployment = await EmulatedDeployment.create({
      endpoint,
      parties: ['p1', 'p2', 'p3'],
      transport: (node, transport): Transport =>
        node !== 'coordinator'
          ? transport
          : {
              async send(destination, body) {
                await transport.send(destination, body);
                if (duplicate && destination.kind === 'party') await transport.send(destination, body);
              },
            },
      // p1 runs exactly as deployed: functions/party-inbox.ts, configured from the environment.
      partyHandler: async (id, config) => {
        if (id !== 'p1') return undefined;
        Object.assign(process.env, runtimeEnvironment(config), { AWS_ENDPOINT_URL: endpoint, POWERTOOLS_LOG_LEVEL: 'SILENT' });
        const entry = await import('../../functions/party-inbox.js');
        return entry.handler;
      },
    });
    const keygen = await deployment.keygen({ keyId: 'k1', threshold: 2 });
    expect(keygen).toMatchObject({ ok: true, threshold: 2, parties: ['p1', 'p2', 'p3'] });
    publicKey = keygen.publicKey ?? '';
  });
  afterAll(async () => {
    await deployment?.close();
  });

  it('signs; node:crypto verifies the signature', async () => {
    const message = text('hello from three accounts');
    const { results } = await deployment.sign({ keyId: 'k1', message });
    expect(results).toHaveLength(1);
    const [result] = results;
    expect(result).toMatchObject({ ok: true, publicKey });
    expect(result?.signers).toHaveLength(2);
    expect(verifyWithNodeCrypto(publicKey, message, result?.signature ?? '')).toBe(true);
  });

  it('a repeated requestId returns the same signature, never a second signing', async () => {
    const message = text('once only');
    const first = await deployment.sign({ keyId: 'k1', message, requestId: 'req-once' });
    const again = await deployment.sign({ keyId: 'k1', message, requestId: 'req-once' });
    expect(again.session).toBe(first.session);
    expect(again.results).toEqual([{ ...first.results[0], duplicate: true }]);
    for (const party of ['p1', 'p2', 'p3']) {
      expect((await nonceItems(deployment, party, first.session)).consumed.length).toBeLessThanOrEqual(1);
    }
  });

  it('a stored share item holds only a sealed blob: its own vault opens it, another context or account does not', async () => {
    const node = deployment.party('p1');
    const key = { pk: 'key#k1', sk: 'share' };
    const raw = await node.account.clients.dynamodb.send(
      new GetItemCommand({ TableName: node.account.tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
    );
    expect(Object.keys(raw.Item ?? {}).sort()).toEqual(['data', 'pk', 'sk', 'version']);
    const data = JSON.parse(raw.Item?.data?.S ?? '{}') as { share: unknown; identifier: string; publicPackage: { verifyingShares: Record<string, string> } };
    const blob = SealedBlob.parse(data.share); // strict: dataKey, iv, ciphertext and nothing else

    const vault = kmsVault(node.account);
    const shareHex = await withSecretScope(async (scope) => {
      const share = await openSecret(vault, secretContext('p1', 'k1', 'key-share'), key, blob, scope);
      return Buffer.from(share).toString('hex');
    });
    // The decrypted bytes really are p1's share (share·G is its published verifying share)...
    const Point = ed25519.Point;
    const scalar = Point.Fn.fromBytes(Buffer.from(shareHex, 'hex'));
    expect(Point.BASE.multiply(scalar).toHex()).toBe(data.publicPackage.verifyingShares[data.identifier]);
    // ...and appear nowhere in p1's table, in hex or base64.
    const scan = JSON.stringify(await node.account.clients.dynamodb.send(new ScanCommand({ TableName: node.account.tableName })));
    expect(scan).not.toContain(shareHex);
    expect(scan).not.toContain(Buffer.from(shareHex, 'hex').toString('base64'));

    await expect(
      withSecretScope((scope) => openSecret(vault, secretContext('p1', 'k1', 'nonce'), key, blob, scope)),
    ).rejects.toMatchObject({ code: 'decrypt-failed' });
    await expect(
      withSecretScope((scope) => openSecret(vault, secretContext('p2', 'k1', 'key-share'), key, blob, scope)),
    ).rejects.toMatchObject({ code: 'decrypt-failed' });
    // Another party's account cannot use p1's master key at all (moto: AccessDenied; AWS: IncorrectKey).
    const other = kmsVault(deployment.party('p2').account);
    await expect(withSecretScope((scope) => openSecret(other, secretContext('p1', 'k1', 'key-share'), key, blob, scope))).rejects.toThrow();
  });

  it('duplicated deliveries of every message to a party never spend a nonce twice: two rounds (a fresh key), then one round (its pools)', async () => {
    const keygen = await deployment.keygen({ keyId: 'k2', threshold: 2 });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    const k2 = keygen.publicKey ?? '';
    duplicate = true;
    try {
      // The key's first signature: no pools yet, two rounds.
      const message = text('delivered twice');
      const { session, results } = await deployment.sign({ keyId: 'k2', message });
      expect(results).toHaveLength(1);
      const [result] = results;
      expect(result?.ok).toBe(true);
      expect(verifyWithNodeCrypto(k2, message, result?.signature ?? '')).toBe(true);
      const signers = result?.signers ?? [];
      expect(signers).toHaveLength(2);
      for (const party of ['p1', 'p2', 'p3']) {
        const { nonces, consumed } = await nonceItems(deployment, party, session);
        // One nonce per attempt, drawn once, however many sign.commit copies arrived.
        expect(nonces.length + consumed.length).toBe(1);
        if (signers.includes(party)) {
          expect(consumed.map((i) => i.pk)).toEqual([`nonce#${session}#1`]);
          expect(nonces).toEqual([]);
        } else {
          expect(consumed).toEqual([]);
        }
      }
      expect(await deployment.coordinator.coordinator.getSession(session)).toMatchObject({ phase: 'done', attempt: 1 });

      // The next: one round from the pools (each refill delivered twice made one batch per party).
      const before = await Promise.all(['p1', 'p2', 'p3'].map((party) => poolItems(deployment, party, 'k2')));
      for (const items of before) expect(items.batches).toHaveLength(1);
      const pooledMessage = text('one round, delivered twice');
      const pooled = await deployment.sign({ keyId: 'k2', message: pooledMessage });
      const [pooledResult] = pooled.results;
      expect(pooledResult?.ok).toBe(true);
      expect(verifyWithNodeCrypto(k2, pooledMessage, pooledResult?.signature ?? '')).toBe(true);
      expect(await deployment.coordinator.coordinator.getSession(pooled.session)).toMatchObject({ phase: 'done', attempt: 1, pooled: expect.any(Object) });
      for (const [i, party] of ['p1', 'p2', 'p3'].entries()) {
        const after = await poolItems(deployment, party, 'k2');
        // A signer spent exactly one pool nonce (one spent record, one nonce fewer); the others none.
        const spent = (pooledResult?.signers ?? []).includes(party) ? 1 : 0;
        expect(after.spent.length - (before[i]?.spent.length ?? 0)).toBe(spent);
        expect((before[i]?.nonces.length ?? 0) - after.nonces.length).toBe(spent);
      }
    } finally {
      duplicate = false;
    }
  });

  it('request intake acknowledges what is not a request, without dead-lettering it', async () => {
    const sqs = deployment.coordinator.account.clients.sqs;
    const queueUrl = deployment.coordinator.requestQueueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not json at all' }));
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ v: 1, type: 'sign.share', session: '0'.repeat(32), id: '1'.repeat(32) }) }),
    );
    await deployment.run();
    const dlq = deployment.coordinator.account.queues.requests?.deadLetterUrl ?? '';
    expect(await queueDepth(sqs, dlq)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});

describe('3-of-5 across emulated accounts', () => {
  let deployment: EmulatedDeployment;
  beforeAll(async () => {
    deployment = await EmulatedDeployment.create({ endpoint, parties: ['p1', 'p2', 'p3', 'p4', 'p5'] });
  });
  afterAll(async () => {
    await deployment?.close();
  });

  it('keygen, then two concurrent signatures that node:crypto verifies', async () => {
    const keygen = await deployment.keygen({ keyId: 'treasury', threshold: 3 });
    expect(keygen).toMatchObject({ ok: true, threshold: 3, parties: ['p1', 'p2', 'p3', 'p4', 'p5'] });
    const publicKey = keygen.publicKey ?? '';

    const messages = [text('pay 1'), text('pay 2')];
    const sessions = await Promise.all(messages.map((message) => deployment.initiator.requestSignature({ keyId: 'treasury', message })));
    await deployment.run();
    const results = await deployment.takeResults();
    expect(results).toHaveLength(2);
    for (const [i, session] of sessions.entries()) {
      const result = results.find((r) => r.session === session);
      expect(result?.type).toBe('sign.result');
      if (result?.type !== 'sign.result') continue;
      expect(result.body).toMatchObject({ ok: true, publicKey });
      expect(result.body.signers).toHaveLength(3);
      expect(verifyWithNodeCrypto(publicKey, messages[i] ?? new Uint8Array(), result.body.signature ?? '')).toBe(true);
    }
  });
});
