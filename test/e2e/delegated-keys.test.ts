/**
 * Delegated message-signing keys (lib/protocol/delegation.ts) through the local cluster: the
 * happy path, and every certificate check a forger would have to get past, delivered and
 * relayed. Forgers here hold keys the test gives them (another party's identity key, a key
 * of their own, a stolen delegated key whose certificate has expired or is not yet valid)
 * but never the identity key of the sender they impersonate in that way.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyVault } from '../../lib/ports/key-vault.js';
import { certificateSigningInput, DELEGATION_PURPOSE } from '../../lib/protocol/delegation.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { envelopeSigningInput } from '../../lib/protocol/envelope.js';
import { MessageType, type DelegationCertificate, type Envelope, type UnsignedEnvelope } from '../../lib/protocol/messages.js';
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
  SteppedClock,
  storeItems,
  typeOf,
  type Fixture,
  type Harness,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixturePromise: Promise<Fixture> | undefined;
const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));
const PARTIES = ['p1', 'p2', 'p3'];
const MINUTE = 60_000;
/** A certificate window around `now`, valid now. */
const window = (now: number) => ({ notBefore: now - MINUTE, expires: now + 5 * MINUTE });
/** Signed by delegated keys: both signing paths and the coordinator's pool.refill (pool.batch is not: its commitments are relayed to other signers under the party's identity signature). */
const SIGN_TYPES = new Set<string>([
  MessageType.signCommit,
  MessageType.signCommitment,
  MessageType.signPackage,
  MessageType.signPooled,
  MessageType.poolRefill,
  MessageType.signShare,
  MessageType.signResult,
]);

async function nonceItems(dir: string, party: string) {
  const items = await storeItems(dir, party, 'nonce#');
  return { unused: items.filter((i) => i.sk === 'nonce'), consumed: items.filter((i) => i.sk === 'consumed') };
}

/** Every nonce item of every party, two-round and pooled (unused, consumed, spent). */
async function allNonceItems(dir: string) {
  return Promise.all(PARTIES.map(async (party) => ({ party, twoRound: await storeItems(dir, party, 'nonce#'), pool: await storeItems(dir, party, 'pool#') })));
}

interface Forged {
  readonly cert: DelegationCertificate;
  readonly privateKey: KeyObject;
}

/**
 * A certificate for a fresh key pair, signed by `issuer` (an identity vault) or, with
 * `issuer: 'self'`, by the certified key itself.
 */
async function certify(
  issuer: KeyVault | 'self',
  fields: Pick<DelegationCertificate, 'holder' | 'role' | 'notBefore' | 'expires'>,
): Promise<Forged> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(12);
  const unsigned = { v: 1, purpose: DELEGATION_PURPOSE, publicKey: raw.toString('hex'), ...fields } as const;
  const input = certificateSigningInput(unsigned);
  const sig = issuer === 'self' ? sign(null, input, privateKey) : await issuer.signIdentity(input);
  return { cert: { ...unsigned, sig: Buffer.from(sig).toString('hex') }, privateKey };
}

/** `envelope` (with `changes`) carrying `cert`, signed by `signer` (the certified key unless a test says otherwise). */
function delegatedCopy(envelope: Envelope, cert: DelegationCertificate, signer: KeyObject, changes: Partial<UnsignedEnvelope> = {}): Envelope {
  const { sig: _sig, cert: _cert, ...rest } = envelope;
  const unsigned: UnsignedEnvelope = { ...rest, ...changes, cert };
  return { ...unsigned, sig: sign(null, envelopeSigningInput(unsigned), signer).toString('hex') };
}

describe('delegated keys: the happy path', () => {
  it('signs with delegated keys, one certificate per node, verified with node:crypto; renewed after half a lifetime', async () => {
    const fixture = await fixture23();
    const clock = new SteppedClock();
    const harness = await openFromFixture(scratch, fixture, { delegatedKeys: true, clock });
    const vaults = ['coordinator', ...PARTIES].map((node) => requiredVault(harness.cluster, node));
    let identitySignatures = 0;
    for (const vault of vaults) {
      const original = vault.signIdentity.bind(vault);
      vault.signIdentity = (message) => {
        identitySignatures += 1;
        return original(message);
      };
    }

    // The first signature runs two rounds and fills the pools; the second runs one round.
    for (const text of ['first', 'second']) {
      const message = encoder.encode(text);
      const result = await harness.cluster.sign({ keyId: fixture.keyId, message });
      expect(result.ok).toBe(true);
      expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    }
    const signed = harness.sent.map((m) => parseRaw(m.body));
    for (const type of [MessageType.signCommit, MessageType.poolRefill, MessageType.poolBatch, MessageType.signPooled]) expect(signed.some((e) => e.type === type), type).toBe(true);
    const delegated = signed.filter((e) => SIGN_TYPES.has(e.type));
    expect(delegated.length).toBeGreaterThan(0);
    for (const envelope of delegated) expect(envelope.cert).toMatchObject({ holder: envelope.from, purpose: DELEGATION_PURPOSE });
    // The initiator's requests and the parties' pool.batch stay identity-signed.
    const identitySigned = signed.filter((e) => !SIGN_TYPES.has(e.type));
    for (const envelope of identitySigned) expect(envelope.cert).toBeUndefined();
    const batches = identitySigned.filter((e) => e.type === MessageType.poolBatch);
    expect(batches.map((e) => e.from).sort()).toEqual(PARTIES);
    const certificates = new Set(delegated.map((e) => e.cert?.sig));
    // One certificate per node that sent (the coordinator and every committing party), each one
    // identity signature; the only other identity signatures are the parties' pool batches.
    expect(certificates.size).toBe(new Set(delegated.map((e) => e.from)).size);
    expect(identitySignatures).toBe(certificates.size + batches.length);

    // Past half a lifetime, each node certifies a new key before signing again.
    clock.advance(6 * MINUTE);
    const message = encoder.encode('after renewal');
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(result.ok).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    const renewed = harness.sent.slice(signed.length).map((m) => parseRaw(m.body)).filter((e) => SIGN_TYPES.has(e.type));
    for (const envelope of renewed) expect(certificates.has(envelope.cert?.sig)).toBe(false);
  });
});

/**
 * Someone who can write to the parties' queues but holds no coordinator key sends each
 * party a `sign.commit` signed by a key with a forged or unusable certificate.
 */
describe('a delivered envelope signed by a delegated key is refused', () => {
  type Variant = (ctx: { harness: Harness; envelope: Envelope; now: number }) => Promise<Envelope>;
  const coordinatorCert = (now: number) => ({ holder: 'coordinator', role: 'coordinator' as const, ...window(now) });
  const variants: [string, string, RegExp, Variant][] = [
    [
      'an expired certificate (a stolen key after its expiry)',
      'stale',
      /expired/,
      async ({ harness, envelope, now }) => {
        const forged = await certify(requiredVault(harness.cluster, 'coordinator'), { ...coordinatorCert(now), notBefore: now - 9 * MINUTE, expires: now - 2 * MINUTE });
        return delegatedCopy(envelope, forged.cert, forged.privateKey, { ts: now - 3 * MINUTE });
      },
    ],
    [
      'a certificate signed by another party\'s identity key',
      'bad-signature',
      /not signed by the identity key of "coordinator"/,
      async ({ harness, envelope, now }) => {
        const forged = await certify(requiredVault(harness.cluster, 'p1'), coordinatorCert(now));
        return delegatedCopy(envelope, forged.cert, forged.privateKey);
      },
    ],
    [
      'a self-signed certificate',
      'bad-signature',
      /not signed by the identity key of "coordinator"/,
      async ({ envelope, now }) => {
        const forged = await certify('self', coordinatorCert(now));
        return delegatedCopy(envelope, forged.cert, forged.privateKey);
      },
    ],
    [
      'a certificate for another holder than the sender',
      'bad-signature',
      /certificate is for "p1", not "coordinator"/,
      async ({ harness, envelope, now }) => {
        const forged = await certify(requiredVault(harness.cluster, 'coordinator'), { ...coordinatorCert(now), holder: 'p1' });
        return delegatedCopy(envelope, forged.cert, forged.privateKey);
      },
    ],
    [
      'a certificate for another role',
      'bad-signature',
      /certificate is for a party, expected a coordinator/,
      async ({ harness, envelope, now }) => {
        const forged = await certify(requiredVault(harness.cluster, 'coordinator'), { ...coordinatorCert(now), role: 'party' });
        return delegatedCopy(envelope, forged.cert, forged.privateKey);
      },
    ],
    [
      'an envelope signed by another key than the certified one',
      'bad-signature',
      /not by the certified key/,
      async ({ harness, envelope, now }) => {
        const genuine = await certify(requiredVault(harness.cluster, 'coordinator'), coordinatorCert(now));
        const other = generateKeyPairSync('ed25519').privateKey;
        return delegatedCopy(envelope, genuine.cert, other);
      },
    ],
  ];

  it.each(variants)('%s (%s): no party draws a nonce', async (_name, code, reason, forge) => {
    const fixture = await fixture23();
    // Pools off: this forges the two-round sign.commit (the one-round counterpart is below).
    const harness = await openFromFixture(scratch, fixture, { limits: { ...DEFAULT_LIMITS, noncePool: false } });
    let forgedCount = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== 'coordinator' || typeOf(body) !== MessageType.signCommit) return [body];
      forgedCount += 1;
      return [JSON.stringify(await forge({ harness, envelope: parseRaw(body), now: Date.now() }))];
    };
    // Parties drop what their coordinator did not sign: the session never finishes.
    await expect(harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('pay 10 to alice') })).rejects.toThrow(/no sign\.result/);
    expect(forgedCount).toBe(PARTIES.length);
    const received = harness.cluster.outcomes.filter((o) => o.node !== 'coordinator');
    expect(received.map((o) => o.node).sort()).toEqual(PARTIES);
    for (const { outcome } of received) expect(outcome).toMatchObject({ status: 'refused', code, reason: expect.stringMatching(reason) });
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signCommitment)).toEqual([]);
    for (const party of PARTIES) expect(await nonceItems(harness.dir, party)).toEqual({ unused: [], consumed: [] });
  });

  // One round: after a genuine signature filled the pools, every sign.pooled (and then every
  // sign.commit of the two-round fallback) carries the forged certificate.
  it.each(variants)('one round: %s (%s): no party spends a pool nonce or draws one', async (_name, code, reason, forge) => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const primed = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('fills the pools') });
    expect(primed.ok, JSON.stringify(primed.error)).toBe(true);
    const before = await allNonceItems(harness.dir);
    expect(before.every((p) => p.pool.some((i) => i.sk.startsWith('nonce#')))).toBe(true);
    const sentFrom = harness.sent.length;
    const outcomesFrom = harness.cluster.outcomes.length;
    const forged: string[] = [];
    harness.hooks.intercept = async ({ from, body }) => {
      const type = typeOf(body);
      if (from !== 'coordinator' || (type !== MessageType.signPooled && type !== MessageType.signCommit)) return [body];
      forged.push(type);
      return [JSON.stringify(await forge({ harness, envelope: parseRaw(body), now: Date.now() }))];
    };
    await expect(harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('pay 10 to alice') })).rejects.toThrow(/no sign\.result/);
    // t one-round packages, then the fallback's commit requests to every party: all forged.
    expect(forged).toEqual([MessageType.signPooled, MessageType.signPooled, ...PARTIES.map(() => MessageType.signCommit)]);
    const received = harness.cluster.outcomes.slice(outcomesFrom).filter((o) => o.node !== 'coordinator');
    expect(received).toHaveLength(forged.length);
    for (const { outcome } of received) expect(outcome).toMatchObject({ status: 'refused', code, reason: expect.stringMatching(reason) });
    const answered = harness.sent.slice(sentFrom).filter((m) => PARTIES.includes(m.from));
    expect(answered.map((m) => typeOf(m.body))).toEqual([]);
    expect(await allNonceItems(harness.dir)).toEqual(before);
  });
});

/**
 * A malicious coordinator holding a stolen delegated key of one party relays, in each
 * `sign.package`, that party's commitment re-signed under a certificate that is not valid
 * now (the party's own identity key did sign it). The package itself carries the
 * coordinator's genuine signature: only the relayed certificate can give it away.
 */
describe('a relayed envelope signed by a delegated key is refused', () => {
  const cases: [string, RegExp, (now: number) => { notBefore: number; expires: number; ts: number }][] = [
    ['expired', /expired/, (now) => ({ notBefore: now - 9 * MINUTE, expires: now - 2 * MINUTE, ts: now - 5 * MINUTE })],
    ['not yet valid', /not valid for another/, (now) => ({ notBefore: now + 3 * MINUTE, expires: now + 8 * MINUTE, ts: now + 3 * MINUTE })],
  ];

  it.each(cases)('a certificate that is %s: no nonce is spent', async (_name, reason, times) => {
    const fixture = await fixture23();
    // Pools off: this rewrites the two-round sign.package (the one-round counterpart is below).
    const harness = await openFromFixture(scratch, fixture, { limits: { ...DEFAULT_LIMITS, noncePool: false } });
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
    let rewritten = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== 'coordinator' || typeOf(body) !== MessageType.signPackage) return [body];
      const envelope = parseRaw(body);
      const outer = bodyOf(envelope);
      const now = Date.now();
      const { ts, ...window } = times(now);
      const commitments = await Promise.all(
        (outer.commitments as Envelope[]).map(async (relayed) => {
          if (relayed.from === envelope.to) return relayed;
          const stolen = await certify(requiredVault(harness.cluster, relayed.from), { holder: relayed.from, role: 'party', ...window });
          rewritten += 1;
          return delegatedCopy(relayed, stolen.cert, stolen.privateKey, { ts });
        }),
      );
      return [await resign(coordinatorVault, envelope, { body: { ...outer, commitments } })];
    };
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('pay 10 to alice') });
    expect(result.ok).toBe(false);
    expect(result.signature).toBeUndefined();
    expect(rewritten).toBeGreaterThan(0);
    const received = harness.cluster.outcomes.filter((o) => o.node !== 'coordinator' && o.outcome.type === MessageType.signPackage);
    expect(received.length).toBeGreaterThan(0);
    for (const { outcome } of received) expect(outcome).toMatchObject({ status: 'refused', code: 'bad-signature', reason: expect.stringMatching(reason) });
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);
    for (const party of PARTIES) expect((await nonceItems(harness.dir, party)).consumed).toEqual([]);
  });
});

/**
 * One round: the malicious coordinator relays, in each `sign.pooled`, the co-signer's
 * `pool.batch` re-signed under a stolen delegated key of that party whose certificate is
 * valid now. A batch must carry its party's identity signature (pool.batch is not
 * delegable): every package is refused before a pool nonce is spent, and the signature is
 * made by the two-round fallback.
 */
describe('a relayed pool batch signed by a delegated key is refused', () => {
  it('even with a certificate valid now: no pool nonce is spent; two rounds sign', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const primed = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('fills the pools') });
    expect(primed.ok, JSON.stringify(primed.error)).toBe(true);
    const pools = () => Promise.all(PARTIES.map((party) => storeItems(harness.dir, party, 'pool#')));
    const before = await pools();
    const outcomesFrom = harness.cluster.outcomes.length;
    const sentFrom = harness.sent.length;
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
    let rewritten = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== 'coordinator' || typeOf(body) !== MessageType.signPooled) return [body];
      const envelope = parseRaw(body);
      const outer = bodyOf(envelope);
      const now = Date.now();
      const commitments = await Promise.all(
        (outer.commitments as { batch: Envelope; index: number }[]).map(async (entry) => {
          if (entry.batch.from === envelope.to) return entry;
          const stolen = await certify(requiredVault(harness.cluster, entry.batch.from), { holder: entry.batch.from, role: 'party', ...window(now) });
          rewritten += 1;
          return { ...entry, batch: delegatedCopy(entry.batch, stolen.cert, stolen.privateKey, { ts: now }) };
        }),
      );
      return [await resign(coordinatorVault, envelope, { body: { ...outer, commitments } })];
    };
    const message = encoder.encode('pay 10 to alice');
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(rewritten).toBe(2);
    const pooled = harness.cluster.outcomes.slice(outcomesFrom).filter((o) => o.outcome.type === MessageType.signPooled);
    expect(pooled).toHaveLength(2);
    for (const { outcome } of pooled) expect(outcome).toMatchObject({ status: 'refused', code: 'bad-signature', reason: expect.stringMatching(/relayed pool\.batch .* a delegated key is not accepted/) });
    // No pool nonce was spent or changed, and the fallback signed in two rounds.
    expect(await pools()).toEqual(before);
    // (A party that refused attempt 1 first is left out of attempt 2, as in two rounds.)
    expect(harness.sent.slice(sentFrom).filter((m) => typeOf(m.body) === MessageType.signCommit).length).toBeGreaterThanOrEqual(fixture.threshold);
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
  });
});
