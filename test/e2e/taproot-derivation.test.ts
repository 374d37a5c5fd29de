/**
 * Derivation on the other suites (issue #12): a secp256k1-tr key signs under its BIP32 child
 * (m/0/7) and under that child's BIP341 output key (with and without a script-tree merkle
 * root); an Ed448 key signs under its child. Every signature is checked by an implementation
 * that is not ours (libsecp256k1 via tiny-secp256k1, OpenSSL's Ed448), under the key the SDK
 * derives offline; the xpub is re-derived with BIP32 CKDpub written here from HMAC-SHA512
 * and libsecp256k1's point addition. A coordinator that changes the taproot option is refused.
 */
import { createHmac } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import * as secp from 'tiny-secp256k1';
import { base58check } from '@scure/base';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { AuditRecord, verifyAuditChain } from '../../lib/protocol/audit.js';
import { deriveKey } from '../../lib/protocol/derivation/key.js';
import { tweakScalarBytes } from '../../lib/protocol/derivation/affine.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { encoder, openHarness, requiredParty, rewriteRelayedSignRequest, Scratch, storeItems, typeOf, type Harness } from '../support/harness.js';
import { bip340Verifies, ed448Verifies } from '../support/ed25519.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const TR = 'FROST-secp256k1-SHA256-TR-v1';
const MERKLE_ROOT = bytesToHex(sha256(encoder.encode('a script tree')));

/** BIP341 taproot_tweak_pubkey by libsecp256k1: x(P_even + tagged_hash("TapTweak", x(P) || root)·G). */
function taprootOutputKey(internalXOnly: string, merkleRoot?: string): string {
  const x = hexToBytes(internalXOnly);
  const t = schnorr.utils.taggedHash('TapTweak', x, merkleRoot === undefined ? new Uint8Array(0) : hexToBytes(merkleRoot));
  const q = secp.xOnlyPointAddTweak(x, t);
  if (q === null) throw new Error('tweak out of range');
  return bytesToHex(q.xOnlyPubkey);
}

/** BIP32 CKDpub along non-hardened steps, from a serialized xpub (HMAC-SHA512 and libsecp256k1's point addition). */
function ckdPubFromXpub(xpub: string, path: readonly number[]): string {
  const data = base58check(sha256).decode(xpub);
  expect(bytesToHex(data.subarray(0, 4))).toBe('0488b21e');
  let chainCode = data.subarray(13, 45);
  let key = data.subarray(45, 78);
  for (const index of path) {
    const i = Buffer.alloc(4);
    i.writeUInt32BE(index);
    const mac = createHmac('sha512', chainCode).update(key).update(i).digest();
    const child = secp.pointAddScalar(key, mac.subarray(0, 32), true);
    if (child === null) throw new Error('invalid child');
    key = child;
    chainCode = mac.subarray(32);
  }
  return bytesToHex(key.subarray(1)); // x-only, as BIP340 verifies
}

async function keyed(suite: string, keyId = 'k1'): Promise<{ harness: Harness; publicKey: string }> {
  const harness = await openHarness(await scratch.dir(), { parties: 3 });
  scratch.own(harness.cluster);
  const keygen = await harness.cluster.keygen({ keyId, threshold: 2, suite });
  expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
  return { harness, publicKey: keygen.publicKey ?? '' };
}

async function approvedRecords(harness: Harness, party: string): Promise<AuditRecord[]> {
  const chain = await requiredParty(harness.cluster, party).audit.readChain();
  expect(verifyAuditChain(chain)).toMatchObject({ ok: true });
  return chain.records.map((r) => AuditRecord.parse(r)).filter((r) => r.kind === 'sign' && r.decision === 'approved');
}

describe('secp256k1-tr derivation and taproot', () => {
  it('m/0/7: verifies (libsecp256k1) under the child the SDK derives and re-derives from the xpub, not under the parent', async () => {
    const { harness, publicKey } = await keyed('secp256k1-tr');
    harness.cluster.serve();
    const client = harness.cluster.client();
    const derived = await client.derivePublicKey('k1', 'm/0/7');
    const xpub = await client.exportXpub('k1');
    expect(ckdPubFromXpub(xpub, [0, 7])).toBe(derived.publicKey);
    expect(ckdPubFromXpub(xpub, [])).toBe(publicKey); // the xpub's key is the published key (even-Y lift)
    const message = sha256(encoder.encode('pay from m/0/7'));
    const signed = await client.sign({ keyId: 'k1', message, path: 'm/0/7' });
    expect(signed.publicKey).toBe(derived.publicKey);
    expect(bip340Verifies(derived.publicKey, message, signed.signatureHex)).toBe(true);
    expect(bip340Verifies(publicKey, message, signed.signatureHex)).toBe(false);
  });

  it('taproot with a merkle root (and BIP86 without one): verifies under the BIP341 output key of the child, computed by libsecp256k1; audited', async () => {
    const { harness, publicKey } = await keyed('secp256k1-tr');
    harness.cluster.serve();
    const client = harness.cluster.client();
    const child = await client.derivePublicKey('k1', 'm/0/7');
    const output = await client.derivePublicKey('k1', 'm/0/7', { taproot: { merkleRoot: MERKLE_ROOT } });
    expect(output.publicKey).toBe(taprootOutputKey(child.publicKey, MERKLE_ROOT));
    const message = sha256(encoder.encode('script-tree output, key path'));
    const signed = await client.sign({ keyId: 'k1', message, path: 'm/0/7', taproot: { merkleRoot: MERKLE_ROOT } });
    expect(signed.publicKey).toBe(output.publicKey);
    expect(bip340Verifies(output.publicKey, message, signed.signatureHex)).toBe(true);
    expect(bip340Verifies(child.publicKey, message, signed.signatureHex)).toBe(false);
    for (const party of signed.signers) {
      const records = await approvedRecords(harness, party);
      expect(records.at(-1)).toMatchObject({ path: 'm/0/7', taproot: { merkleRoot: MERKLE_ROOT } });
    }
    // The key itself as internal key, key path only (BIP86): no path.
    const bip86 = await client.sign({ keyId: 'k1', message, taproot: {} });
    expect(bip86.publicKey).toBe(taprootOutputKey(publicKey));
    expect(bip340Verifies(taprootOutputKey(publicKey), message, bip86.signatureHex)).toBe(true);
  });

  it('a coordinator that changes the taproot merkle root in the relayed request (re-signing the package) is refused: no share, no nonce spent', async () => {
    const { harness } = await keyed('secp256k1-tr');
    const { cluster } = harness;
    const taproot = { merkleRoot: bytesToHex(sha256(encoder.encode('the coordinator’s tree'))) };
    const rewritten = rewriteRelayedSignRequest(harness, (request) => ({ ...request, taproot }));
    const result = await cluster.sign({ keyId: 'k1', message: sha256(encoder.encode('x')), path: 'm/0/7', taproot: { merkleRoot: MERKLE_ROOT } });
    expect(rewritten()).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);
    const packages = cluster.outcomes.filter((o) => o.node !== COORDINATOR && o.outcome.type === MessageType.signPackage);
    expect(packages.length).toBeGreaterThan(0);
    for (const { outcome } of packages) expect(outcome).toMatchObject({ status: 'refused', code: 'bad-signature' });
    for (const party of ['p1', 'p2', 'p3']) {
      expect((await storeItems(harness.dir, party, 'nonce#')).filter((i) => i.sk === 'consumed')).toEqual([]);
    }
  });

  it('a taproot option on an Ed25519 key is refused by the SDK before anything is sent', async () => {
    const { harness } = await keyed('ed25519');
    harness.cluster.serve();
    await expect(harness.cluster.client().sign({ keyId: 'k1', message: encoder.encode('x'), taproot: {} })).rejects.toThrow(/taproot tweak is for secp256k1/);
  });

  it('an odd-Y stored group point derives the same child as its x-only key, and its shares map to the child', () => {
    // Deterministic: a secret whose public point has odd Y, as a DKG output is about half the time.
    let s = 7n;
    while (secp256k1.Point.BASE.multiply(s).toBytes(true)[0] !== 0x03) s += 1n;
    const point = secp256k1.Point.BASE.multiply(s).toBytes(true);
    const key = { suite: TR, publicPackageHash: '00'.repeat(32) };
    const fromCompressed = deriveKey({ ...key, publicKey: bytesToHex(point) }, 'm/0/7');
    const fromXOnly = deriveKey({ ...key, publicKey: bytesToHex(point.subarray(1)) }, 'm/0/7');
    expect(bytesToHex(fromCompressed.publicKey)).toBe(bytesToHex(fromXOnly.publicKey));
    const childSecret = tweakScalarBytes(fromCompressed.group, secp256k1.Point.Fn.toBytes(s), fromCompressed.tweak);
    expect(bytesToHex(secp256k1.Point.BASE.multiply(secp256k1.Point.Fn.fromBytes(childSecret)).toBytes(true))).toBe(bytesToHex(fromCompressed.publicKey));
  });
});

describe('Ed448 derivation', () => {
  it('m/0/7: verifies with OpenSSL under the child the SDK derives, not under the parent', async () => {
    const { harness, publicKey } = await keyed('ed448');
    harness.cluster.serve();
    const client = harness.cluster.client();
    const derived = await client.derivePublicKey('k1', 'm/0/7');
    expect(derived.publicKey).not.toBe(publicKey);
    const message = encoder.encode('ed448 child');
    const signed = await client.sign({ keyId: 'k1', message, path: 'm/0/7' });
    expect(signed.publicKey).toBe(derived.publicKey);
    expect(ed448Verifies(derived.publicKey, message, signed.signatureHex)).toBe(true);
    expect(ed448Verifies(publicKey, message, signed.signatureHex)).toBe(false);
  });
});
