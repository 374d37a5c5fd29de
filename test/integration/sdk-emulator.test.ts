/**
 * The initiator SDK end to end on the emulator: two initiators, each with its own key and
 * result queue, reopen the development deployment from its deployment file (as another
 * process would) and keep 24 signing requests in flight at once through the real handlers
 * and event-source runners. Each must get exactly its own results; every signature is
 * verified here with node:crypto, independently of the SDK's own check.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DevDeployment, DevDeploymentConnection, newEmulatorAccountId, openDevDeployment } from '../../lib/dev/dev-deployment.js';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { createKmsClient } from '../../lib/adapters/aws/clients.js';
import { KmsSigner } from '../../lib/adapters/aws/kms-signer.js';
import { queueDepth } from '../../lib/dev/sqs-event-source-runner.js';
import type { FrostlineClient } from '../../lib/client/client.js';
import * as secp from 'tiny-secp256k1';
import { verifyWithNodeCrypto } from '../support/ed25519.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');
const PER_INITIATOR = 12;

describe('initiator SDK on the emulator-backed runners', () => {
  let dir: string;
  let deployment: DevDeployment;
  let connection: DevDeploymentConnection;
  let alice: FrostlineClient;
  let bob: FrostlineClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frostline-sdk-emulator-'));
    deployment = await DevDeployment.create({ endpoint, parties: ['p1', 'p2', 'p3'], initiators: ['alice', 'bob'], keyDir: join(dir, 'keys') });
    const file = join(dir, 'deployment.json');
    await deployment.writeFile(file);
    connection = await openDevDeployment(file);
    alice = await connection.client('alice', { timeoutMs: 180_000 });
    bob = await connection.client('bob', { timeoutMs: 180_000 });
    const key = await alice.keygen({ keyId: 'shared', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    expect(key).toMatchObject({ keyId: 'shared', threshold: 2, parties: ['p1', 'p2', 'p3'], duplicate: false });
  });

  afterAll(async () => {
    await deployment?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(`two initiators with ${2 * PER_INITIATOR} requests in flight each receive exactly their own results`, async () => {
    const requests = Array.from({ length: 2 * PER_INITIATOR }, (_, i) => {
      const who = i % 2 === 0 ? 'alice' : 'bob';
      const message = new TextEncoder().encode(`${who} pays invoice ${i}`);
      const requestId = `${who}-req-${i}`;
      const client = who === 'alice' ? alice : bob;
      return { who, message, requestId, promise: client.sign({ keyId: 'shared', message, requestId }) };
    });
    const results = await Promise.all(requests.map((r) => r.promise));

    const { publicKey } = await bob.getKey('shared');
    for (const [i, result] of results.entries()) {
      const request = requests[i];
      if (request === undefined) throw new Error(`no request ${i}`);
      expect(result.requestId).toBe(request.requestId);
      expect(Buffer.from(result.message).equals(Buffer.from(request.message))).toBe(true);
      expect(result.duplicate).toBe(false);
      expect(result.publicKey).toBe(publicKey);
      expect(result.signers).toHaveLength(2);
      expect(verifyWithNodeCrypto(publicKey, request.message, Buffer.from(result.signature).toString('hex'))).toBe(true);
    }
    // Nothing was left over, released to the wrong initiator, or dead-lettered on the way.
    const sqs = deployment.coordinator.account.clients.sqs;
    for (const id of ['alice', 'bob']) {
      const queues = deployment.coordinator.account.queues[`results-${id}`];
      expect(await queueDepth(sqs, queues?.url ?? '')).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      expect(await queueDepth(sqs, queues?.deadLetterUrl ?? '')).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    }
    expect(deployment.stats().total.failed).toBe(0);
  });

  it('getKey answers through the request queue; an unknown key and a repeated request id are told apart', async () => {
    const key = await alice.getKey('shared');
    expect(key).toMatchObject({ keyId: 'shared', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    await expect(bob.getKey('no-such-key')).rejects.toMatchObject({ name: 'UnknownKeyError', code: 'unknown-key' });

    const message = new TextEncoder().encode('exactly once');
    const first = await bob.sign({ keyId: 'shared', message, requestId: 'bob-once' });
    const again = await bob.sign({ keyId: 'shared', message, requestId: 'bob-once' });
    expect(again).toMatchObject({ duplicate: true, signatureHex: first.signatureHex });
    await expect(bob.sign({ keyId: 'shared', message: new TextEncoder().encode('something else'), requestId: 'bob-once' })).rejects.toMatchObject({
      name: 'RequestConflictError',
    });
  });

  it('a key per suite (secp256k1-tr, ed448): one keygen and one signature each, verified here by libsecp256k1 and OpenSSL', async () => {
    const digest = new Uint8Array(createHash('sha256').update('taproot spend').digest());
    const tr = await alice.keygen({ keyId: 'tr', threshold: 2, parties: ['p1', 'p2', 'p3'], suite: 'secp256k1-tr' });
    expect(tr).toMatchObject({ suite: 'secp256k1-tr', publicKey: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const trSigned = await alice.sign({ keyId: 'tr', message: digest });
    expect(trSigned.suite).toBe('secp256k1-tr');
    expect(secp.verifySchnorr(digest, Buffer.from(tr.publicKey, 'hex'), trSigned.signature)).toBe(true);

    const ed448 = await alice.keygen({ keyId: 'e448', threshold: 2, parties: ['p1', 'p2', 'p3'], suite: 'ed448' });
    expect(ed448).toMatchObject({ suite: 'ed448', publicKey: expect.stringMatching(/^[0-9a-f]{114}$/) });
    const message = new TextEncoder().encode('ed448 on the emulator');
    const edSigned = await alice.sign({ keyId: 'e448', message });
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('3043300506032b6571033a00', 'hex'), Buffer.from(ed448.publicKey, 'hex')]), format: 'der', type: 'spki' });
    expect(verify(null, message, spki, edSigned.signature)).toBe(true);
  });

  it('a client refuses a key directory whose key is not the one pinned for its initiator', async () => {
    const file = connection.file;
    const bobKeys = file.initiators.bob?.keyDir ?? '';
    const aliceEntry = file.initiators.alice;
    if (aliceEntry === undefined) throw new Error('no alice in the deployment file');
    const swapped = new DevDeploymentConnection({ ...file, initiators: { ...file.initiators, alice: { ...aliceEntry, keyDir: bobKeys } } });
    await expect(swapped.client('alice')).rejects.toMatchObject({ code: 'config' });
    await expect(connection.client('mallory')).rejects.toMatchObject({ code: 'config' });
  });
});

describe('KmsSigner: an initiator key held in KMS', () => {
  it('signs in KMS; node:crypto verifies against the public key it reports for pinning', async () => {
    const kms = createKmsClient({ endpoint, region: 'eu-west-1', accountId: newEmulatorAccountId() });
    // moto has no Ed25519 KMS keys; P-256 is the documented alternative.
    const created = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    const signer = new KmsSigner({ client: kms, keyId: created.KeyMetadata?.Arn ?? '', algorithm: 'p256' });
    const publicKey = await signer.identityPublicKey();
    expect(publicKey.alg).toBe('p256');
    const message = new TextEncoder().encode('request bytes');
    const signature = await signer.signIdentity(message);
    const key = createPublicKey({ key: Buffer.from(publicKey.spki, 'hex'), format: 'der', type: 'spki' });
    expect(verify('sha256', message, key, signature)).toBe(true);
    // The wrong algorithm for the key is caught before anything is pinned.
    await expect(new KmsSigner({ client: kms, keyId: created.KeyMetadata?.Arn ?? '' }).identityPublicKey()).rejects.toMatchObject({ code: 'config' });
  });
});
