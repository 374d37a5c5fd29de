/**
 * Key lifecycle through the AWS adapters (issue #11): on a development deployment on the
 * emulator (every party in its own account, DynamoDB, KMS and SQS through the real handlers
 * and event-source runners), the SDK refreshes a 2-of-3 key and then reshares it to a set
 * that adds a fourth party's account; then `frostline repair --deployment FILE` restores a
 * party's share from the shell. After keygen and after each step a signature is
 * verified here with node:crypto under the keygen's group key, independently of the SDK.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DevDeployment, openDevDeployment } from '../../lib/dev/dev-deployment.js';
import type { FrostlineClient } from '../../lib/client/client.js';
import { runCliInProcess } from '../support/cli.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');

describe('refresh and reshare on the emulator-backed runners', () => {
  let dir: string;
  let deployment: DevDeployment;
  let client: FrostlineClient;
  let groupKey: string;
  let file: string;

  /** Signs through the deployment and checks the signature with node:crypto under the keygen's key. */
  async function signsUnderGroupKey(text: string): Promise<readonly string[]> {
    const message = new TextEncoder().encode(text);
    const signed = await client.sign({ keyId: 'life', message });
    expect(signed.publicKey).toBe(groupKey);
    expect(verifyWithNodeCrypto(groupKey, message, signed.signatureHex)).toBe(true);
    return signed.signers;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frostline-lifecycle-emulator-'));
    // p4's account exists from the start, holding no share until the reshare adds it.
    deployment = await DevDeployment.create({ endpoint, parties: ['p1', 'p2', 'p3', 'p4'], initiators: ['cli'], keyDir: join(dir, 'keys') });
    file = join(dir, 'deployment.json');
    await deployment.writeFile(file);
    client = await (await openDevDeployment(file)).client('cli', { timeoutMs: 240_000 });
    const key = await client.keygen({ keyId: 'life', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    groupKey = key.publicKey;
    await signsUnderGroupKey('after keygen');
  });

  afterAll(async () => {
    await deployment?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('refresh: epoch 1, same group key, same set; signs', async () => {
    const result = await client.refresh({ keyId: 'life', requestId: 'emu-refresh' });
    expect(result).toMatchObject({ keyId: 'life', epoch: 1, publicKey: groupKey, threshold: 2, parties: ['p1', 'p2', 'p3'], duplicate: false });
    await signsUnderGroupKey('after refresh');
  });

  it('reshare adding p4 (3-of-4): epoch 2, same group key; signs', async () => {
    const result = await client.reshare({ keyId: 'life', parties: ['p1', 'p2', 'p3', 'p4'], threshold: 3, requestId: 'emu-add-p4' });
    expect(result).toMatchObject({ epoch: 2, publicKey: groupKey, threshold: 3, parties: ['p1', 'p2', 'p3', 'p4'] });
    const signers = await signsUnderGroupKey('after reshare');
    expect(signers).toHaveLength(3);
    expect(deployment.stats().total.failed).toBe(0);
  });

  it('frostline repair --deployment FILE: epoch 3, same set; signs', async () => {
    const result = JSON.parse(await runCliInProcess(['repair', '--deployment', file, '--key', 'life', '--party', 'p2', '--json'])) as Record<string, unknown>;
    expect(result).toMatchObject({ ok: true, keyId: 'life', epoch: 3, publicKey: groupKey, threshold: 3, parties: ['p1', 'p2', 'p3', 'p4'] });
    await signsUnderGroupKey('after repair');
  });
});
