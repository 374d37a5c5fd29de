/**
 * Derivation against published vectors (BIP32 public steps, BIP86, BIP341 wallet vectors,
 * copied from bitcoin/bips) and, for the Edwards schemes that have no outside vectors, the
 * property that defines them: the child key is (parent secret + total tweak)·G.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { ed448 } from '@noble/curves/ed448.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  composeTweaks,
  decodeXpub,
  derivePath,
  groupOfCurve,
  parsePath,
  taprootTweak,
  tweakPoint,
  tweakPublicPackage,
  tweakScalarBytes,
  withTaprootTweak,
  xpubOf,
  type CurveName,
} from '../../../../lib/protocol/derivation/index.js';

/** Derives `path` from an xpub at `depth`/`childNumber`/`fp` and re-serialises it. */
function deriveXpub(parent: string, path: string): string {
  const root = decodeXpub(parent);
  const child = derivePath({ curve: 'secp256k1', publicKey: root.publicKey, chainCode: root.chainCode }, parsePath(path));
  return xpubOf(child, root.depth, root.parentFingerprint, root.childNumber);
}

describe('BIP32 CKDpub (bip-0032.mediawiki test vectors, public steps)', () => {
  it('vector 1: m/0H → m/0H/1, m/0H/1/2H → …/2 → …/1000000000', () => {
    expect(deriveXpub('xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw', 'm/1')).toBe(
      'xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ',
    );
    expect(deriveXpub('xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5', 'm/2')).toBe(
      'xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV',
    );
    expect(deriveXpub('xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5', 'm/2/1000000000')).toBe(
      'xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy',
    );
  });

  it('vector 2: m → m/0, m/0/2147483647H → …/1, …/2147483646H → …/2', () => {
    expect(deriveXpub('xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB', 'm/0')).toBe(
      'xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH',
    );
    expect(deriveXpub('xpub6ASAVgeehLbnwdqV6UKMHVzgqAG8Gr6riv3Fxxpj8ksbH9ebxaEyBLZ85ySDhKiLDBrQSARLq1uNRts8RuJiHjaDMBU4Zn9h8LZNnBC5y4a', 'm/1')).toBe(
      'xpub6DF8uhdarytz3FWdA8TvFSvvAh8dP3283MY7p2V4SeE2wyWmG5mg5EwVvmdMVCQcoNJxGoWaU9DCWh89LojfZ537wTfunKau47EL2dhHKon',
    );
    expect(deriveXpub('xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL', 'm/2')).toBe(
      'xpub6FnCn6nSzZAw5Tw7cgR9bi15UV96gLZhjDstkXXxvCLsUXBGXPdSnLFbdpq8p9HmGsApME5hQTZ3emM2rnY5agb9rXpVGyy3bdW6EEgAtqt',
    );
  });

  it('vector 5: invalid public extended keys are refused', () => {
    for (const bad of [
      'xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6LBpB85b3D2yc8sfvZU521AAwdZafEz7mnzBBsz4wKY5fTtTQBm',
      'xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6Txnt3siSujt9RCVYsx4qHZGc62TG4McvMGcAUjeuwZdduYEvFn',
      'xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6N8ZMMXctdiCjxTNq964yKkwrkBJJwpzZS4HS2fxvyYUA4q2Xe4',
      'xpub661no6RGEX3uJkY4bNnPcw4URcQTrSibUZ4NqJEw5eBkv7ovTwgiT91XX27VbEXGENhYRCf7hyEbWrR3FewATdCEebj6znwMfQkhRYHRLpJ',
      'xpub661MyMwAuDcm6CRQ5N4qiHKrJ39Xe1R1NyfouMKTTWcguwVcfrZJaNvhpebzGerh7gucBvzEQWRugZDuDXjNDRmXzSZe4c7mnTK97pTvGS8',
      'DMwo58pR1QLEFihHiXPVykYB6fJmsTeHvyTp7hRThAtCX8CvYzgPcn8XnmdfHGMQzT7ayAmfo4z3gY5KfbrZWZ6St24UVf2Qgo6oujFktLHdHY4',
      'xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6Q5JXayek4PRsn35jii4veMimro1xefsM58PgBMrvdYre8QyULY',
      'xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHL',
    ]) {
      expect(() => decodeXpub(bad), bad).toThrow();
    }
  });
});

describe('BIP341 taproot tweak', () => {
  // bip-0086.mediawiki: account xpub m/86'/0'/0', then m/…/0/0, /0/1, /1/0 and their output keys.
  const account = 'xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ';
  it.each([
    ['m/0/0', 'cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115', 'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c'],
    ['m/0/1', '83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145', 'a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb'],
    ['m/1/0', '399f1b2f4393f29a18c937859c5dd8a77350103157eb880f02e8c08214277cef', '882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc'],
  ])('BIP86 %s: path then key-path tweak gives the output key', (path, internal, output) => {
    const root = decodeXpub(account);
    const child = derivePath({ curve: 'secp256k1', publicKey: root.publicKey, chainCode: root.chainCode }, parsePath(path));
    expect(bytesToHex(child.publicKey.subarray(1))).toBe(internal);
    const tr = taprootTweak(child.publicKey);
    expect(bytesToHex(tr.outputKey)).toBe(output);
    // One affine tweak from the account key straight to the output key.
    const whole = composeTweaks(groupOfCurve('secp256k1'), child.tweak, tr.tweak);
    expect(bytesToHex(tweakPoint(groupOfCurve('secp256k1'), root.publicKey, whole).subarray(1))).toBe(output);
    // The same through the helper the secp256k1-tr signing flow uses.
    const signing = withTaprootTweak({ ...child, pathText: path, group: groupOfCurve('secp256k1') });
    expect(bytesToHex(signing.outputKey)).toBe(output);
    expect(signing.tweak).toEqual(whole);
  });

  // bip-0341/wallet-test-vectors.json, scriptPubKey[0] (no scripts) and [1] (one leaf).
  it.each([
    ['d6889cb081036e0faefa3a35157ad71086b123b2b144b649798b494c300a961d', undefined, '53a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343'],
    ['187791b6f712a8ea41c8ecdd0ee77fab3e85263b37e1ec18a3651926b3a6cf27', '5b75adecf53548f3ec6ad7d78383bf84cc57b55a3127c72b9a2481752dd88b21', '147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3'],
  ])('BIP341 wallet vector %s', (internal, merkleRoot, tweaked) => {
    const tr = taprootTweak(hexToBytes(internal), merkleRoot === undefined ? undefined : hexToBytes(merkleRoot));
    expect(bytesToHex(tr.outputKey)).toBe(tweaked);
  });

  it('an odd-Y internal key is negated before the tweak: shares map to the output key', () => {
    const group = groupOfCurve('secp256k1');
    let secret = 7n;
    while (secp256k1.Point.BASE.multiply(secret).toBytes()[0] !== 0x03) secret += 1n;
    const tr = taprootTweak(secp256k1.Point.BASE.multiply(secret).toBytes());
    expect(tr.tweak.negate).toBe(true);
    const tweaked = tweakScalarBytes(group, group.scalarToBytes(secret), tr.tweak);
    expect(bytesToHex(secp256k1.Point.BASE.multiply(group.scalarFromBytes(tweaked)).toBytes().subarray(1))).toBe(bytesToHex(tr.outputKey));
  });
});

describe('paths', () => {
  it('parses non-hardened paths', () => {
    expect(parsePath('m')).toEqual([]);
    expect(parsePath('m/0/7')).toEqual([0, 7]);
    expect(parsePath('m/2147483647')).toEqual([2147483647]);
  });
  it.each(['m/0H', "m/1'", 'm/2147483648', 'm/', 'm//1', '0/1', 'm/01', 'm/-1', 'm/1.5', 'M/1', `m${'/1'.repeat(33)}`, 'm/99999999999'])(
    'refuses %s with a one-line error',
    (text) => {
      expect(() => parsePath(text)).toThrow(/^[^\n]+$/);
    },
  );
});

const curves: readonly [CurveName, { Point: { BASE: { multiply(k: bigint): { toBytes(): Uint8Array } }; Fn: { ORDER: bigint } } }][] = [
  ['ed25519', ed25519],
  ['ed448', ed448],
  ['secp256k1', secp256k1],
];

describe.each(curves)('%s derivation', (curve, lib) => {
  const group = groupOfCurve(curve);
  const order = lib.Point.Fn.ORDER;
  const scalar = fc.bigInt({ min: 1n, max: order - 1n });
  const path = fc.array(fc.integer({ min: 0, max: 0x7fffffff }), { maxLength: 4 });
  const chainCode = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('child key = (parent secret + total tweak)·G, and the tweaked share matches it', () => {
    fc.assert(
      fc.property(scalar, path, chainCode, (secret, steps, cc) => {
        const root = { curve, publicKey: lib.Point.BASE.multiply(secret).toBytes(), chainCode: cc };
        const child = derivePath(root, steps);
        const expected = lib.Point.BASE.multiply((secret + child.tweak.add) % order).toBytes();
        expect(bytesToHex(child.publicKey)).toBe(bytesToHex(expected));
        const share = tweakScalarBytes(group, group.scalarToBytes(secret), child.tweak);
        expect(bytesToHex(group.baseMultiply(group.scalarFromBytes(share)))).toBe(bytesToHex(expected));
        // Stepwise equals in one go.
        if (steps.length > 0) {
          const parent = derivePath(root, steps.slice(0, -1));
          const last = derivePath({ curve, publicKey: parent.publicKey, chainCode: parent.chainCode }, steps.slice(-1));
          expect(bytesToHex(last.publicKey)).toBe(bytesToHex(child.publicKey));
        }
      }),
      { seed: 20261202, numRuns: curve === 'ed448' ? 8 : 16 },
    );
  });

  it('an affine tweak of a whole key package keeps it a sharing of the tweaked key', () => {
    // Shares of f(x) = a0 + a1·x at x = 1, 2, 3; any two interpolate to the tweaked secret.
    const [a0, a1] = [123456789n, 987654321n];
    const shares = [1n, 2n, 3n].map((x) => (a0 + a1 * x) % order);
    const pub = {
      signers: { min: 2, max: 3 },
      commitments: [a0, a1].map((a) => group.baseMultiply(a)),
      verifyingShares: Object.fromEntries(shares.map((s, i) => [String(i + 1), group.baseMultiply(s)])),
    };
    for (const tweak of [{ negate: false, add: 42n }, { negate: true, add: 5n }]) {
      const tweaked = tweakPublicPackage(group, pub, tweak);
      const expectedKey = group.baseMultiply(group.mod((tweak.negate ? -a0 : a0) + tweak.add));
      expect(bytesToHex(tweaked.commitments[0] ?? new Uint8Array())).toBe(bytesToHex(expectedKey));
      shares.forEach((s, i) => {
        const t = tweakScalarBytes(group, group.scalarToBytes(s), tweak);
        expect(bytesToHex(group.baseMultiply(group.scalarFromBytes(t)))).toBe(bytesToHex(tweaked.verifyingShares[String(i + 1)] ?? new Uint8Array()));
      });
      // Lagrange at 0 over {1, 2}: λ1 = 2, λ2 = −1.
      const [t1, t2] = shares.slice(0, 2).map((s) => group.scalarFromBytes(tweakScalarBytes(group, group.scalarToBytes(s), tweak)));
      expect(bytesToHex(group.baseMultiply(group.mod(2n * (t1 ?? 0n) - (t2 ?? 0n))))).toBe(bytesToHex(expectedKey));
    }
  });

  it('different chain codes give unrelated children; the parent key alone does not fix them', () => {
    const key = lib.Point.BASE.multiply(99n).toBytes();
    const a = derivePath({ curve, publicKey: key, chainCode: new Uint8Array(32).fill(1) }, [0]);
    const b = derivePath({ curve, publicKey: key, chainCode: new Uint8Array(32).fill(2) }, [0]);
    expect(bytesToHex(a.publicKey)).not.toBe(bytesToHex(b.publicKey));
  });
});

describe('scalar codec', () => {
  it.each(['ed25519', 'ed448', 'secp256k1'] as const)('%s: bytes round-trip as noble encodes them', (curve) => {
    const group = groupOfCurve(curve);
    const lib = curve === 'ed25519' ? ed25519 : curve === 'ed448' ? ed448 : secp256k1;
    for (const k of [1n, 2n ** 64n + 5n, group.order - 1n, 0xdeadbeefn << 190n]) {
      const n = group.mod(k);
      expect(bytesToHex(group.scalarToBytes(n))).toBe(bytesToHex(lib.Point.Fn.toBytes(n)));
      expect(group.scalarFromBytes(group.scalarToBytes(n))).toBe(n);
    }
  });
});
