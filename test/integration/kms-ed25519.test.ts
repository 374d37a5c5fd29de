/**
 * The production identity key spec — KMS ECC_NIST_EDWARDS25519, signing ED25519_SHA_512
 * over RAW messages — against ministack (moto has no Ed25519 KMS keys), started once by
 * test/global-setup.emulator.ts next to moto. First the key vault alone, then a whole
 * development deployment whose coordinator and parties all hold Ed25519 identity keys in
 * their own emulated accounts: keygen and signing through the real handlers, every
 * protocol message signed by KMS and verified by its receivers against the pinned keys.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand, SignCommand } from '@aws-sdk/client-kms';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients, createKmsClient } from '../../lib/adapters/aws/clients.js';
import { DevDeployment, newEmulatorAccountId } from '../../lib/dev/dev-deployment.js';
import { DynamoItemBackend } from '../../lib/adapters/aws/dynamodb-backend.js';
import { KMS_MAX_RAW_SIGN_BYTES, KmsKeyVault } from '../../lib/adapters/aws/kms-key-vault.js';
import { createIdentityKey, createPartyTable, createQueueWithDeadLetters } from '../../lib/dev/provision.js';
import { queueDepth } from '../../lib/dev/sqs-event-source-runner.js';
import type { FrostlineClient } from '../../lib/client/client.js';
import { ConditionFailedError, InfrastructureError } from '../../lib/ports/errors.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('ministackEndpoint');
const REGION = 'eu-west-1';
const text = (s: string) => new TextEncoder().encode(s);

async function identityVault(accountId: string): Promise<{ vault: KmsKeyVault; keyId: string }> {
  const kms = createKmsClient({ endpoint, region: REGION, accountId });
  const master = (await kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata?.Arn;
  if (master === undefined) throw new Error('CreateKey returned no ARN');
  const identity = await createIdentityKey(kms, 'ed25519', `test identity ${accountId}`, endpoint);
  // No fallback: ministack has Ed25519 keys (when `cryptography` is installed next to it).
  expect(identity.algorithm).toBe('ed25519');
  return {
    vault: new KmsKeyVault({ client: kms, masterKeyId: master, identityKeyId: identity.keyId, identityAlgorithm: identity.algorithm }),
    keyId: identity.keyId,
  };
}

const spkiKey = (spkiHex: string) => createPublicKey({ key: Buffer.from(spkiHex, 'hex'), format: 'der', type: 'spki' });

describe('KmsKeyVault with an Ed25519 identity key on ministack', () => {
  const accountA = newEmulatorAccountId();
  const accountB = newEmulatorAccountId();
  let a: { vault: KmsKeyVault; keyId: string };
  let b: { vault: KmsKeyVault; keyId: string };
  beforeAll(async () => {
    [a, b] = await Promise.all([identityVault(accountA), identityVault(accountB)]);
  });

  it('createIdentityKey makes an ECC_NIST_EDWARDS25519 SIGN_VERIFY key offering ED25519_SHA_512', async () => {
    const kms = createKmsClient({ endpoint, region: REGION, accountId: accountA });
    const metadata = (await kms.send(new DescribeKeyCommand({ KeyId: a.keyId }))).KeyMetadata;
    expect(metadata?.KeySpec ?? metadata?.CustomerMasterKeySpec).toBe('ECC_NIST_EDWARDS25519');
    expect(metadata?.KeyUsage).toBe('SIGN_VERIFY');
    expect(metadata?.SigningAlgorithms).toContain('ED25519_SHA_512');
  });

  it('signs RAW with ED25519_SHA_512; node:crypto verifies against the SPKI from GetPublicKey', async () => {
    const identity = await a.vault.identityPublicKey();
    expect(identity.alg).toBe('ed25519');
    const key = spkiKey(identity.spki);
    expect(key.asymmetricKeyType).toBe('ed25519');
    const message = text('frostline/envelope/v1\u0000 a digest stands here');
    const signature = await a.vault.signIdentity(message);
    expect(signature).toHaveLength(64);
    expect(verify(null, message, key, signature)).toBe(true);
    expect(verify(null, text('tampered'), key, signature)).toBe(false);
    // Pure Ed25519 is deterministic: the same message gives the same signature.
    expect(Buffer.from(await a.vault.signIdentity(message)).equals(Buffer.from(signature))).toBe(true);
    // Another account's identity key does not verify it.
    expect(verify(null, message, spkiKey((await b.vault.identityPublicKey()).spki), signature)).toBe(false);
  });

  it(`signs a message of exactly ${KMS_MAX_RAW_SIGN_BYTES} bytes, the RAW limit`, async () => {
    const message = new Uint8Array(KMS_MAX_RAW_SIGN_BYTES).fill(7);
    const signature = await a.vault.signIdentity(message);
    expect(verify(null, message, spkiKey((await a.vault.identityPublicKey()).spki), signature)).toBe(true);
    await expect(a.vault.signIdentity(new Uint8Array(KMS_MAX_RAW_SIGN_BYTES + 1))).rejects.toMatchObject({ code: 'message-too-large' });
  });

  it("another account cannot sign with a party's identity key", async () => {
    const kmsB = createKmsClient({ endpoint, region: REGION, accountId: accountB });
    const error: unknown = await kmsB
      .send(new SignCommand({ KeyId: a.keyId, Message: text('forged'), MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NotFoundException' });
  });

  it('refuses the Ed25519 key when configured as p256', async () => {
    const kms = createKmsClient({ endpoint, region: REGION, accountId: accountA });
    const vault = new KmsKeyVault({ client: kms, masterKeyId: a.keyId, identityKeyId: a.keyId, identityAlgorithm: 'p256' });
    await expect(vault.identityPublicKey()).rejects.toMatchObject({ code: 'config' });
  });

  it('envelope encryption: round trip, and a different encryption context is refused', async () => {
    const context = { service: 'frostline', party: 'p1', keyId: 'k1', purpose: 'share' };
    const key = await a.vault.generateDataKey(context);
    const opened = await a.vault.decryptDataKey(key.encrypted, context);
    expect(Buffer.from(opened).equals(Buffer.from(key.plaintext))).toBe(true);
    await expect(a.vault.decryptDataKey(key.encrypted, { ...context, purpose: 'nonce' })).rejects.toMatchObject({ code: 'decrypt-failed' });
    key.plaintext.fill(0);
    opened.fill(0);
  });
});

/** What the deployment below relies on, checked on its own so that a ministack bump that breaks it says so plainly. */
describe('ministack DynamoDB and SQS semantics a deployment relies on', () => {
  const clients = createAwsClients({ endpoint, region: REGION, accountId: newEmulatorAccountId() });

  it('TransactWriteItems: all or nothing when one condition fails (ConditionFailedError)', async () => {
    const table = `party-${randomUUID()}`;
    await createPartyTable(clients.dynamodb, table);
    const backend = new DynamoItemBackend(clients.dynamodb, table);
    const now = 1_800_000_000;
    const existing = { pk: 'nonce#a', sk: 'a', data: { n: 1 }, version: 1 };
    const newcomer = { pk: 'nonce#b', sk: 'b', data: { n: 2 }, version: 1 };
    await backend.write([{ op: 'put', item: existing, condition: { kind: 'absent' } }], now);
    await expect(
      backend.write(
        [
          { op: 'put', item: newcomer, condition: { kind: 'absent' } },
          { op: 'delete', key: existing, condition: { kind: 'version', version: 7 } },
        ],
        now,
      ),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await backend.get(newcomer)).toBeUndefined();
    expect(await backend.get(existing)).toEqual(existing);
  });

  it('SQS redrive: a message received maxReceiveCount times moves to the dead-letter queue', async () => {
    const queue = await createQueueWithDeadLetters(clients.sqs, `redrive-${randomUUID()}`, { maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'poison' }));
    const receive = async () =>
      (await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, VisibilityTimeout: 0, WaitTimeSeconds: 0 }))).Messages ?? [];
    expect(await receive()).toHaveLength(1);
    expect(await receive()).toHaveLength(1);
    expect(await receive()).toHaveLength(0);
    const dead = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.deadLetterUrl, WaitTimeSeconds: 1 }));
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
  });
});

describe('a development deployment on ministack: every identity key is a KMS Ed25519 key', () => {
  let dir: string;
  let deployment: DevDeployment;
  let client: FrostlineClient;
  const failures: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frostline-ministack-'));
    deployment = await DevDeployment.create({
      endpoint,
      parties: ['p1', 'p2', 'p3'],
      keyDir: join(dir, 'keys'),
      onFailure: (node, failure) => failures.push(`${node}: ${failure.reason}`),
    });
    client = await deployment.client(undefined, { timeoutMs: 180_000 });
  });

  afterAll(async () => {
    await deployment?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('the coordinator and every party pinned an Ed25519 key read from its own KMS', () => {
    expect(deployment.directory.coordinator.alg).toBe('ed25519');
    for (const id of ['p1', 'p2', 'p3']) {
      expect(deployment.directory.parties[id]?.alg).toBe('ed25519');
      expect(deployment.party(id).account.identityAlgorithm).toBe('ed25519');
    }
    const accounts = new Set([deployment.coordinator.account.accountId, ...['p1', 'p2', 'p3'].map((id) => deployment.party(id).account.accountId)]);
    expect(accounts.size).toBe(4);
  });

  it('keygen 2-of-3 and two signatures; node:crypto verifies them; nothing failed or was dead-lettered', async () => {
    const key = await client.keygen({ keyId: 'treasury', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    expect(key).toMatchObject({ keyId: 'treasury', threshold: 2, parties: ['p1', 'p2', 'p3'], duplicate: false });

    const messages = [text('pay invoice 1'), text('pay invoice 2')];
    const results = await Promise.all(messages.map((message, i) => client.sign({ keyId: 'treasury', message, requestId: `invoice-${i}` })));
    for (const [i, result] of results.entries()) {
      expect(result.publicKey).toBe(key.publicKey);
      expect(result.signers).toHaveLength(2);
      expect(verifyWithNodeCrypto(key.publicKey, messages[i] ?? new Uint8Array(), Buffer.from(result.signature).toString('hex'))).toBe(true);
    }
    // A repeated request id answers from the stored result.
    const again = await client.sign({ keyId: 'treasury', message: messages[0] ?? new Uint8Array(), requestId: 'invoice-0' });
    expect(again.duplicate).toBe(true);
    expect(Buffer.from(again.signature).equals(Buffer.from(results[0]?.signature ?? []))).toBe(true);

    expect(failures).toEqual([]);
    expect(deployment.stats().total).toMatchObject({ failed: 0, refused: 0 });
    const dlqs = [
      ...['p1', 'p2', 'p3'].map((id) => [deployment.party(id).account.clients.sqs, deployment.party(id).account.queues.inbox?.deadLetterUrl] as const),
      ...Object.values(deployment.coordinator.account.queues).map((q) => [deployment.coordinator.account.clients.sqs, q.deadLetterUrl] as const),
    ];
    for (const [sqs, url] of dlqs) expect(await queueDepth(sqs, url ?? '')).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it("another party's account cannot use a party's KMS master key (its shares stay sealed to it)", async () => {
    const p1 = deployment.party('p1').account;
    const p2Kms = deployment.party('p2').account.clients.kms;
    const error: unknown = await new KmsKeyVault({
      client: p2Kms,
      masterKeyId: p1.masterKeyId,
      identityKeyId: p1.identityKeyId,
      identityAlgorithm: 'ed25519',
    })
      .generateDataKey({ service: 'frostline', party: 'p1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(String(error)).toContain('NotFoundException');
  });
});
