/** Two-round nonces at rest (sign/nonce-sealing.ts): sealed under the share's data key, old records still open. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyVault } from '../../../../lib/adapters/local/file-key-vault.js';
import { FrostlineError } from '../../../../lib/ports/errors.js';
import type { EncryptionContext, KeyVault } from '../../../../lib/ports/key-vault.js';
import { NonceRecord, partyKeys } from '../../../../lib/protocol/party-state.js';
import { openSecretAndKey, sealSecret, secretContext, type SealedBlob } from '../../../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../../../lib/protocol/secret-scope.js';
import { openNonce, sealNonce } from '../../../../lib/protocol/sign/nonce-sealing.js';
import { Scratch } from '../../../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

/** A vault that counts its KMS-billed calls. */
class CountingVault {
  decrypts = 0;
  generates = 0;
  constructor(readonly inner: KeyVault) {}
  generateDataKey(context: EncryptionContext) {
    this.generates++;
    return this.inner.generateDataKey(context);
  }
  decryptDataKey(encrypted: Uint8Array, context: EncryptionContext) {
    this.decrypts++;
    return this.inner.decryptDataKey(encrypted, context);
  }
  signIdentity(message: Uint8Array) {
    return this.inner.signIdentity(message);
  }
  identityPublicKey() {
    return this.inner.identityPublicKey();
  }
}

let vault: CountingVault;
const ctx = { get vault() { return vault; }, secretContext: (keyId: string, purpose: 'key-share' | 'nonce') => secretContext('p1', keyId, purpose) };
const shareKey = partyKeys.keyShare('k1');
const nonceKey = partyKeys.nonce('ab'.repeat(16), 1);
const share = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const nonces = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);

beforeAll(async () => {
  vault = new CountingVault(await FileKeyVault.open(join(await scratch.dir(), 'vault')));
});

async function sealedShare(): Promise<SealedBlob> {
  const scope = new SecretScope();
  try {
    return await sealSecret(vault, ctx.secretContext('k1', 'key-share'), shareKey, share, scope);
  } finally {
    scope.wipe();
  }
}

/** What round 1 does: open the share (one Decrypt) and seal the nonce under its data key. */
async function commitWith(sealed: SealedBlob) {
  const scope = new SecretScope();
  try {
    const { dataKey } = await openSecretAndKey(vault, ctx.secretContext('k1', 'key-share'), shareKey, sealed, scope);
    return sealNonce(dataKey, nonceKey, nonces, scope);
  } finally {
    scope.wipe();
  }
}

/** What round 2 does: open the share (one Decrypt) and the nonce record at `key`. */
async function packageWith(sealed: SealedBlob, key: typeof nonceKey, blob: NonceRecord['nonces']): Promise<Uint8Array> {
  const scope = new SecretScope();
  try {
    const { dataKey } = await openSecretAndKey(vault, ctx.secretContext('k1', 'key-share'), shareKey, sealed, scope);
    return Uint8Array.from(await openNonce(ctx, 'k1', key, blob, dataKey, scope));
  } finally {
    scope.wipe();
  }
}

async function expectDecryptFailure(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrostlineError);
  expect((error as FrostlineError).code).toBe('decrypt-failed');
}

describe('two-round nonce sealing', () => {
  it('one Decrypt per round and no GenerateDataKey: the nonce is sealed and opened with the share\'s data key', async () => {
    const sealed = await sealedShare();
    vault.decrypts = 0;
    vault.generates = 0;
    const blob = await commitWith(sealed);
    expect(vault).toMatchObject({ decrypts: 1, generates: 0 });
    expect(blob).not.toHaveProperty('dataKey');
    expect(blob.ciphertext).not.toContain(Buffer.from(nonces).toString('hex'));
    expect(await packageWith(sealed, nonceKey, blob)).toEqual(nonces);
    expect(vault).toMatchObject({ decrypts: 2, generates: 0 });
  });

  it('a nonce record written before the upgrade (its own data key) still opens, with its own Decrypt', async () => {
    const sealed = await sealedShare();
    const scope = new SecretScope();
    const old = await sealSecret(vault, ctx.secretContext('k1', 'nonce'), nonceKey, nonces, scope);
    scope.wipe();
    vault.decrypts = 0;
    expect(await packageWith(sealed, nonceKey, old)).toEqual(nonces);
    expect(vault.decrypts).toBe(2);
  });

  it('a derived nonce moved to another item does not open', async () => {
    const sealed = await sealedShare();
    const blob = await commitWith(sealed);
    await expectDecryptFailure(packageWith(sealed, partyKeys.nonce('ab'.repeat(16), 2), blob));
    await expectDecryptFailure(packageWith(sealed, partyKeys.nonce('cd'.repeat(16), 1), blob));
  });

  it('a derived nonce does not open once its share was re-sealed (a new data key, as at refresh or reshare)', async () => {
    const blob = await commitWith(await sealedShare());
    const resealed = await sealedShare();
    await expectDecryptFailure(packageWith(resealed, nonceKey, blob));
  });

  it('the stored record accepts both formats, and nothing else', () => {
    const record = { keyId: 'k1', attempt: 1, requestFingerprint: 'aa'.repeat(32), commitment: { identifier: 'bb'.repeat(32), hiding: 'cc'.repeat(32), binding: 'dd'.repeat(32) } };
    const derived = { iv: '00'.repeat(12), ciphertext: 'ee'.repeat(80) };
    expect(NonceRecord.safeParse({ ...record, nonces: derived }).success).toBe(true);
    expect(NonceRecord.safeParse({ ...record, nonces: { ...derived, dataKey: 'ff'.repeat(40) } }).success).toBe(true);
    expect(NonceRecord.safeParse({ ...record, nonces: { ...derived, extra: 'ff' } }).success).toBe(false);
    expect(NonceRecord.safeParse({ ...record, nonces: { iv: derived.iv } }).success).toBe(false);
  });
});
