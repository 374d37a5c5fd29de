/**
 * Signing under a child key (non-hardened path) end to end on Ed25519: every party derives the
 * tweak from its own stored public package and the path in the initiator's signed request;
 * the coordinator aggregates and checks under the child key; the SDK verifies under the child
 * key it derives from its pin. A path outside an initiator's policy is refused and audited, and
 * a coordinator cannot change the path.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AuditRecord, verifyAuditChain } from '../../lib/protocol/audit.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { deriveKey } from '../../lib/protocol/derivation/key.js';
import { createEnvelope, deriveSessionId } from '../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { KeyShareRecord } from '../../lib/protocol/party-state.js';
import { derivationCount, tweakedPackageCount } from '../../lib/protocol/sign/signing-key.js';
import {
  bodyOf,
  encoder,
  makeFixture,
  openFromFixture,
  opensslVerifies,
  parseRaw,
  requiredParty,
  requiredVault,
  resign,
  rewriteRelayedSignRequest,
  Scratch,
  storeItems,
  typeOf,
  type Fixture,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixturePromise: Promise<Fixture> | undefined;
const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));
const PARTIES = ['p1', 'p2', 'p3'];

/** The child key at `path`, computed from a party's stored record (what the parties attested), not from any result. */
async function childKey(fixture: Fixture, path: string): Promise<string> {
  const item = (await storeItems(fixture.dir, 'p1', 'key#')).find((i) => i.sk === 'share');
  const share = KeyShareRecord.parse(item?.data);
  return bytesToHex(deriveKey({ suite: share.suite, publicKey: share.groupKey, publicPackageHash: share.publicPackageHash }, path).publicKey);
}

async function auditRecords(cluster: Parameters<typeof requiredParty>[0], party: string): Promise<AuditRecord[]> {
  const chain = await requiredParty(cluster, party).audit.readChain();
  expect(verifyAuditChain(chain)).toMatchObject({ ok: true });
  return chain.records.map((r) => AuditRecord.parse(r));
}

describe('signing with a derivation path (Ed25519)', () => {
  it('m/0/7: the signature verifies under the child key, not the parent, and the audit records the path', async () => {
    const fixture = await fixture23();
    const { cluster } = await openFromFixture(scratch, fixture);
    const message = encoder.encode('pay 5 to the m/0/7 account');
    const result = await cluster.sign({ keyId: fixture.keyId, message, path: 'm/0/7' });
    expect(result).toMatchObject({ ok: true, path: 'm/0/7' });
    const child = await childKey(fixture, 'm/0/7');
    expect(child).not.toBe(fixture.publicKey);
    expect(result.publicKey).toBe(child);
    expect(opensslVerifies(child, message, result.signature ?? '')).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(false);
    for (const party of result.signers ?? []) {
      const records = await auditRecords(cluster, party);
      expect(records.find((r) => r.kind === 'sign' && r.decision === 'approved')).toMatchObject({ path: 'm/0/7' });
    }
  });

  it('a child key is derived once per process and path, not at every step of every node (one process here)', async () => {
    const fixture = await fixture23();
    const { cluster } = await openFromFixture(scratch, fixture);
    const message = encoder.encode('derive once');
    const before = derivationCount();
    const tweakedBefore = tweakedPackageCount();
    const first = await cluster.sign({ keyId: fixture.keyId, message, path: 'm/5/9' });
    expect(first).toMatchObject({ ok: true, path: 'm/5/9', publicKey: await childKey(fixture, 'm/5/9') });
    // Intake, every outbox, aggregation and both rounds of every signer used to derive it again,
    // and every signer and the aggregation tweaked the public package again.
    expect(derivationCount() - before).toBe(1);
    expect(tweakedPackageCount() - tweakedBefore).toBe(1);
    const second = await cluster.sign({ keyId: fixture.keyId, message, path: 'm/5/9' });
    expect(second).toMatchObject({ ok: true, publicKey: first.publicKey });
    expect(opensslVerifies(first.publicKey ?? '', message, second.signature ?? '')).toBe(true);
    expect(derivationCount() - before).toBe(1);
    expect(tweakedPackageCount() - tweakedBefore).toBe(1);
  });

  it('the SDK derives the child key offline and checks the signature under it', async () => {
    const fixture = await fixture23();
    const { cluster } = await openFromFixture(scratch, fixture);
    cluster.serve();
    const client = cluster.client();
    const derived = await client.derivePublicKey(fixture.keyId, 'm/0/7');
    expect(derived.publicKey).toBe(await childKey(fixture, 'm/0/7'));
    const message = encoder.encode('sdk child signature');
    const signed = await client.sign({ keyId: fixture.keyId, message, path: 'm/0/7' });
    expect(signed.publicKey).toBe(derived.publicKey);
    expect(opensslVerifies(derived.publicKey, message, signed.signatureHex)).toBe(true);
    await expect(client.exportXpub(fixture.keyId)).rejects.toThrow(/secp256k1-tr/);
    await expect(client.sign({ keyId: fixture.keyId, message, path: "m/0'/1" })).rejects.toThrow(/hardened/);
  });

  it('a path outside the initiator’s allowed prefixes is refused by every party, audited with the path, and nothing is stored', async () => {
    const fixture = await fixture23();
    const policy = { maxMessageBytes: 1024, initiators: { cli: { keygen: true, keys: ['*'], paths: ['m/1'] } } };
    const harness = await openFromFixture(scratch, fixture, { policy });
    const { cluster } = harness;
    const allowed = await cluster.sign({ keyId: fixture.keyId, message: encoder.encode('allowed'), path: 'm/1/3' });
    expect(allowed.ok).toBe(true);

    const requestId = 'outside-policy';
    const result = await cluster.sign({ keyId: fixture.keyId, message: encoder.encode('not allowed'), path: 'm/0/7', requestId });
    expect(result.ok).toBe(false);
    expect(result.signature).toBeUndefined();
    const session = deriveSessionId('cli', requestId);
    for (const party of PARTIES) {
      const records = await auditRecords(cluster, party);
      expect(records.find((r) => r.session === session)).toMatchObject({ decision: 'refused', code: 'policy', path: 'm/0/7' });
      const nonces = (await storeItems(harness.dir, party, `nonce#${session}`)).filter((i) => i.sk === 'nonce' || i.sk === 'consumed');
      expect(nonces).toEqual([]);
    }
  });

  it('a coordinator that rewrites the path in the relayed request (re-signing the package) is refused: no share', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const { cluster } = harness;
    const rewritten = rewriteRelayedSignRequest(harness, (request) => ({ ...request, path: 'm/0/8' }));
    const result = await cluster.sign({ keyId: fixture.keyId, message: encoder.encode('for m/0/7 only'), path: 'm/0/7' });
    expect(rewritten()).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);
    const packages = cluster.outcomes.filter((o) => o.node !== COORDINATOR && o.outcome.type === MessageType.signPackage);
    expect(packages.length).toBeGreaterThan(0);
    for (const { outcome } of packages) expect(outcome).toMatchObject({ status: 'refused', code: 'bad-signature' });
  });

  it('a coordinator that swaps in another initiator-signed request with another path after commit is refused: the nonce stays unspent', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const { cluster } = harness;
    const requestId = 'path-swap';
    const message = encoder.encode('same bytes, other child');
    // The initiator really signed this too (say, a retry with an edited path); the coordinator keeps it.
    const other = await createEnvelope(requiredVault(cluster, 'cli'), Date.now(), {
      type: MessageType.signRequest,
      session: deriveSessionId('cli', requestId),
      from: 'cli',
      to: COORDINATOR,
      body: { requestId, keyId: fixture.keyId, message: bytesToHex(message), path: 'm/9/9' },
    });
    const coordinatorVault = requiredVault(cluster, COORDINATOR);
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== COORDINATOR || typeOf(body) !== MessageType.signPackage) return [body];
      const envelope = parseRaw(body);
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), request: other } })];
    };
    const result = await cluster.sign({ keyId: fixture.keyId, message, path: 'm/0/7', requestId });
    expect(result.ok).toBe(false);
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);
    const packages = cluster.outcomes.filter((o) => o.node !== COORDINATOR && o.outcome.type === MessageType.signPackage);
    expect(packages.length).toBeGreaterThan(0);
    for (const { outcome } of packages) expect(outcome).toMatchObject({ status: 'refused', code: 'request-mismatch' });
    for (const party of PARTIES) {
      const items = await storeItems(harness.dir, party, 'nonce#');
      expect(items.filter((i) => i.sk === 'consumed')).toEqual([]);
    }
  });

  it('a coordinator that passes off a parent-key signature as the child signature is caught by the SDK', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const { cluster } = harness;
    const message = encoder.encode('child only');
    const parent = await cluster.sign({ keyId: fixture.keyId, message });
    expect(parent.ok).toBe(true);
    const coordinatorVault = requiredVault(cluster, COORDINATOR);
    let swapped = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== COORDINATOR || typeOf(body) !== MessageType.signResult) return [body];
      const envelope = parseRaw(body);
      if (bodyOf(envelope).ok !== true) return [body];
      swapped += 1;
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), publicKey: fixture.publicKey, signature: parent.signature } })];
    };
    cluster.serve();
    await expect(cluster.client().sign({ keyId: fixture.keyId, message, path: 'm/0/7' })).rejects.toThrow(/names another group key|does not verify/);
    expect(swapped).toBe(1);
  });

  it('a hardened or malformed path sent past the SDK is refused by the coordinator at intake, in one line', async () => {
    const fixture = await fixture23();
    const { cluster } = await openFromFixture(scratch, fixture);
    const result = await cluster.sign({ keyId: fixture.keyId, message: encoder.encode('x'), path: "m/0'/1" });
    expect(result).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(result.error?.message).toMatch(/^hardened step "0'" is not supported/);
  });
});
