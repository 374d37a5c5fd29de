/** File pins under concurrent use in one process: no pin is lost or rolled back by another's write. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileKeyPins, type PinnedKey } from '../../../lib/client/key-pins.js';
import { Scratch } from '../../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const pin = (keyId: string, epoch = 0): PinnedKey => ({
  keyId,
  suite: 'FROST-ED25519-SHA512-v1',
  threshold: 2,
  parties: ['p1', 'p2', 'p3'],
  publicKey: 'ab'.repeat(32),
  publicPackageHash: (epoch === 0 ? 'cd' : 'ef').repeat(32),
  ...(epoch > 0 ? { epoch, keygenPackageHash: 'cd'.repeat(32) } : {}),
});

describe('FileKeyPins', () => {
  it('keeps every pin of concurrent calls, and a later epoch is never overwritten by a stale copy of the file', async () => {
    const path = join(await scratch.dir(), 'pins.json');
    const pins = new FileKeyPins(path);
    await pins.pin(pin('moving'));
    // Twenty keys pinned at once, and the moving key's next epoch among them, through two instances on one file.
    const other = new FileKeyPins(path);
    await Promise.all([...Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? pins : other).pin(pin(`k${i}`))), other.pin(pin('moving', 1))]);
    const reread = new FileKeyPins(path);
    for (let i = 0; i < 20; i++) expect(await reread.get(`k${i}`), `k${i}`).toBeDefined();
    expect((await reread.get('moving'))?.epoch).toBe(1);
  });
});
