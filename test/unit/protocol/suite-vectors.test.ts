/**
 * RFC 9591 Appendix E.2 (FROST(Ed448, SHAKE256)) and E.5 (FROST(secp256k1, SHA-256)) through
 * our round-one nonce generation (nonce-generation.ts) and our party signing step
 * (sign/party-package.ts `signatureShare`, which decodes the wire forms by the suite's sizes).
 * The vectors are copied from poc/frost-ed448-shake256.json and poc/frost-secp256k1-sha256.json
 * of github.com/cfrg/draft-irtf-cfrg-frost at 127452b93acb3094a6f659d059550df5618c2714
 * (the RFC's Appendix E); nothing expected here was computed by our code. The secp256k1
 * vectors are for the plain suite (`secp256k1_FROST`), not the Taproot variant keys use.
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { decodeHex } from '../../../lib/protocol/encoding.js';
import { commitRound1, type RandomFill } from '../../../lib/protocol/nonce-generation.js';
import type { PartyView } from '../../../lib/protocol/party-context.js';
import { signatureShare } from '../../../lib/protocol/sign/party-package.js';
import type { Suite } from '../../../lib/protocol/suite.js';
import { ed448Suite } from '../../../lib/protocol/suites/ed448.js';
import { secp256k1VectorSuite } from '../../../lib/protocol/suites/secp256k1-tr.js';
import { testScope } from '../../support/party-steps.js';

const RFC9591_ED448 = {
  groupPublicKey: '3832f82fda00ff5365b0376df705675b63d2a93c24c6e81d40801ba265632be10f443f95968fadb70d10786827f30dc001c8d0f9b7c1d1b000',
  message: '74657374',
  signature: 'cd642cba59c449dad8e896a78a60e8edfcbd9040df524370891ff8077d47ce721d683874483795f0d85efcbd642c4510614328605a19c6ed806ffb773b6956419537cdfdb2b2a51948733de192dcc4b82dc31580a536db6d435e0cb3ce322fbcf9ec23362dda27092c08767e607bf2093600',
  shares: {
    1: '4a2b2f5858a932ad3d3b18bd16e76ced3070d72fd79ae4402df201f525e754716a1bc1b87a502297f2a99d89ea054e0018eb55d39562fd0100',
    2: '2503d56c4f516444a45b080182b8a2ebbe4d9b2ab509f25308c88c0ea7ccdc44e2ef4fc4f63403a11b116372438a1e287265cadeff1fcb0700',
    3: '00db7a8146f995db0a7cf844ed89d8e94c2b5f259378ff66e39d172828b264185ac4decf7219e4aa4478285b9c0eef4fccdf3eea69dd980d00',
  },
  participants: [
    {
      identifier: 1,
      share: '4a2b2f5858a932ad3d3b18bd16e76ced3070d72fd79ae4402df201f525e754716a1bc1b87a502297f2a99d89ea054e0018eb55d39562fd0100',
      hidingRandomness: '9cda90c98863ef3141b75f09375757286b4bc323dd61aeb45c07de45e4937bbd',
      bindingRandomness: '781bf4881ffe1aa06f9341a747179f07a49745f8cd37d4696f226aa065683c0a',
      hidingNonce: 'f922beb51a5ac88d1e862278d89e12c05263b945147db04b9566acb2b5b0f7422ccea4f9286f4f80e6b646e72143eeaecc0e5988f8b2b93100',
      bindingNonce: '1890f16a120cdeac092df29955a29c7cf29c13f6f7be60e63d63f3824f2d37e9c3a002dfefc232972dc08658a8c37c3ec06a0c5dc146150500',
      hidingCommitment: '3518c2246c874569e54ab254cb1da666ca30f7879605cc43b4d2c47a521f8b5716080ab723d3a0cd04b7e41f3cc1d3031c94ccf3829b23fe80',
      bindingCommitment: '11b3d5220c57d02057497de3c4eebab384900206592d877059b0a5f1d5250d002682f0e22dff096c46bb81b46d60fcfe7752ed47cea76c3900',
      sigShare: 'e1eb9bfbef792776b7103891032788406c070c5c315e3bf5d64acd46ea8855e85b53146150a09149665cbfec71626810b575e6f4dbe9ba3700',
    },
    {
      identifier: 3,
      share: '00db7a8146f995db0a7cf844ed89d8e94c2b5f259378ff66e39d172828b264185ac4decf7219e4aa4478285b9c0eef4fccdf3eea69dd980d00',
      hidingRandomness: 'b3adf97ceea770e703ab295babf311d77e956a20d3452b4b3344aa89a828e6df',
      bindingRandomness: '81dbe7742b0920930299197322b255734e52bbb91f50cfe8ce689f56fadbce31',
      hidingNonce: 'ccb5c1e82f23e0a4b966b824dbc7b0ef1cc5f56eeac2a4126e2b2143c5f3a4d890c52d27803abcf94927faf3fc405c0b2123a57a93cefa3b00',
      bindingNonce: 'e089df9bf311cf711e2a24ea27af53e07b846d09692fe11035a1112f04d8b7462a62f34d8c01493a22b57a1cbf1f0a46c77d64d46449a90100',
      hidingCommitment: '1254546d7d104c04e4fbcf29e05747e2edd392f6787d05a6216f3713ef859efe573d180d291e48411e5e3006e9f90ee986ccc26b7a42490b80',
      bindingCommitment: '3ef0cec20be15e56b3ddcb6f7b956fca0c8f71990f45316b537b4f64c5e8763e6629d7262ff7cd0235d0781f23be97bf8fa8817643ea19cd00',
      sigShare: '815434eb0b9f9242d54b8baf2141fe28976cabe5f441ccfcd5ee7cdb4b52185b02b99e6de28e2ab086c7764068c5a01b5300986b9f084f3e00',
    },
  ],
} as const;

const RFC9591_SECP256K1 = {
  groupPublicKey: '02f37c34b66ced1fb51c34a90bdae006901f10625cc06c4f64663b0eae87d87b4f',
  message: '74657374',
  signature: '0205b6d04d3774c8929413e3c76024d54149c372d57aae62574ed74319b5ea14d0c65dde8492a7471437e6c2fe3da49b90d23f642b5c6dbe7e36089f096dd97324',
  shares: {
    1: '08f89ffe80ac94dcb920c26f3f46140bfc7f95b493f8310f5fc1ea2b01f4254c',
    2: '04f0feac2edcedc6ce1253b7fab8c86b856a797f44d83d82a385554e6e401984',
    3: '00e95d59dd0d46b0e303e500b62b7ccb0e555d49f5b849f5e748c071da8c0dbc',
  },
  participants: [
    {
      identifier: 1,
      share: '08f89ffe80ac94dcb920c26f3f46140bfc7f95b493f8310f5fc1ea2b01f4254c',
      hidingRandomness: '7ea5ed09af19f6ff21040c07ec2d2adbd35b759da5a401d4c99dd26b82391cb2',
      bindingRandomness: '47acab018f116020c10cb9b9abdc7ac10aae1b48ca6e36dc15acb6ec9be5cdc5',
      hidingNonce: '841d3a6450d7580b4da83c8e618414d0f024391f2aeb511d7579224420aa81f0',
      bindingNonce: '8d2624f532af631377f33cf44b5ac5f849067cae2eacb88680a31e77c79b5a80',
      hidingCommitment: '03c699af97d26bb4d3f05232ec5e1938c12f1e6ae97643c8f8f11c9820303f1904',
      bindingCommitment: '02fa2aaccd51b948c9dc1a325d77226e98a5a3fe65fe9ba213761a60123040a45e',
      sigShare: 'c4fce1775a1e141fb579944166eab0d65eefe7b98d480a569bbbfcb14f91c197',
    },
    {
      identifier: 3,
      share: '00e95d59dd0d46b0e303e500b62b7ccb0e555d49f5b849f5e748c071da8c0dbc',
      hidingRandomness: 'e6cc56ccbd0502b3f6f831d91e2ebd01c4de0479e0191b66895a4ffd9b68d544',
      bindingRandomness: '7203d55eb82a5ca0d7d83674541ab55f6e76f1b85391d2c13706a89a064fd5b9',
      hidingNonce: '2b19b13f193f4ce83a399362a90cdc1e0ddcd83e57089a7af0bdca71d47869b2',
      bindingNonce: '7a443bde83dc63ef52dda354005225ba0e553243402a4705ce28ffaafe0f5b98',
      hidingCommitment: '03077507ba327fc074d2793955ef3410ee3f03b82b4cdc2370f71d865beb926ef6',
      bindingCommitment: '02ad53031ddfbbacfc5fbda3d3b0c2445c8e3e99cbc4ca2db2aa283fa68525b135',
      sigShare: '0160fd0d388932f4826d2ebcd6b9eaba734f7c71cf25b4279a4ca2581e47b18d',
    },
  ],
} as const;

type Vectors = typeof RFC9591_ED448 | typeof RFC9591_SECP256K1;

/** Hands out the given randomness in order. */
function replay(...values: string[]): RandomFill {
  const queue = values.map((v) => hexToBytes(v));
  return (out) => {
    const next = queue.shift();
    if (next === undefined || next.length !== out.length) throw new Error('test randomness exhausted or of the wrong size');
    out.set(next);
  };
}

describe.each([
  { name: 'FROST(Ed448, SHAKE256), Appendix E.2', suite: ed448Suite, vectors: RFC9591_ED448 as Vectors },
  { name: 'FROST(secp256k1, SHA-256), Appendix E.5', suite: secp256k1VectorSuite, vectors: RFC9591_SECP256K1 as Vectors },
])('$name', ({ suite, vectors }: { suite: Suite; vectors: Vectors }) => {
  const { Fn } = suite.frost.utils;
  const identifierOf = (n: number) => bytesToHex(Fn.toBytes(BigInt(n)));
  const view: PartyView = { id: 'p1', directory: { coordinator: { alg: 'ed25519', spki: '' }, parties: {}, initiators: {} }, suite, identifierOf: () => '' };
  const publicPackage = {
    signers: { min: 2, max: 3 },
    commitments: [vectors.groupPublicKey],
    verifyingShares: Object.fromEntries(
      Object.entries(vectors.shares).map(([id, share]) => [identifierOf(Number(id)), bytesToHex(suite.Point.BASE.multiply(Fn.fromBytes(hexToBytes(share))).toBytes())]),
    ),
  };
  const commitments = vectors.participants.map((p) => ({ identifier: identifierOf(p.identifier), hiding: p.hidingCommitment, binding: p.bindingCommitment }));
  const message = hexToBytes(vectors.message);

  it('nonce generation and commit reproduce every round-one output', () => {
    for (const p of vectors.participants) {
      const round1 = commitRound1(suite, { identifier: identifierOf(p.identifier), signingShare: hexToBytes(p.share) }, replay(p.hidingRandomness, p.bindingRandomness));
      expect(bytesToHex(round1.nonces.hiding)).toBe(p.hidingNonce);
      expect(bytesToHex(round1.nonces.binding)).toBe(p.bindingNonce);
      expect(bytesToHex(round1.commitments.hiding)).toBe(p.hidingCommitment);
      expect(bytesToHex(round1.commitments.binding)).toBe(p.bindingCommitment);
    }
  });

  it('our signing step gives the signature shares, which aggregate to the signature; the suite verifier accepts it', () => {
    const scope = testScope();
    const shares: Record<string, Uint8Array> = {};
    for (const p of vectors.participants) {
      const signingShare = hexToBytes(p.share);
      const round1 = commitRound1(suite, { identifier: identifierOf(p.identifier), signingShare }, replay(p.hidingRandomness, p.bindingRandomness));
      const nonces = new Uint8Array([...round1.nonces.hiding, ...round1.nonces.binding]);
      const share = signatureShare(view, { identifier: identifierOf(p.identifier), signingShare, nonces, publicPackage, commitments, message }, scope);
      expect(share).toBe(p.sigShare);
      shares[identifierOf(p.identifier)] = decodeHex(share, 'share');
    }
    const frostCommitments = commitments.map((c) => ({ identifier: c.identifier, hiding: hexToBytes(c.hiding), binding: hexToBytes(c.binding) }));
    const pub = {
      signers: publicPackage.signers,
      commitments: [hexToBytes(vectors.groupPublicKey)],
      verifyingShares: Object.fromEntries(Object.entries(publicPackage.verifyingShares).map(([id, share]) => [id, hexToBytes(share)])),
    };
    const signature = suite.frost.aggregate(pub, frostCommitments, message, shares);
    expect(bytesToHex(signature)).toBe(vectors.signature);
    const publicKey = suite.publicKeyOf(hexToBytes(vectors.groupPublicKey));
    expect(suite.verifyFinal(publicKey, message, signature)).toBe(true);
    expect(suite.verifyFinal(publicKey, new TextEncoder().encode('tesu'), signature)).toBe(false);
    scope.wipe();
  });
});
