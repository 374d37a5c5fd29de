/**
 * Round-one nonce generation against RFC 9591 Appendix E.1, FROST(Ed25519, SHA-512).
 * The vectors are copied from the RFC text (identical to poc/frost-ed25519-sha512.json in
 * github.com/cfrg/draft-irtf-cfrg-frost); nothing expected here was computed by our code.
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { commitRound1, generateNonce, type RandomFill } from '../../../lib/protocol/nonce-generation.js';
import { ed25519Suite, type Suite } from '../../../lib/protocol/suite.js';

const RFC9591_E1 = {
  groupPublicKey: '15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673',
  message: '74657374',
  signature:
    '36282629c383bb820a88b71cae937d41f2f2adfcc3d02e55507e2fb9e2dd3cbebd9d2b0844e49ae0f3fa935161e1419aab7b47d21a37ebeae1f17d4987b3160b',
  participants: [
    {
      identifier: 1,
      share: '929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509',
      hidingRandomness: '0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d3cb583dfcb9bbaf8d4c9fec',
      bindingRandomness: '69cd85f631d5f7f2721ed5e40519b1366f340a87c2f6856363dbdcda348a7501',
      hidingNonce: '812d6104142944d5a55924de6d49940956206909f2acaeedecda2b726e630407',
      bindingNonce: 'b1110165fc2334149750b28dd813a39244f315cff14d4e89e6142f262ed83301',
      hidingCommitment: 'b5aa8ab305882a6fc69cbee9327e5a45e54c08af61ae77cb8207be3d2ce13de3',
      bindingCommitment: '67e98ab55aa310c3120418e5050c9cf76cf387cb20ac9e4b6fdb6f82a469f932',
      sigShare: '001719ab5a53ee1a12095cd088fd149702c0720ce5fd2f29dbecf24b7281b603',
    },
    {
      identifier: 3,
      share: 'd3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02',
      hidingRandomness: '86d64a260059e495d0fb4fcc17ea3da7452391baa494d4b00321098ed2a0062f',
      bindingRandomness: '13e6b25afb2eba51716a9a7d44130c0dbae0004a9ef8d7b5550c8a0e07c61775',
      hidingNonce: 'c256de65476204095ebdc01bd11dc10e57b36bc96284595b8215222374f99c0e',
      bindingNonce: '243d71944d929063bc51205714ae3c2218bd3451d0214dfb5aeec2a90c35180d',
      hidingCommitment: 'cfbdb165bd8aad6eb79deb8d287bcc0ab6658ae57fdcc98ed12c0669e90aec91',
      bindingCommitment: '7487bc41a6e712eea2f2af24681b58b1cf1da278ea11fe4e8b78398965f13552',
      sigShare: 'bd86125de990acc5e1f13781d8e32c03a9bbd4c53539bbc106058bfd14326007',
    },
  ],
} as const;

const { frost } = ed25519Suite;
const { Fn } = frost.utils;
const identifierOf = (n: number) => bytesToHex(Fn.toBytes(BigInt(n)));

/** Hands out the given randomness in order, recording every buffer it filled. */
function replay(...values: string[]): { fill: RandomFill; filled: Uint8Array[] } {
  const queue = values.map((v) => hexToBytes(v));
  const filled: Uint8Array[] = [];
  return {
    filled,
    fill: (out) => {
      const next = queue.shift();
      if (next === undefined || next.length !== out.length) throw new Error('test randomness exhausted or of the wrong size');
      out.set(next);
      filled.push(out);
    },
  };
}

describe('nonce generation (RFC 9591 §4.1, §5.1)', () => {
  for (const p of RFC9591_E1.participants) {
    it(`P${p.identifier}: nonce_generate and commit reproduce Appendix E.1`, () => {
      const share = hexToBytes(p.share);
      expect(bytesToHex(generateNonce(ed25519Suite, share, replay(p.hidingRandomness).fill))).toBe(p.hidingNonce);
      expect(bytesToHex(generateNonce(ed25519Suite, share, replay(p.bindingRandomness).fill))).toBe(p.bindingNonce);

      const round1 = commitRound1(ed25519Suite, { identifier: identifierOf(p.identifier), signingShare: share }, replay(p.hidingRandomness, p.bindingRandomness).fill);
      expect(bytesToHex(round1.nonces.hiding)).toBe(p.hidingNonce);
      expect(bytesToHex(round1.nonces.binding)).toBe(p.bindingNonce);
      expect(round1.commitments.identifier).toBe(identifierOf(p.identifier));
      expect(bytesToHex(round1.commitments.hiding)).toBe(p.hidingCommitment);
      expect(bytesToHex(round1.commitments.binding)).toBe(p.bindingCommitment);
      // The share itself is the caller's: left as it was.
      expect(bytesToHex(share)).toBe(p.share);
    });
  }

  it('with noble signShare and aggregate, the nonces give the RFC signature shares and signature', () => {
    const commitments = RFC9591_E1.participants.map((p) => ({
      identifier: identifierOf(p.identifier),
      hiding: hexToBytes(p.hidingCommitment),
      binding: hexToBytes(p.bindingCommitment),
    }));
    const message = hexToBytes(RFC9591_E1.message);
    const pub = {
      signers: { min: 2, max: 3 },
      commitments: [hexToBytes(RFC9591_E1.groupPublicKey)],
      verifyingShares: Object.fromEntries(
        RFC9591_E1.participants.map((p) => [identifierOf(p.identifier), ed25519Suite.Point.BASE.multiply(Fn.fromBytes(hexToBytes(p.share))).toBytes()]),
      ),
    };
    const shares: Record<string, Uint8Array> = {};
    for (const p of RFC9591_E1.participants) {
      const secret = { identifier: identifierOf(p.identifier), signingShare: hexToBytes(p.share) };
      const { nonces } = commitRound1(ed25519Suite, secret, replay(p.hidingRandomness, p.bindingRandomness).fill);
      const sigShare = frost.signShare(secret, pub, nonces, commitments, message);
      expect(bytesToHex(sigShare)).toBe(p.sigShare);
      shares[secret.identifier] = sigShare;
    }
    expect(bytesToHex(frost.aggregate(pub, commitments, message, shares))).toBe(RFC9591_E1.signature);
  });

  it('wipes the hash input (randomness and share) and the hasher, and hands the caller fresh buffers', () => {
    const [p] = RFC9591_E1.participants;
    const hashers: object[] = [];
    const create = () => {
      const hasher = ed25519Suite.hash.create();
      hashers.push(hasher);
      return hasher;
    };
    const spying: Suite = { ...ed25519Suite, hash: Object.assign((msg: Uint8Array) => ed25519Suite.hash(msg), ed25519Suite.hash, { create }) };
    const share = hexToBytes(p.share);
    const { fill, filled } = replay(p.hidingRandomness, p.bindingRandomness);
    const round1 = commitRound1(spying, { identifier: identifierOf(1), signingShare: share }, fill);

    expect(filled).toHaveLength(2);
    expect(hashers).toHaveLength(2);
    for (const random of filled) {
      // The randomness was written into the hash input buffer itself, which holds the share too.
      const input = new Uint8Array(random.buffer);
      expect(input.length).toBe('FROST-ED25519-SHA512-v1nonce'.length + 32 + 32);
      expect(input.every((b) => b === 0)).toBe(true);
    }
    for (const hasher of hashers) {
      expect(Reflect.get(hasher, 'destroyed')).toBe(true);
      const block = Reflect.get(hasher, 'buffer') as Uint8Array;
      expect(block.every((b) => b === 0)).toBe(true);
    }
    expect(bytesToHex(round1.nonces.hiding)).toBe(p.hidingNonce);
    expect(round1.nonces.hiding.buffer).not.toBe(round1.nonces.binding.buffer);
  });

  it('draws fresh OS randomness by default: two commits never repeat a nonce', () => {
    const secret = { identifier: identifierOf(1), signingShare: hexToBytes(RFC9591_E1.participants[0].share) };
    const a = commitRound1(ed25519Suite, secret);
    const b = commitRound1(ed25519Suite, secret);
    const all = [a.nonces.hiding, a.nonces.binding, b.nonces.hiding, b.nonces.binding].map(bytesToHex);
    expect(new Set(all).size).toBe(4);
    expect(bytesToHex(a.commitments.hiding)).toBe(bytesToHex(ed25519Suite.Point.BASE.multiply(Fn.fromBytes(a.nonces.hiding)).toBytes()));
  });

  it('refuses a share of the wrong length', () => {
    expect(() => generateNonce(ed25519Suite, new Uint8Array(31))).toThrow(/32 bytes/);
  });
});
