/**
 * Signature shares are verified only when their aggregate fails (issue #14): a signer whose
 * share is a wrong but canonical scalar, sent before the honest signer's, is still the only
 * one blamed, on every suite and under a child key (derivation path, taproot output key),
 * because noble judges each share against the verifying share of the key actually signed
 * under. The retry without it, with the third party, releases a signature an implementation
 * other than ours accepts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { MessageType } from '../../lib/protocol/messages.js';
import type { SignResultBody } from '../../lib/protocol/messages.js';
import { bodyOf, encoder, openHarness, opensslVerifies, parseRaw, requiredVault, resign, Scratch, typeOf, type Harness } from '../support/harness.js';
import { bip340Verifies, ed448Verifies } from '../support/ed25519.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

/** Another canonical scalar: the least significant bit flipped (little-endian Ed suites, big-endian secp256k1). */
function flipLowBit(share: string, bigEndian: boolean): string {
  const bytes = hexToBytes(share);
  const i = bigEndian ? bytes.length - 1 : 0;
  bytes[i] = (bytes[i] ?? 0) ^ 1;
  return Buffer.from(bytes).toString('hex');
}

/**
 * p3's first commitment is lost, so attempt 1 is signed by p1 and p2; p2 replaces its share
 * (re-signed with its own identity key) and p1's share is held until p2's is delivered, so
 * the honest share is the one that completes the set and triggers aggregation.
 */
function cheatFirst(harness: Harness, bigEndian: boolean): void {
  let held: string | undefined;
  harness.hooks.intercept = async ({ from, body }) => {
    const type = typeOf(body);
    if (from === 'p3' && type === MessageType.signCommitment && bodyOf(parseRaw(body)).attempt === 1) return [];
    if (type !== MessageType.signShare || bodyOf(parseRaw(body)).attempt !== 1) return [body];
    if (from === 'p1') {
      held = body;
      return [];
    }
    if (from !== 'p2') return [body];
    const envelope = parseRaw(body);
    const forged = await resign(requiredVault(harness.cluster, 'p2'), envelope, { body: { ...bodyOf(envelope), share: flipLowBit(String(bodyOf(envelope).share), bigEndian) } });
    return held === undefined ? [forged] : [forged, held];
  };
}

const CASES = [
  { suite: 'ed25519', path: 'm/0/7', taproot: undefined, bigEndian: false, message: encoder.encode('ed25519 child'), verifies: opensslVerifies },
  { suite: 'ed448', path: 'm/0/7', taproot: undefined, bigEndian: false, message: encoder.encode('ed448 child'), verifies: ed448Verifies },
  {
    suite: 'secp256k1-tr',
    path: 'm/0/7',
    taproot: { merkleRoot: Buffer.from(sha256(encoder.encode('a script tree'))).toString('hex') },
    bigEndian: true,
    message: sha256(encoder.encode('secp256k1-tr child output key')),
    verifies: bip340Verifies,
  },
];

describe('a wrong canonical signature share, found at aggregation', () => {
  it.each(CASES)('($suite, $path) blames only its sender, not the honest signer whose share came last; the retry with p3 signs', async (c) => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    const keygen = await harness.cluster.keygen({ keyId: 'k1', threshold: 2, suite: c.suite });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    cheatFirst(harness, c.bigEndian);

    const session = await harness.cluster.initiator.requestSignature({ keyId: 'k1', message: c.message, path: c.path, ...(c.taproot === undefined ? {} : { taproot: c.taproot }) });
    await harness.cluster.run();
    const results = harness.cluster.takeResults().filter((r) => r.session === session);
    expect(results).toHaveLength(1);
    const result = results[0]?.type === 'sign.result' ? (results[0].body as SignResultBody) : undefined;
    expect(result?.ok, JSON.stringify(result?.error)).toBe(true);
    expect(result?.signers).toEqual(['p1', 'p3']);
    expect(result?.publicKey).not.toBe(keygen.publicKey);
    expect(c.verifies(result?.publicKey ?? '', c.message, result?.signature ?? '')).toBe(true);

    const stored = await harness.cluster.coordinator.getSession(session);
    expect(stored?.kind === 'sign' ? stored.excluded : undefined).toEqual(['p2']);
    expect(stored?.kind === 'sign' ? stored.attempt : undefined).toBe(2);
    expect(harness.logs.filter((l) => l.message === 'invalid signature share').map((l) => l.fields)).toEqual([expect.objectContaining({ blame: 'p2', attempt: 1 })]);
  });
});
