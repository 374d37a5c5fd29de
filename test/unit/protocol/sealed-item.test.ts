import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyVault } from '../../../lib/adapters/local/file-key-vault.js';
import { FrostlineError } from '../../../lib/ports/errors.js';
import type { ItemKey } from '../../../lib/ports/store.js';
import { openSecret, sealSecret, secretContext, type SealedBlob } from '../../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../../lib/protocol/secret-scope.js';
import { Scratch } from '../../support/harness.js';

const scratch = new Scratch();
let vault: FileKeyVault;
let otherVault: FileKeyVault;
const itemKey: ItemKey = { pk: 'key#k1', sk: 'share' };
const context = secretContext('p1', 'k1', 'key-share');
const secret = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

beforeAll(async () => {
  const dir = await scratch.dir();
  vault = await FileKeyVault.open(join(dir, 'vault'));
  otherVault = await FileKeyVault.open(join(dir, 'other'));
});
afterAll(() => scratch.cleanup());

async function seal(): Promise<SealedBlob> {
  const scope = new SecretScope();
  try {
    return await sealSecret(vault, context, itemKey, secret, scope);
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
  expect(String((error as Error).message)).not.toContain('0102030405');
}

describe('sealed items (envelope encryption of stored secrets)', () => {
  it('round-trips under the same vault, context and item key', async () => {
    const blob = await seal();
    expect(blob.ciphertext).not.toContain(Buffer.from(secret).toString('hex'));
    const scope = new SecretScope();
    const opened = await openSecret(vault, context, itemKey, blob, scope);
    expect(opened).toEqual(secret);
    expect(scope.tracked).toContain(opened);
  });

  it.each([
    ['another party', secretContext('p2', 'k1', 'key-share')],
    ['another key id', secretContext('p1', 'k2', 'key-share')],
    ['another purpose (a nonce blob used as a key share)', secretContext('p1', 'k1', 'nonce')],
  ])('does not open under another encryption context: %s', async (_what, other) => {
    const blob = await seal();
    await expectDecryptFailure(openSecret(vault, other, itemKey, blob, new SecretScope()));
  });

  it.each([
    ['another partition key', { pk: 'key#k2', sk: 'share' }],
    ['another sort key', { pk: 'key#k1', sk: 'nonce' }],
  ])('does not open when moved to another item: %s', async (_what, other) => {
    const blob = await seal();
    await expectDecryptFailure(openSecret(vault, context, other, blob, new SecretScope()));
  });

  it('does not open in another vault (another master key)', async () => {
    const blob = await seal();
    await expectDecryptFailure(openSecret(otherVault, context, itemKey, blob, new SecretScope()));
  });

  it('does not open when the ciphertext was tampered with', async () => {
    const blob = await seal();
    const flipped = (blob.ciphertext[0] === '0' ? '1' : '0') + blob.ciphertext.slice(1);
    await expectDecryptFailure(openSecret(vault, context, itemKey, { ...blob, ciphertext: flipped }, new SecretScope()));
  });

  it('registers the plaintext data key in the scope, so it is wiped with the scope', async () => {
    const scope = new SecretScope();
    await sealSecret(vault, context, itemKey, secret, scope);
    expect(scope.tracked.length).toBeGreaterThan(0);
    expect(scope.tracked.some((b) => b.some((x) => x !== 0))).toBe(true);
    scope.wipe();
    for (const buffer of scope.tracked) expect(buffer.every((x) => x === 0)).toBe(true);
  });
});
