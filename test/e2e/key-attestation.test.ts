/**
 * The application trusts the parties, not the coordinator, for a group key and for every
 * signature. A malicious coordinator (re-signing its results with its own identity key, as
 * a real one can) tries to hand the SDK a key it made alone and single-key signatures of its
 * own; the SDK refuses each with a typed error naming the coordinator.
 */
import { generateKeyPairSync, sign as opensslSign } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FileKeyPins } from '../../lib/client/key-pins.js';
import { verifyKeyAttestations } from '../../lib/protocol/attestation.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { COORDINATOR, MessageType, type Envelope } from '../../lib/protocol/messages.js';
import {
  bodyOf,
  encoder,
  makeFixture,
  openFromFixture,
  opensslVerifies,
  parseRaw,
  requiredVault,
  resign,
  Scratch,
  typeOf,
  type Fixture,
  type Harness,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixturePromise: Promise<Fixture> | undefined;
const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));

/** A key only the coordinator holds: what it would pass off as the group key. */
function coordinatorOwnKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  return { publicKey: bytesToHex(raw), sign: (message: Uint8Array) => bytesToHex(opensslSign(null, message, privateKey)) };
}

/** Rewrites every result of `type` to the initiator with `change`, re-signed by the coordinator. */
function rewriteResults(harness: Harness, type: string, change: (body: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>) {
  const coordinatorVault = requiredVault(harness.cluster, COORDINATOR);
  let rewritten = 0;
  harness.hooks.intercept = async ({ from, destination, body }) => {
    if (from !== COORDINATOR || destination.kind !== 'initiator' || typeOf(body) !== type) return [body];
    const envelope = parseRaw(body);
    rewritten += 1;
    return [await resign(coordinatorVault, envelope, { body: await change(bodyOf(envelope)) })];
  };
  return () => rewritten;
}

async function servingHarness(fixture: Fixture) {
  const harness = await openFromFixture(scratch, fixture);
  harness.cluster.serve();
  return harness;
}

describe('a coordinator that vouches for a key alone', () => {
  it.each([
    ['swaps in its own key and drops the attestations', (own: string) => (b: Record<string, unknown>) => ({ ...b, publicKey: own, attestations: undefined })],
    ['keeps the attestations but names its own key', (own: string) => (b: Record<string, unknown>) => ({ ...b, publicKey: own })],
    ['drops one party\'s attestation', () => (b: Record<string, unknown>) => ({ ...b, attestations: (b.attestations as Envelope[]).slice(1) })],
  ])('keygen: %s → UntrustedResultError, nothing pinned', async (_name, makeChange) => {
    const harness = await servingHarness(await fixture23());
    const own = coordinatorOwnKey();
    const count = rewriteResults(harness, MessageType.keygenResult, makeChange(own.publicKey));
    const client = harness.cluster.client('cli', { timeoutMs: 60_000 });
    await expect(client.keygen({ keyId: 'k2', threshold: 2, parties: ['p1', 'p2', 'p3'] })).rejects.toMatchObject({
      name: 'UntrustedResultError',
      code: 'untrusted-result',
      culprit: 'coordinator',
      message: expect.stringMatching(/^coordinator: /),
    });
    expect(count()).toBe(1);
    expect(await client.pinnedKey('k2')).toBeUndefined();
  });

  it('key lookup: attestations forged under the coordinator\'s own identity key are refused', async () => {
    const fixture = await fixture23();
    const harness = await servingHarness(fixture);
    const own = coordinatorOwnKey();
    const coordinatorVault = requiredVault(harness.cluster, COORDINATOR);
    rewriteResults(harness, MessageType.keyResult, async (b) => {
      // Each attestation rewritten to the coordinator's key and signed again — by the coordinator.
      const forged = await Promise.all(
        (b.attestations as Envelope[]).map(async (a) => {
          const body = bodyOf(a);
          const publicPackage = body.publicPackage as { commitments: string[] };
          return parseRaw(await resign(coordinatorVault, a, { body: { ...body, groupKey: own.publicKey, publicPackage: { ...publicPackage, commitments: [own.publicKey, ...publicPackage.commitments.slice(1)] } } }));
        }),
      );
      return { ...b, publicKey: own.publicKey, attestations: forged };
    });
    const client = harness.cluster.client('cli', { timeoutMs: 60_000 });
    await expect(client.getKey(fixture.keyId)).rejects.toMatchObject({ name: 'UntrustedResultError', message: expect.stringContaining('not signed by its pinned identity key') });
    // Signing needs a pinned key first: nothing is even requested.
    await expect(client.sign({ keyId: fixture.keyId, message: encoder.encode('x') })).rejects.toMatchObject({ name: 'UntrustedResultError' });
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signRequest)).toEqual([]);
  });
});

describe('a coordinator that answers with signatures of its own', () => {
  it('a single-key signature (its key, the requested message) is refused; the honest one is accepted', async () => {
    const fixture = await fixture23();
    const harness = await servingHarness(fixture);
    const client = harness.cluster.client('cli', { timeoutMs: 60_000 });
    const pinned = await client.getKey(fixture.keyId);
    expect(pinned.publicKey).toBe(fixture.publicKey);

    const own = coordinatorOwnKey();
    const message = encoder.encode('pay 10 to alice');
    rewriteResults(harness, MessageType.signResult, (b) => ({ ...b, publicKey: own.publicKey, signature: own.sign(message) }));
    await expect(client.sign({ keyId: fixture.keyId, message })).rejects.toMatchObject({ name: 'UntrustedResultError', culprit: 'coordinator' });

    // Same forgery, but the result keeps the pinned key's name: the signature still does not verify under it.
    rewriteResults(harness, MessageType.signResult, (b) => ({ ...b, signature: own.sign(message) }));
    await expect(client.sign({ keyId: fixture.keyId, message })).rejects.toMatchObject({
      name: 'UntrustedResultError',
      message: expect.stringContaining('does not verify under the pinned key'),
    });

    harness.hooks.intercept = undefined;
    const honest = await client.sign({ keyId: fixture.keyId, message });
    expect(honest.publicKey).toBe(fixture.publicKey);
    expect(opensslVerifies(fixture.publicKey, message, honest.signatureHex)).toBe(true);
  });

  it('a genuine threshold signature of another message is refused (checked against the requested message, not the result\'s)', async () => {
    const fixture = await fixture23();
    const harness = await servingHarness(fixture);
    const client = harness.cluster.client('cli', { timeoutMs: 60_000 });
    const first = await client.sign({ keyId: fixture.keyId, message: encoder.encode('pay 10 to alice') });

    rewriteResults(harness, MessageType.signResult, (b) => ({ ...b, message: bytesToHex(first.message), signature: first.signatureHex }));
    await expect(client.sign({ keyId: fixture.keyId, message: encoder.encode('pay 20 to bob') })).rejects.toMatchObject({ name: 'UntrustedResultError' });
    // Without the echoed message field the signature itself fails against the requested message.
    rewriteResults(harness, MessageType.signResult, (b) => ({ ...b, message: undefined, signature: first.signatureHex }));
    await expect(client.sign({ keyId: fixture.keyId, message: encoder.encode('pay 30 to carol') })).rejects.toMatchObject({ name: 'UntrustedResultError' });
  });

  it('a result for another key id than requested is refused', async () => {
    const fixture = await fixture23();
    const harness = await servingHarness(fixture);
    const client = harness.cluster.client('cli', { timeoutMs: 60_000 });
    rewriteResults(harness, MessageType.signResult, (b) => ({ ...b, keyId: 'other' }));
    await expect(client.sign({ keyId: fixture.keyId, message: encoder.encode('m') })).rejects.toMatchObject({ name: 'UntrustedResultError' });
  });
});

describe('pinning', () => {
  it('the key is pinned per key id from its attestations; a later result naming another key is refused', async () => {
    const fixture = await fixture23();
    const harness = await servingHarness(fixture);
    const dir = await scratch.dir();
    const pins = new FileKeyPins(`${dir}/pins.json`);
    const client = harness.cluster.client('cli', { timeoutMs: 60_000, pins });
    const key = await client.getKey(fixture.keyId);
    expect(await pins.get(fixture.keyId)).toMatchObject({ keyId: fixture.keyId, publicKey: fixture.publicKey, threshold: 2, parties: ['p1', 'p2', 'p3'] });
    expect(key).toMatchObject({ publicKey: fixture.publicKey, threshold: 2 });

    // Another key's genuine attestations offered for this key id: refused by the attestation
    // check (key id), so a swap between two real keys is caught too.
    const other = await client.keygen({ keyId: 'k-other', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    const otherAttestations = (await harness.cluster.coordinator.getKey('k-other'))?.attestations;
    rewriteResults(harness, MessageType.keyResult, (b) => ({ ...b, publicKey: other.publicKey, attestations: otherAttestations }));
    await expect(harness.cluster.client('cli', { timeoutMs: 60_000, pins }).getKey(fixture.keyId)).rejects.toMatchObject({ name: 'UntrustedResultError' });
    expect((await pins.get(fixture.keyId))?.publicKey).toBe(fixture.publicKey);
  });
});

describe('verifyKeyAttestations', () => {
  it('accepts the n genuine attestations and refuses every partial or altered set', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const record = await harness.cluster.coordinator.getKey(fixture.keyId);
    const attestations = record?.attestations ?? [];
    const keys = harness.cluster.directory.parties;
    const key = verifyKeyAttestations(attestations, keys, { keyId: fixture.keyId });
    expect(key).toMatchObject({ publicKey: fixture.publicKey, threshold: 2, parties: ['p1', 'p2', 'p3'] });
    expect(Object.keys(key.auditAnchors).sort()).toEqual(['p1', 'p2', 'p3']);

    const [a1, a2, a3] = attestations as [Envelope, Envelope, Envelope];
    const p1Vault = requiredVault(harness.cluster, 'p1');
    const altered = parseRaw(await resign(p1Vault, a1, { body: { ...bodyOf(a1), threshold: 3 } }));
    const stolen = parseRaw(await resign(p1Vault, a2)); // p2's attestation re-signed by p1
    const cases: Array<[string, Envelope[] | undefined, object]> = [
      ['none', undefined, {}],
      ['n-1', [a1, a2], {}],
      ['duplicate', [a1, a1, a2], {}],
      ['one disagrees', [altered, a2, a3], {}],
      ['signed by another party', [a1, stolen, a3], {}],
      ['another threshold requested', [a1, a2, a3], { threshold: 3 }],
      ['another party set requested', [a1, a2, a3], { parties: ['p1', 'p2'] }],
      ['another key id', [a1, a2, a3], { keyId: 'k9' }],
    ];
    for (const [name, set, expected] of cases) {
      expect(() => verifyKeyAttestations(set, keys, { keyId: fixture.keyId, ...expected }), name).toThrow(expect.objectContaining({ code: 'untrusted-result' }));
    }
    expect(() => verifyKeyAttestations(attestations, { p1: keys.p1, p2: keys.p2 } as typeof keys, { keyId: fixture.keyId })).toThrow(/not a pinned party/);
  });
});
