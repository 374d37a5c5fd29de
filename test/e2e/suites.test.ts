/**
 * A suite per key (issue #12): keygen and signing for secp256k1-tr (BIP340/Taproot) and
 * Ed448 on the embedded cluster, every signature checked by an implementation written here
 * (libsecp256k1 through tiny-secp256k1, OpenSSL's Ed448 through node:crypto), and a value
 * of another suite's size relayed into a secp256k1-tr session refused with state unchanged.
 * Ed25519 keys are covered by keygen-sign.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { RefusalCode } from '../../lib/ports/errors.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { COORDINATOR, MessageType, type Envelope } from '../../lib/protocol/messages.js';
import { bodyOf, encoder, freshCopy, openHarness, parseRaw, requiredParty, requiredVault, resign, Scratch, storeItems, typeOf, type Harness } from '../support/harness.js';
import { bip340Verifies, ed448Verifies } from '../support/ed25519.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

/** Every suite at 2-of-3 and 3-of-5 (Ed448 3-of-5 is the slowest: noble's Ed448 takes seconds there). */
const SIZES = [
  { t: 2, n: 3 },
  { t: 3, n: 5 },
];
const SUITES = [
  // BIP340 as Taproot uses it signs a 32-byte digest.
  { suite: 'secp256k1-tr', keyHex: 64, signatureHex: 128, verifies: bip340Verifies, message: (text: string) => sha256(encoder.encode(text)), sizes: SIZES },
  { suite: 'ed448', keyHex: 114, signatureHex: 228, verifies: ed448Verifies, message: (text: string) => encoder.encode(text), sizes: SIZES },
];

function cutOff(harness: Harness, offline: readonly string[]): void {
  harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'party' && offline.includes(destination.id) ? [] : [body]);
}

describe.each(SUITES)('$suite keys', ({ suite, keyHex, signatureHex, verifies, message, sizes }) => {
  it.each(sizes)('$t-of-$n: keygen, then two signatures by different t-subsets, each accepted by the independent verifier', async ({ t, n }) => {
    const harness = await openHarness(await scratch.dir(), { parties: n });
    const cluster = scratch.own(harness.cluster);
    const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);
    const keygen = await cluster.keygen({ keyId: 'k1', threshold: t, suite });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    const publicKey = keygen.publicKey ?? '';
    expect(publicKey).toHaveLength(keyHex);
    const record = await cluster.coordinator.getKey('k1');
    expect(record?.publicKey).toBe(publicKey);
    expect(record?.suite).toMatch(suite === 'ed448' ? /ED448/ : /secp256k1-SHA256-TR/);

    const first = message(`pay 10 to alice (${t}-of-${n})`);
    const signed = await cluster.sign({ keyId: 'k1', message: first });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(signed.signature).toHaveLength(signatureHex);
    expect(verifies(publicKey, first, signed.signature ?? '')).toBe(true);
    expect(verifies(publicKey, message('pay 10 to mallory'), signed.signature ?? '')).toBe(false);

    // The last t parties only: another subset, other Lagrange coefficients.
    cutOff(harness, parties.slice(0, n - t));
    const second = message('second message');
    const signed2 = await cluster.sign({ keyId: 'k1', message: second });
    expect(signed2.ok, JSON.stringify(signed2.error)).toBe(true);
    expect([...(signed2.signers ?? [])].sort()).toEqual(parties.slice(n - t));
    expect(verifies(publicKey, second, signed2.signature ?? '')).toBe(true);
  });
});

/** One 2-of-3 secp256k1-tr key for the refusals below (each test sets its own intercept). */
let shared: Promise<Harness> | undefined;
function trHarness(): Promise<Harness> {
  shared ??= (async () => {
    // Two rounds always: these refusals script sign.commitment and sign.package (pool batches have their own test below).
    const harness = await openHarness(await scratch.dir(), { parties: 3, limits: { ...DEFAULT_LIMITS, noncePool: false } });
    scratch.own(harness.cluster);
    const keygen = await harness.cluster.keygen({ keyId: 'tr', threshold: 2, suite: 'secp256k1-tr' });
    if (!keygen.ok) throw new Error(`keygen failed: ${JSON.stringify(keygen.error)}`);
    return harness;
  })();
  return shared;
}

describe('a secp256k1-tr session', () => {
  it('refuses messages that are not 32-byte digests at the coordinator (no party is asked)', async () => {
    const harness = await trHarness();
    harness.hooks.intercept = undefined;
    const mark = harness.sent.length;
    await harness.cluster.initiator.requestSignature({ keyId: 'tr', message: encoder.encode('not a digest') });
    await harness.cluster.run();
    expect(harness.cluster.outcomes.at(-1)?.outcome).toMatchObject({ status: 'refused', code: RefusalCode.malformed });
    expect(harness.sent.slice(mark).filter((m) => m.destination.kind === 'party')).toEqual([]);
  });

  it('refuses an Ed25519-sized nonce commitment relayed by the coordinator (re-signed packages): wrong-suite-size, nothing spent', async () => {
    const harness = await trHarness();
    harness.hooks.intercept = undefined;
    // Hold every signing package: each signer keeps an unused nonce.
    harness.hooks.intercept = ({ from, body }) => (from === 'coordinator' && typeOf(body) === MessageType.signPackage ? [] : [body]);
    const start = harness.sent.length;
    const session = await harness.cluster.initiator.requestSignature({ keyId: 'tr', message: sha256(encoder.encode('held')) });
    await harness.cluster.run();
    const stored = await harness.cluster.coordinator.getSession(session);
    if (stored?.kind !== 'sign') throw new Error('no signing session');
    const [victim, accomplice] = stored.signers;
    if (victim === undefined || accomplice === undefined) throw new Error('expected two signers');

    // The accomplice's commitment with a valid Ed25519 point (32 bytes) as its hiding element,
    // signed by the accomplice; the coordinator re-signs the package with its own key.
    const held = harness.sent.slice(start).find((m) => m.destination.kind === 'party' && m.destination.id === victim && typeOf(m.body) === MessageType.signPackage);
    if (held === undefined) throw new Error('no package held for the victim');
    const pkg = parseRaw(held.body);
    const ed25519Sized = bytesToHex(ed25519.Point.BASE.multiply(7n).toBytes());
    const commitments = await Promise.all(
      (bodyOf(pkg).commitments as Envelope[]).map(async (c) => {
        if (c.from !== accomplice) return c;
        const body = bodyOf(c);
        const changed = { ...(body.commitment as Record<string, string>), hiding: ed25519Sized };
        return parseRaw(await resign(requiredVault(harness.cluster, accomplice), c, { body: { ...body, commitment: changed } }));
      }),
    );
    const forged = await freshCopy(requiredVault(harness.cluster, 'coordinator'), pkg, Date.now(), { ...bodyOf(pkg), commitments });
    const before = await storeItems(harness.dir, victim, '');
    const mark = harness.sent.length;
    const outcome = await requiredParty(harness.cluster, victim).handle(forged);

    expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.wrongSuiteSize });
    expect(harness.sent.slice(mark).filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);
    // Nothing of the victim's changed but its refusal's audit entry and replay record: the nonce is unused, nothing consumed.
    const after = await storeItems(harness.dir, victim, '');
    const nonces = (items: typeof before) => items.filter((i) => i.pk.startsWith('nonce#') || i.pk.startsWith('key#'));
    expect(nonces(after)).toEqual(nonces(before));
    expect(after.filter((i) => i.sk === 'consumed')).toEqual([]);
  });

  it('refuses an Ed25519-sized commitment sent to the coordinator: wrong-suite-size naming its sender, who is excluded; nothing of it is recorded', async () => {
    const harness = await trHarness();
    harness.hooks.intercept = undefined;
    // Hold every commitment on its way to the coordinator.
    harness.hooks.intercept = ({ destination, body }) => (destination.kind === 'coordinator' && typeOf(body) === MessageType.signCommitment ? [] : [body]);
    const start = harness.sent.length;
    const session = await harness.cluster.initiator.requestSignature({ keyId: 'tr', message: sha256(encoder.encode('commit')) });
    await harness.cluster.run();
    const held = harness.sent.slice(start).find((m) => m.destination.kind === 'coordinator' && typeOf(m.body) === MessageType.signCommitment);
    if (held === undefined) throw new Error('no commitment held');
    const envelope = parseRaw(held.body);
    const body = bodyOf(envelope);
    const changed = { ...(body.commitment as Record<string, string>), binding: bytesToHex(ed25519.Point.BASE.multiply(9n).toBytes()) };
    const forged = await resign(requiredVault(harness.cluster, envelope.from), envelope, { body: { ...body, commitment: changed } });
    const claimsBefore = await storeItems(harness.dir, 'coordinator', 'commitment#');
    const outcome = await harness.cluster.coordinator.handle(forged);
    expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.wrongSuiteSize });
    expect(harness.logs.some((l) => l.message === 'message refused' && l.fields.code === RefusalCode.wrongSuiteSize && l.fields.blame === envelope.from)).toBe(true);
    const after = await harness.cluster.coordinator.getSession(session);
    if (after?.kind !== 'sign') throw new Error('no signing session');
    expect(after.excluded).toEqual([envelope.from]);
    expect(Object.keys(after.commitments)).not.toContain(envelope.from);
    expect(await storeItems(harness.dir, 'coordinator', 'commitment#')).toEqual(claimsBefore);
  });

  it('refuses an Ed25519-sized commitment inside a pool.batch sent to the coordinator: wrong-suite-size naming its sender; no batch stored, the cursor unchanged, and no signature uses it', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    const keygen = await harness.cluster.keygen({ keyId: 'tr', threshold: 2, suite: 'secp256k1-tr' });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    // The first signature (two rounds) asks every party for a batch: p2's is held on its way.
    harness.hooks.intercept = ({ from, body }) => (from === 'p2' && typeOf(body) === MessageType.poolBatch ? [] : [body]);
    const start = harness.sent.length;
    const first = sha256(encoder.encode('fills the pools'));
    const signed = await harness.cluster.sign({ keyId: 'tr', message: first });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(bip340Verifies(keygen.publicKey ?? '', first, signed.signature ?? '')).toBe(true);
    const held = harness.sent.slice(start).find((m) => m.from === 'p2' && typeOf(m.body) === MessageType.poolBatch);
    if (held === undefined) throw new Error('no pool batch held');
    const envelope = parseRaw(held.body);
    const body = bodyOf(envelope);
    const commitments = body.commitments as Record<string, string>[];
    const changed = commitments.map((c, i) => (i === 1 ? { ...c, binding: bytesToHex(ed25519.Point.BASE.multiply(9n).toBytes()) } : c));
    // Signed by p2's own identity key: p2 itself sends the wrong-sized element.
    const forged = await resign(requiredVault(harness.cluster, 'p2'), envelope, { body: { ...body, commitments: changed } });
    const poolBefore = await harness.cluster.stores.get(COORDINATOR)?.scanPrefix('pool#tr');
    // The cursor and p1's and p3's batches.
    expect(poolBefore?.map((item) => item.sk.replace(/#[0-9a-f]{32}$/, '')).sort()).toEqual(['batch#p1', 'batch#p3', 'cursor']);
    const outcome = await harness.cluster.coordinator.handle(forged);
    expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.wrongSuiteSize });
    expect(harness.logs.some((l) => l.message === 'message refused' && l.fields.code === RefusalCode.wrongSuiteSize && l.fields.blame === 'p2')).toBe(true);
    const poolAfter = await harness.cluster.stores.get(COORDINATOR)?.scanPrefix('pool#tr');
    expect(poolAfter).toEqual(poolBefore);
    expect(poolAfter?.some((item) => item.sk.startsWith('batch#p2#'))).toBe(false);
    // The next signature runs one round with the two batches that were accepted.
    const from = harness.sent.length;
    harness.hooks.intercept = undefined;
    const next = sha256(encoder.encode('one round without p2'));
    const pooled = await harness.cluster.sign({ keyId: 'tr', message: next });
    expect(pooled.ok, JSON.stringify(pooled.error)).toBe(true);
    expect(pooled.signers).toEqual(['p1', 'p3']);
    expect(harness.sent.slice(from).filter((m) => typeOf(m.body) === MessageType.signPooled).map((m) => m.destination.kind === 'party' ? m.destination.id : '').sort()).toEqual(['p1', 'p3']);
    expect(bip340Verifies(keygen.publicKey ?? '', next, pooled.signature ?? '')).toBe(true);
  });
});
