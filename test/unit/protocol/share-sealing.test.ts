import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretScope } from '../../../lib/protocol/secret-scope.js';
import { ephemeralPublicKey, newEphemeralSecret, openShare, sealShare, type ShareBinding } from '../../../lib/protocol/share-sealing.js';
import type { SealedShare } from '../../../lib/protocol/messages.js';

const binding: ShareBinding = { session: 'ab'.repeat(16), keyId: 'k1', sender: 'p1', recipient: 'p2' };

function setup() {
  const scope = new SecretScope();
  const sender = newEphemeralSecret(scope);
  const recipient = newEphemeralSecret(scope);
  const share = new Uint8Array(randomBytes(32));
  const sealed = sealShare(sender, ephemeralPublicKey(recipient), binding, share, scope);
  return { scope, sender, recipient, share, sealed };
}

function flipHex(hex: string, index: number): string {
  const digit = parseInt(hex[index] ?? '0', 16) ^ 1;
  return hex.slice(0, index) + digit.toString(16) + hex.slice(index + 1);
}

describe('DKG share sealing', () => {
  it('round-trips: the recipient opens exactly the share that was sealed', () => {
    const { scope, sender, recipient, share, sealed } = setup();
    const opened = openShare(recipient, ephemeralPublicKey(sender), binding, sealed, scope);
    expect(opened).toEqual(share);
    expect(sealed.ct).not.toContain(Buffer.from(share).toString('hex'));
    expect(scope.tracked).toContain(opened);
  });

  it('seals each share under a fresh IV: the same share twice gives different ciphertexts', () => {
    const { scope, sender, recipient, share, sealed } = setup();
    const again = sealShare(sender, ephemeralPublicKey(recipient), binding, share, scope);
    expect(again.iv).not.toBe(sealed.iv);
    expect(again.ct).not.toBe(sealed.ct);
  });

  it.each([
    ['another session (replay into a new keygen)', { session: 'cd'.repeat(16) }],
    ['another key id', { keyId: 'k2' }],
    ['another recipient (redirected share)', { recipient: 'p3' }],
    ['another sender (share passed off as someone else\'s)', { sender: 'p3' }],
  ])('does not open under a different binding: %s', (_what, change) => {
    const { scope, sender, recipient, sealed } = setup();
    expect(openShare(recipient, ephemeralPublicKey(sender), { ...binding, ...change }, sealed, scope)).toBeUndefined();
  });

  it('does not open for a third party holding another ephemeral key', () => {
    const { scope, sender, sealed } = setup();
    const eavesdropper = newEphemeralSecret(scope);
    expect(openShare(eavesdropper, ephemeralPublicKey(sender), binding, sealed, scope)).toBeUndefined();
  });

  it('does not open when the sender key in the transcript was swapped', () => {
    const { scope, recipient, sealed } = setup();
    const other = newEphemeralSecret(scope);
    expect(openShare(recipient, ephemeralPublicKey(other), binding, sealed, scope)).toBeUndefined();
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const { scope, sender, recipient, sealed } = setup();
    const variants: SealedShare[] = [
      { ...sealed, ct: flipHex(sealed.ct, 0) }, // ciphertext
      { ...sealed, ct: flipHex(sealed.ct, sealed.ct.length - 1) }, // tag
      { ...sealed, iv: flipHex(sealed.iv, 5) },
    ];
    for (const variant of variants) {
      expect(openShare(recipient, ephemeralPublicKey(sender), binding, variant, scope)).toBeUndefined();
    }
  });

  it('tracks every secret it derives, so a wipe leaves no key material', () => {
    const { scope, sender, recipient, sealed } = setup();
    const before = scope.tracked.length;
    openShare(recipient, ephemeralPublicKey(sender), binding, sealed, scope);
    // ECDH output, HKDF key and the opened share.
    expect(scope.tracked.length - before).toBeGreaterThanOrEqual(3);
    scope.wipe();
    for (const buffer of scope.tracked) expect(buffer.every((b) => b === 0)).toBe(true);
  });
});
