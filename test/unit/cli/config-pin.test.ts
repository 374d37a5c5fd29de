import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, test } from 'vitest';
import { pinIdentityKeys, type PinKmsClient } from '../../../lib/cli/config-pin.js';
import { loadDeploymentConfig, missingPins } from '../../../lib/config/deployment.js';

const dir = mkdtempSync(join(tmpdir(), 'frostline-pin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function unpinnedCopy(): string {
  const file = join(dir, `config-${Math.random().toString(16).slice(2)}.json`);
  copyFileSync(join(process.cwd(), 'deploy', 'example.config.json'), file);
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete json.pinned;
  writeFileSync(file, JSON.stringify(json, null, 2));
  return file;
}

/** A fake KMS: one Ed25519 key per key id, GetPublicKey only; records who was asked. */
function fakeKms() {
  const keys = new Map<string, Buffer>();
  const calls: { account: string; region: string; keyId: string }[] = [];
  const factory = (account: string, region: string): PinKmsClient => ({
    send: (async (command: GetPublicKeyCommand) => {
      const keyId = String(command.input.KeyId);
      calls.push({ account, region, keyId });
      let spki = keys.get(keyId);
      if (spki === undefined) {
        spki = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
        keys.set(keyId, spki);
      }
      return { KeyId: keyId, KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', PublicKey: new Uint8Array(spki) };
    }) as PinKmsClient['send'],
  });
  return { factory, calls, keys };
}

describe('frostline config pin', () => {
  test('fetches every party, coordinator and KMS initiator key by alias ARN and writes them', async () => {
    const file = unpinnedCopy();
    expect(missingPins(await loadDeploymentConfig(file))).toHaveLength(5);
    const kms = fakeKms();
    const result = await pinIdentityKeys(file, { kmsClient: kms.factory });
    expect(result.written).toBe(true);
    expect(Object.keys(result.keys).sort()).toEqual(['pinned.coordinator', 'pinned.initiators.treasury', 'pinned.parties.p1', 'pinned.parties.p2', 'pinned.parties.p3']);
    expect(kms.calls).toContainEqual({ account: '222222222222', region: 'eu-central-1', keyId: 'arn:aws:kms:eu-central-1:222222222222:alias/frostline/p2/identity' });
    expect(kms.calls).toContainEqual({ account: '666666666666', region: 'eu-west-1', keyId: 'arn:aws:kms:eu-west-1:666666666666:alias/treasury-request-signing' });
    const config = await loadDeploymentConfig(file);
    expect(missingPins(config)).toEqual([]);
    // Pinning again changes nothing; a rotated key is refused unless replace is given.
    expect((await pinIdentityKeys(file, { kmsClient: kms.factory })).written).toBe(false);
    kms.keys.set('arn:aws:kms:eu-west-1:111111111111:alias/frostline/p1/identity', generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }));
    await expect(pinIdentityKeys(file, { kmsClient: kms.factory })).rejects.toThrow(/pinned\.parties\.p1: KMS now holds a different key/);
    const replaced = await pinIdentityKeys(file, { kmsClient: kms.factory, replace: true });
    expect(replaced.keys['pinned.parties.p1']?.status).toBe('replaced');
  });

  test('a key of the wrong kind is refused, with every failure listed', async () => {
    const file = unpinnedCopy();
    const factory = (): PinKmsClient => ({
      send: (async () => ({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', PublicKey: new Uint8Array(91) })) as PinKmsClient['send'],
    });
    await expect(pinIdentityKeys(file, { kmsClient: factory })).rejects.toThrow(/4 problems|5 problems/);
  });
});
