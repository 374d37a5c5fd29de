import { createPublicKey, verify } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileKeyVault } from '../../../lib/adapters/local/file-key-vault.js';
import { ConfigError } from '../../../lib/ports/errors.js';

const context = { service: 'frostline', party: 'p1', keyId: 'k1', purpose: 'share' };

function publicKeyOf(spkiHex: string) {
  return createPublicKey({ key: Buffer.from(spkiHex, 'hex'), format: 'der', type: 'spki' });
}

describe('FileKeyVault', () => {
  let dir: string;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'frostline-vault-')), 'vault');
  });
  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('creates the directory 0700 and both key files 0600', async () => {
    await FileKeyVault.open(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'master.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'identity.pem'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, 'master.key'))).length).toBe(32);
  });

  it('reopening keeps the same keys', async () => {
    const first = await FileKeyVault.open(dir);
    const key = await first.generateDataKey(context);
    const second = await FileKeyVault.open(dir);
    expect(await second.identityPublicKey()).toEqual(await first.identityPublicKey());
    expect(await second.decryptDataKey(key.encrypted, context)).toEqual(key.plaintext);
  });

  it('round-trips a data key; context key order does not matter', async () => {
    const vault = await FileKeyVault.open(dir);
    const key = await vault.generateDataKey(context);
    expect(key.plaintext).toHaveLength(32);
    expect(key.encrypted).toHaveLength(1 + 12 + 32 + 16);
    expect(key.encrypted[0]).toBe(1);
    const reordered = { purpose: 'share', keyId: 'k1', party: 'p1', service: 'frostline' };
    expect(await vault.decryptDataKey(key.encrypted, reordered)).toEqual(key.plaintext);
    const other = await vault.generateDataKey(context);
    expect(other.plaintext).not.toEqual(key.plaintext);
  });

  it('a wrong context fails with decrypt-failed and does not echo the context', async () => {
    const vault = await FileKeyVault.open(dir);
    const key = await vault.generateDataKey(context);
    const attempt = vault.decryptDataKey(key.encrypted, { ...context, keyId: 'secret-looking-k2' });
    await expect(attempt).rejects.toMatchObject({
      code: 'decrypt-failed',
      message: 'data key could not be decrypted under this context',
    });
    await expect(vault.decryptDataKey(key.encrypted, {})).rejects.toMatchObject({ code: 'decrypt-failed' });
  });

  it('a tampered blob fails, whichever byte is flipped', async () => {
    const vault = await FileKeyVault.open(dir);
    const key = await vault.generateDataKey(context);
    for (const index of [0, 1, 13, 30, key.encrypted.length - 1]) {
      const tampered = Uint8Array.from(key.encrypted);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      await expect(vault.decryptDataKey(tampered, context)).rejects.toMatchObject({ code: 'decrypt-failed' });
    }
    await expect(vault.decryptDataKey(key.encrypted.subarray(0, 40), context)).rejects.toMatchObject({
      code: 'decrypt-failed',
    });
  });

  it('a different master key cannot open the blob', async () => {
    const vault = await FileKeyVault.open(dir);
    const key = await vault.generateDataKey(context);
    const otherDir = join(dir, '..', 'other');
    const other = await FileKeyVault.open(otherDir);
    await expect(other.decryptDataKey(key.encrypted, context)).rejects.toMatchObject({ code: 'decrypt-failed' });
  });

  it('reads the master key per call: replacing the file changes what decrypts', async () => {
    const vault = await FileKeyVault.open(dir);
    const key = await vault.generateDataKey(context);
    await writeFile(join(dir, 'master.key'), Buffer.alloc(32, 7), { mode: 0o600 });
    await expect(vault.decryptDataKey(key.encrypted, context)).rejects.toMatchObject({ code: 'decrypt-failed' });
  });

  it('Ed25519 (default) identity signatures verify against the SPKI', async () => {
    const vault = await FileKeyVault.open(dir);
    const pub = await vault.identityPublicKey();
    expect(pub.alg).toBe('ed25519');
    const message = new TextEncoder().encode('envelope bytes');
    const signature = await vault.signIdentity(message);
    expect(signature).toHaveLength(64);
    expect(verify(null, message, publicKeyOf(pub.spki), signature)).toBe(true);
    expect(verify(null, new TextEncoder().encode('other'), publicKeyOf(pub.spki), signature)).toBe(false);
  });

  it('P-256 identity signatures (DER, SHA-256) verify against the SPKI', async () => {
    const vault = await FileKeyVault.open(dir, { algorithm: 'p256' });
    const pub = await vault.identityPublicKey();
    expect(pub.alg).toBe('p256');
    const spki = publicKeyOf(pub.spki);
    expect(spki.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const message = new TextEncoder().encode('envelope bytes');
    const signature = await vault.signIdentity(message);
    expect(signature[0]).toBe(0x30); // DER SEQUENCE
    expect(verify('sha256', message, spki, signature)).toBe(true);
    // The algorithm of an existing key is detected, and a mismatching request refused.
    expect((await (await FileKeyVault.open(dir)).identityPublicKey()).alg).toBe('p256');
    await expect(FileKeyVault.open(dir, { algorithm: 'ed25519' })).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses a master key file readable by group or others', async () => {
    await FileKeyVault.open(dir);
    await chmod(join(dir, 'master.key'), 0o644);
    const open = FileKeyVault.open(dir);
    await expect(open).rejects.toBeInstanceOf(ConfigError);
    await expect(open).rejects.toThrow(/chmod 600/);
  });

  it('refuses a master key of the wrong length', async () => {
    await FileKeyVault.open(dir);
    await writeFile(join(dir, 'master.key'), Buffer.alloc(16, 1), { mode: 0o600 });
    await expect(FileKeyVault.open(dir)).rejects.toThrow(/exactly 32 bytes/);
  });

  it('refuses to mint a new master key next to an existing identity', async () => {
    await FileKeyVault.open(dir);
    await unlink(join(dir, 'master.key'));
    await expect(FileKeyVault.open(dir)).rejects.toThrow(/master\.key is missing/);
  });

  it('prints as redacted', async () => {
    const vault = await FileKeyVault.open(dir);
    expect(JSON.stringify({ vault })).toBe('{"vault":"<FileKeyVault redacted>"}');
    expect(inspect(vault)).toBe('<FileKeyVault redacted>');
  });
});
