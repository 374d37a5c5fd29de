/**
 * One-round signing, party side (sign/party-pooled.ts), through real Parties: every check of
 * both rounds before a share is computed, one spend per pool nonce, and a refusal that leaves
 * the nonce where it was. Messages are signed by their real senders; forgeries by whoever
 * forges them.
 */
import { hex } from '../../../support/coordinator-fixtures.js';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL } from '../../../../lib/protocol/directory.js';
import { Delegation } from '../../../../lib/protocol/delegation.js';
import { bytesToHex, decodeHex } from '../../../../lib/protocol/encoding.js';
import { envelopeSigningInput, parseBody } from '../../../../lib/protocol/envelope.js';
import { commitmentFromWire, commitmentToWire, publicToWire, signingPackageHash } from '../../../../lib/protocol/frost-wire.js';
import { COORDINATOR, MessageType, type Envelope, type NonceCommitment, type PooledCommitment } from '../../../../lib/protocol/messages.js';
import { partyKeys, PoolNonceRecord, PoolSpentRecord, type KeyShareRecord } from '../../../../lib/protocol/party-state.js';
import { requestFingerprint } from '../../../../lib/protocol/requests.js';
import { openDerived, openSecretAndKey, secretContext } from '../../../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../../../lib/protocol/secret-scope.js';
import { derivationOf, signingPackage } from '../../../../lib/protocol/sign/signing-key.js';
import { assertUsablePoolNonce } from '../../../../lib/protocol/sign/party-pooled.js';
import { ed25519Suite as suite } from '../../../../lib/protocol/suite.js';
import { opensslVerifies } from '../../../support/harness.js';
import { KEY_ID, POLICY, PoolBench, type BenchOptions } from '../../../support/pool-bench.js';
import { refusal } from '../../../support/refusal.js';

const { frost } = suite;
const AUDIT = { seq: 0, hash: '00'.repeat(32) };
let bench: PoolBench | undefined;
afterEach(() => {
  bench?.close();
  bench = undefined;
});

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what}`);
  return value;
}

/** A bench whose p1 and p2 each published one batch of 4. */
async function pooledBench(options: BenchOptions = {}) {
  bench = await PoolBench.open(options);
  const b = bench;
  const batches: Record<string, Envelope> = {};
  for (const p of ['p1', 'p2']) batches[p] = required((await b.refill(p)).batch, `batch of ${p}`);
  const entry = (party: string, index = 0): PooledCommitment => ({ batch: required(batches[party], `batch of ${party}`), index });
  /** The coordinator sends `to` a one-round package. */
  const pooled = async (to: string, request: { request: Envelope; session: string }, entries: PooledCommitment[], fields: { attempt?: number; epoch?: number } = {}) =>
    b.signed(COORDINATOR, MessageType.signPooled, request.session, { request: request.request, attempt: fields.attempt ?? 1, epoch: fields.epoch ?? 0, commitments: entries }, to);
  return { b, batches, entry, pooled };
}

const commitmentOf = (e: PooledCommitment): NonceCommitment => required(parseBody(e.batch, MessageType.poolBatch).commitments[e.index], 'commitment');
const poolItem = (b: PoolBench, party: string, e: PooledCommitment) => b.member(party).store.get(partyKeys.poolNonce(KEY_ID, e.batch.session, e.index));
/** The entry's nonce item while it is unused. */
const nonceItem = async (b: PoolBench, party: string, e: PooledCommitment) => {
  const item = await poolItem(b, party, e);
  return item?.data.state === 'spent' ? undefined : item;
};
/** The entry's nonce item once spent: the record of what it was spent on. */
const spentItem = async (b: PoolBench, party: string, e: PooledCommitment) => {
  const item = await poolItem(b, party, e);
  return item?.data.state === 'spent' ? item : undefined;
};
const refusals = (b: PoolBench, party: string) => b.member(party).sent.filter((e) => e.type === MessageType.partyRefused).map((e) => parseBody(e, MessageType.partyRefused));
const withoutAudit = (items: Awaited<ReturnType<PoolBench['snapshot']>>) => items.filter((i) => i.pk !== 'audit' && !i.pk.startsWith('auditmark#'));

async function auditRecords(b: PoolBench, party: string) {
  return (await b.member(party).party.audit.readChain()).records as { decision: string; code?: string; session: string }[];
}

/** Aggregates the signers' shares (noble) over the package's commitments; the hex signature, or undefined if noble refuses. */
function aggregate(b: PoolBench, entries: PooledCommitment[], message: Uint8Array, shares: Record<string, string>, pub = b.dealt.public): string | undefined {
  const commitments = entries.map((e) => commitmentFromWire(suite, commitmentOf(e)));
  const byIdentifier = Object.fromEntries(Object.entries(shares).map(([p, s]) => [frost.Identifier.derive(p), decodeHex(s, 'share')]));
  try {
    return bytesToHex(frost.aggregate(pub, commitments, message, byIdentifier));
  } catch {
    return undefined;
  }
}

describe('sign.pooled: the one-round signature', () => {
  it('two signers answer from their pools; the shares aggregate to a signature OpenSSL accepts; each nonce is spent with its approval', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    const entries = [entry('p2', 1), entry('p1', 2)];
    for (const p of ['p1', 'p2']) Object.assign(b.member(p).vault.calls, { generateDataKey: 0, decryptDataKey: 0, signIdentity: 0 });
    for (const p of ['p1', 'p2']) expect((await b.deliver(p, await pooled(p, request, entries))).status).toBe('processed');

    const shares = Object.fromEntries(['p1', 'p2'].map((p) => [p, required(b.sharesOf(p)[0], `share of ${p}`)] as const));
    const packageHash = signingPackageHash({ session: request.session, attempt: 1, keyId: KEY_ID, message: parseBody(request.request, MessageType.signRequest).message, commitments: entries.map(commitmentOf) });
    for (const share of Object.values(shares)) expect(share).toMatchObject({ attempt: 1, packageHash });
    const message = new TextEncoder().encode('pay 10 to alice');
    const signature = required(aggregate(b, entries, message, { p1: shares.p1?.share ?? '', p2: shares.p2?.share ?? '' }), 'signature');
    expect(opensslVerifies(publicToWire(b.dealt.public).commitments[0] ?? '', message, signature)).toBe(true);

    for (const [p, e] of [['p1', entry('p1', 2)], ['p2', entry('p2', 1)]] as const) {
      // One KMS Decrypt, no data key made; one identity signature (the share).
      expect(b.member(p).vault.calls).toEqual({ generateDataKey: 0, decryptDataKey: 1, signIdentity: 1 });
      // Spent in place: the item holds what it was spent on, no nonce scalars, for the session TTL.
      expect(await nonceItem(b, p, e)).toBeUndefined();
      const spent = required(await spentItem(b, p, e), 'spent item');
      expect(PoolSpentRecord.parse(spent.data)).toEqual({ state: 'spent', keyId: KEY_ID, epoch: 0, batchId: e.batch.session, index: e.index, hiding: commitmentOf(e).hiding, requestFingerprint: requestFingerprint(request.request), packageHash, share: shares[p]?.share });
      expect(spent.expiresAt).toBe(Math.floor(b.now() / 1000) + DEFAULT_LIMITS.sessionTtlSeconds);
      expect((await auditRecords(b, p)).at(-1)).toMatchObject({ decision: 'approved', session: request.session });
      // The other nonces of the batch are untouched.
      expect(await nonceItem(b, p, { ...e, index: 0 })).toBeDefined();
    }
  });

  it('costs each signer one batch read and one transaction (no replay mark once processed), one Decrypt and one signature', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    const envelope = await pooled('p1', request, [entry('p1'), entry('p2')]);
    const { storeCalls, vault } = b.member('p1');
    Object.assign(storeCalls, { get: 0, getMany: 0, query: 0, write: 0 });
    Object.assign(vault.calls, { generateDataKey: 0, decryptDataKey: 0, signIdentity: 0 });
    expect((await b.deliver('p1', envelope)).status).toBe('processed');
    expect(storeCalls).toEqual({ get: 0, getMany: 1, query: 0, write: 1 });
    expect(vault.calls).toEqual({ generateDataKey: 0, decryptDataKey: 1, signIdentity: 1 });
    expect((await b.member('p1').store.scanPrefix('seen#')).filter((i) => i.data.type === MessageType.signPooled)).toEqual([]);
  });

  it('signs under a derivation path: the shares aggregate under the child key', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request({ path: 'm/0/7' });
    const entries = [entry('p1'), entry('p2')];
    for (const p of ['p1', 'p2']) expect((await b.deliver(p, await pooled(p, request, entries))).status).toBe('processed');
    const record = required(await b.member('p1').store.get(partyKeys.keyShare(KEY_ID)), 'share').data as KeyShareRecord;
    const derivation = derivationOf(record, { path: 'm/0/7' });
    const child = signingPackage(suite, record.publicPackage, derivation);
    const message = new TextEncoder().encode('pay 10 to alice');
    const shares = { p1: b.sharesOf('p1')[0]?.share ?? '', p2: b.sharesOf('p2')[0]?.share ?? '' };
    const signature = required(aggregate(b, entries, message, shares, child), 'signature under the child key');
    expect(opensslVerifies(bytesToHex(required(child.commitments[0], 'child key')), message, signature)).toBe(true);
    expect(aggregate(b, entries, message, shares)).toBeUndefined();
  });

  it('a redelivered package gets the same share again; the nonce stays spent and nothing else changes', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    const entries = [entry('p1'), entry('p2')];
    await b.deliver('p1', await pooled('p1', request, entries));
    const before = await b.snapshot('p1');
    const again = await b.deliver('p1', await pooled('p1', request, entries));
    expect(again.status).toBe('processed');
    const shares = b.sharesOf('p1');
    expect(shares).toHaveLength(2);
    expect(shares[1]).toEqual(shares[0]);
    expect(await b.snapshot('p1')).toEqual(before);
    expect(await nonceItem(b, 'p1', entry('p1'))).toBeUndefined();
  });

  it('a different package for a spent nonce (another co-signer commitment, or another request) is refused as nonce reuse and logged; nothing changes', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    await b.deliver('p1', await pooled('p1', request, [entry('p1'), entry('p2', 0)]));
    const before = await b.snapshot('p1');
    const sent = b.member('p1').sent.length;

    const otherCosigner = await b.deliver('p1', await pooled('p1', request, [entry('p1'), entry('p2', 1)], { attempt: 1 }));
    expect(otherCosigner).toMatchObject({ status: 'refused', code: RefusalCode.nonceReuse });
    const otherRequest = await b.request({ message: bytesToHex(new TextEncoder().encode('pay 1000 to mallory')) });
    expect(await b.deliver('p1', await pooled('p1', otherRequest, [entry('p1'), entry('p2', 0)]))).toMatchObject({ status: 'refused', code: RefusalCode.nonceReuse });

    expect(await b.snapshot('p1')).toEqual(before);
    expect(b.sharesOf('p1', sent)).toEqual([]);
    expect(b.member('p1').logs.filter((l) => l.level === 'error' && /possible attack/.test(l.message))).toHaveLength(2);
    expect(refusals(b, 'p1').map((r) => [r.code, r.attempt])).toEqual([
      [RefusalCode.nonceReuse, 1],
      [RefusalCode.nonceReuse, 1],
    ]);
  });

  it('two concurrent deliveries of different packages for one nonce: one share, the other refused as nonce reuse', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    const packages = await Promise.all([entry('p2', 0), entry('p2', 1)].map((other) => pooled('p1', request, [entry('p1'), other])));
    const outcomes = await Promise.all(packages.map((p) => b.deliver('p1', p)));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['processed', 'refused']);
    expect(outcomes.find((o) => o.status === 'refused')).toMatchObject({ code: RefusalCode.nonceReuse });
    expect(b.sharesOf('p1')).toHaveLength(1);
    expect((await b.member('p1').store.query(partyKeys.poolPartition(KEY_ID), 'nonce#')).filter((i) => i.data.state === 'spent')).toHaveLength(1);
  });
});

describe('sign.pooled: refusals leave the nonce unused', () => {
  /** Delivers `envelope` to p1, expects a refusal with `code`, and that p1's table is as it was with its nonce #0 still there. */
  async function expectRefused(b: PoolBench, envelope: Envelope, code: RefusalCode, own: PooledCommitment) {
    const before = await b.snapshot('p1');
    const outcome = await b.deliver('p1', envelope);
    expect(outcome).toMatchObject({ status: 'refused', code });
    expect(await b.snapshot('p1')).toEqual(before);
    expect(await nonceItem(b, 'p1', own)).toBeDefined();
    expect(await spentItem(b, 'p1', own)).toBeUndefined();
    expect(b.sharesOf('p1')).toEqual([]);
  }

  it('a commitment this party never made (a batch it signed but did not store)', async () => {
    const { b, entry, pooled } = await pooledBench();
    const bytes = required(Object.values(b.dealt.secretShares)[0], 'a share').signingShare;
    const unknown = commitmentToWire(frost.commit({ identifier: frost.Identifier.derive('p1'), signingShare: bytes }).commitments);
    const batch = await b.signed('p1', MessageType.poolBatch, randomBytes(16).toString('hex'), { keyId: KEY_ID, epoch: 0, expires: b.now() + 60_000, commitments: [unknown], audit: AUDIT });
    await expectRefused(b, await pooled('p1', await b.request(), [{ batch, index: 0 }, entry('p2')]), RefusalCode.wrongRound, entry('p1'));
    // The right batch, but its entry altered by whoever signed it: not what this party holds there.
    const body = parseBody(entry('p1').batch, MessageType.poolBatch);
    const altered = await b.signed('p1', MessageType.poolBatch, entry('p1').batch.session, { ...body, commitments: [unknown, ...body.commitments.slice(1)] });
    await expectRefused(b, await pooled('p1', await b.request(), [{ batch: altered, index: 0 }, entry('p2')]), RefusalCode.incorrectCommitment, entry('p1'));
  });

  it('an expired batch (the nonce is past its expiry, still in the table)', async () => {
    const { b, entry, pooled } = await pooledBench({ limits: { noncePool: { ...DEFAULT_NONCE_POOL, ttlSeconds: 600 } } });
    b.offsetMs += 601_000;
    await expectRefused(b, await pooled('p1', await b.request(), [entry('p1'), entry('p2')]), RefusalCode.stale, entry('p1'));
  });

  it('a batch of another key, or of another epoch than the share', async () => {
    const { b, entry, pooled } = await pooledBench();
    const body = parseBody(entry('p1').batch, MessageType.poolBatch);
    const otherKey = await b.signed('p1', MessageType.poolBatch, entry('p1').batch.session, { ...body, keyId: 'k2' });
    await expectRefused(b, await pooled('p1', await b.request(), [{ batch: otherKey, index: 0 }, entry('p2')]), RefusalCode.inconsistentPackage, entry('p1'));
    // A refresh moved the share to epoch 1 (re-sealed): the epoch-0 batch is refused before anything is opened.
    await b.storeShare('p1', 1);
    await expectRefused(b, await pooled('p1', await b.request(), [entry('p1'), entry('p2')], { epoch: 1 }), RefusalCode.staleEpoch, entry('p1'));
  });

  it('a co-signer\'s batch signed by its delegated key, by a party not of the key, or forged by the coordinator', async () => {
    const { b, entry, pooled } = await pooledBench();
    const honest = entry('p2').batch;
    const key = await new Delegation(b.cast.signer('p2'), { holder: 'p2', role: 'party' }).keyAt(b.now());
    const { sig: _sig, ...unsigned } = honest;
    const certified = { ...unsigned, cert: key.certificate };
    const delegated: Envelope = { ...certified, sig: bytesToHex(key.sign(envelopeSigningInput(certified))) };
    await expectRefused(b, await pooled('p1', await b.request(), [entry('p1'), { batch: delegated, index: 0 }]), RefusalCode.badSignature, entry('p1'));

    const p2Body = parseBody(honest, MessageType.poolBatch);
    const stranger = await b.signed('p4', MessageType.poolBatch, randomBytes(16).toString('hex'), { ...p2Body, commitments: p2Body.commitments.map((c) => ({ ...c, identifier: frost.Identifier.derive('p4') })) });
    await expectRefused(b, await pooled('p1', await b.request(), [entry('p1'), { batch: stranger, index: 0 }]), RefusalCode.unexpectedSender, entry('p1'));

    const forged = { ...(await b.signed(COORDINATOR, MessageType.poolBatch, honest.session, p2Body)), from: 'p2' };
    await expectRefused(b, await pooled('p1', await b.request(), [entry('p1'), { batch: forged, index: 0 }]), RefusalCode.badSignature, entry('p1'));
    // Also when the forgery stands in for this party's own batch.
    const ownForged = { ...(await b.signed(COORDINATOR, MessageType.poolBatch, entry('p1').batch.session, parseBody(entry('p1').batch, MessageType.poolBatch))), from: 'p1' };
    await expectRefused(b, await pooled('p1', await b.request(), [{ batch: ownForged, index: 0 }, entry('p2')]), RefusalCode.badSignature, entry('p1'));
  });

  it('a package at another epoch than the share (audited), and a refusal that tells the coordinator its attempt', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    const before = withoutAudit(await b.snapshot('p1'));
    const outcome = await b.deliver('p1', await pooled('p1', request, [entry('p1'), entry('p2')], { attempt: 3, epoch: 1 }));
    expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.staleEpoch });
    expect(withoutAudit(await b.snapshot('p1'))).toEqual(before);
    expect(refusals(b, 'p1').at(-1)).toMatchObject({ inResponseTo: MessageType.signPooled, attempt: 3, code: RefusalCode.staleEpoch });
    expect((await auditRecords(b, 'p1')).at(-1)).toMatchObject({ decision: 'refused', code: RefusalCode.staleEpoch, session: request.session });
  });

  it('a policy refusal (initiator not allowed, approvals missing) is audited and leaves the nonce unused', async () => {
    for (const policy of [
      { ...POLICY, initiators: { cli: { keygen: false, keys: ['another-key'] } } },
      { ...POLICY, keys: { [KEY_ID]: { approvals: { quorum: 1, approvers: ['boss'] } } } },
    ]) {
      bench?.close();
      const { b, entry, pooled } = await pooledBench({ policy });
      const request = await b.request();
      const before = withoutAudit(await b.snapshot('p1'));
      const outcome = await b.deliver('p1', await pooled('p1', request, [entry('p1'), entry('p2')], { attempt: 2 }));
      expect(outcome.status).toBe('refused');
      expect(withoutAudit(await b.snapshot('p1'))).toEqual(before);
      expect(await nonceItem(b, 'p1', entry('p1'))).toBeDefined();
      expect((await auditRecords(b, 'p1')).at(-1)).toMatchObject({ decision: 'refused', session: request.session });
      expect(refusals(b, 'p1').at(-1)).toMatchObject({ inResponseTo: MessageType.signPooled, attempt: 2 });
      expect(b.sharesOf('p1')).toEqual([]);
    }
  });
});

describe('sign.pooled is marked only when refused (replay-exemptions.ts): a duplicate of a processed one is answered from stored state', () => {
  /** p1's whole table: audit trail, approval marks, rate-limit windows, pool items, and any replay mark. */
  const table = (b: PoolBench) => b.member('p1').store.scanPrefix('');

  it('the same envelope delivered again gets the identical sign.share; no second audit entry, no replay mark, nothing else changes', async () => {
    const { b, entry, pooled } = await pooledBench();
    const envelope = await pooled('p1', await b.request(), [entry('p1'), entry('p2')]);
    expect((await b.deliver('p1', envelope)).status).toBe('processed');
    const before = await table(b);
    const records = (await auditRecords(b, 'p1')).length;
    for (let i = 0; i < 2; i++) expect(await b.deliver('p1', envelope)).toMatchObject({ status: 'processed', type: MessageType.signPooled });
    const shares = b.sharesOf('p1');
    expect(shares).toHaveLength(3);
    for (const share of shares) expect(share).toEqual(shares[0]);
    expect(await table(b)).toEqual(before);
    expect(await auditRecords(b, 'p1')).toHaveLength(records);
    expect(before.filter((i) => i.pk.startsWith('seen#') && i.data.type === MessageType.signPooled)).toEqual([]);
  });

  it('two concurrent deliveries of one envelope: the same share twice, one audit entry, one spent item', async () => {
    const { b, entry, pooled } = await pooledBench();
    const request = await b.request();
    const envelope = await pooled('p1', request, [entry('p1'), entry('p2')]);
    const outcomes = await Promise.all([b.deliver('p1', envelope), b.deliver('p1', envelope)]);
    expect(outcomes.map((o) => o.status)).toEqual(['processed', 'processed']);
    const shares = b.sharesOf('p1');
    expect(shares).toHaveLength(2);
    expect(shares[1]).toEqual(shares[0]);
    expect((await auditRecords(b, 'p1')).filter((r) => r.session === request.session).map((r) => r.decision)).toEqual(['approved']);
    expect(await spentItem(b, 'p1', entry('p1'))).toMatchObject({ data: { share: shares[0]?.share } });
  });

  it('a duplicate after the rate-limit window turned takes no slot and appends nothing; another package for the spent nonce is still refused', async () => {
    const policy = { ...POLICY, keys: { [KEY_ID]: { rateLimit: { max: 1, windowSeconds: 60 } } } };
    const { b, entry, pooled } = await pooledBench({ policy });
    const first = await b.request();
    const envelope = await pooled('p1', first, [entry('p1', 0), entry('p2', 0)]);
    expect((await b.deliver('p1', envelope)).status).toBe('processed');
    // The next window: the duplicate (still fresh) must not count as a request in it, nor be refused for the first one's slot.
    b.offsetMs += 61_000;
    const before = await table(b);
    expect(await b.deliver('p1', envelope)).toMatchObject({ status: 'processed' });
    expect(b.sharesOf('p1')).toHaveLength(2);
    expect(b.sharesOf('p1')[1]).toEqual(b.sharesOf('p1')[0]);
    expect(await table(b)).toEqual(before);

    // The new window's one slot is still free: another request takes it, and a third is refused (the limit is real).
    expect((await b.deliver('p1', await pooled('p1', await b.request(), [entry('p1', 1), entry('p2', 1)]))).status).toBe('processed');
    expect(await b.deliver('p1', await pooled('p1', await b.request(), [entry('p1', 2), entry('p2', 2)]))).toMatchObject({ status: 'refused', code: RefusalCode.policy });

    // The coordinator re-signs the first request's package with another co-signer entry for the spent nonce: refused, nothing stored, no share.
    const afterLimit = await table(b);
    const sent = b.member('p1').sent.length;
    const resigned = await pooled('p1', first, [entry('p1', 0), entry('p2', 3)]);
    expect(await b.deliver('p1', resigned)).toMatchObject({ status: 'refused', code: RefusalCode.nonceReuse });
    // Nothing stored but the refused envelope's replay mark.
    const added = (await table(b)).filter((item) => !afterLimit.some((old) => old.pk === item.pk && old.sk === item.sk));
    expect(added.map((i) => i.pk)).toEqual([`seen#${resigned.id}`]);
    expect((await table(b)).filter((i) => i.pk !== `seen#${resigned.id}`)).toEqual(afterLimit);
    expect(b.sharesOf('p1', sent)).toEqual([]);
  });
});

describe('a refused sign.pooled is marked: its duplicate is refused as a replay', () => {
  it('a duplicate of a rate-limited package, delivered in the next window, is refused as replayed: no share, no slot, no audit entry', async () => {
    const policy = { ...POLICY, keys: { [KEY_ID]: { rateLimit: { max: 1, windowSeconds: 60 } } } };
    const { b, entry, pooled } = await pooledBench({ policy });
    expect((await b.deliver('p1', await pooled('p1', await b.request(), [entry('p1', 0), entry('p2', 0)]))).status).toBe('processed');
    const limited = await pooled('p1', await b.request(), [entry('p1', 1), entry('p2', 1)]);
    expect(await b.deliver('p1', limited)).toMatchObject({ status: 'refused', code: RefusalCode.policy });
    // The next window: without the mark, the same (still fresh) envelope would be decided again, approved, and take its slot.
    b.offsetMs += 61_000;
    const before = await b.snapshot('p1');
    const sent = b.member('p1').sent.length;
    expect(await b.deliver('p1', limited)).toMatchObject({ status: 'refused', code: RefusalCode.replayed });
    expect(await b.snapshot('p1')).toEqual(before);
    expect(b.sharesOf('p1', sent)).toEqual([]);
    expect(await nonceItem(b, 'p1', entry('p1', 1))).toMatchObject({ data: { commitment: commitmentOf(entry('p1', 1)) } });
    // The new window's slot is still free for a real request.
    expect((await b.deliver('p1', await pooled('p1', await b.request(), [entry('p1', 2), entry('p2', 2)]))).status).toBe('processed');
  });
});

describe('one decision per relayed request, not per session', () => {
  it('a second request under an approved request id (another message, relayed by the coordinator) is a decision of its own: rate-limited and audited, and signs nothing', async () => {
    const policy = { ...POLICY, keys: { [KEY_ID]: { rateLimit: { max: 1, windowSeconds: 3600 } } } };
    const { b, entry, pooled } = await pooledBench({ policy });
    const first = await b.request({ requestId: 'same-id' });
    expect((await b.deliver('p1', await pooled('p1', first, [entry('p1', 0), entry('p2', 0)]))).status).toBe('processed');
    // Same initiator and request id (so the same session), another message: the initiator signed both.
    const second = await b.request({ requestId: 'same-id', message: hex('pay 1000 to mallory') });
    expect(second.session).toBe(first.session);
    const before = withoutAudit(await b.snapshot('p1'));
    const outcome = await b.deliver('p1', await pooled('p1', second, [entry('p1', 1), entry('p2', 1)]));
    expect(outcome).toMatchObject({ status: 'refused', code: RefusalCode.policy });
    expect(outcome.status === 'refused' ? outcome.reason : '').toMatch(/rate limit/);
    expect(withoutAudit(await b.snapshot('p1'))).toEqual(before);
    expect(await nonceItem(b, 'p1', entry('p1', 1))).toBeDefined();
    expect(b.sharesOf('p1')).toHaveLength(1);
    // Both decisions are in the audit trail: the approval of the first, the refusal of the second.
    const decisions = (await auditRecords(b, 'p1')).filter((r) => r.session === first.session).map((r) => r.decision);
    expect(decisions).toEqual(['approved', 'refused']);
  });
});

describe('a one-round request falling back to two rounds', () => {
  it('takes no second rate-limit slot when the fallback lands in the next window (the decision was approved once)', async () => {
    const policy = { ...POLICY, keys: { [KEY_ID]: { rateLimit: { max: 1, windowSeconds: 60 } } } };
    const { b, entry, pooled } = await pooledBench({ policy });
    const request = await b.request();
    expect((await b.deliver('p1', await pooled('p1', request, [entry('p1', 0), entry('p2', 0)]))).status).toBe('processed');
    // The co-signer went silent; the coordinator falls back after the window turned.
    b.offsetMs += 61_000;
    const commit = await b.signed(COORDINATOR, MessageType.signCommit, request.session, { request: request.request, attempt: 2 }, 'p1');
    expect(await b.deliver('p1', commit)).toMatchObject({ status: 'processed' });
    expect(b.member('p1').sent.filter((e) => e.type === MessageType.signCommitment)).toHaveLength(1);
    // Another request in that new window still takes the slot the fallback did not.
    const other = await b.request();
    const refused = await b.deliver('p1', await b.signed(COORDINATOR, MessageType.signCommit, other.session, { request: other.request, attempt: 1 }, 'p1'));
    expect(refused).toMatchObject({ status: 'processed' });
    const third = await b.request();
    expect(await b.deliver('p1', await b.signed(COORDINATOR, MessageType.signCommit, third.session, { request: third.request, attempt: 1 }, 'p1'))).toMatchObject({ status: 'refused', code: RefusalCode.policy });
  });
});

describe('pool nonces and a re-sealed share', () => {
  it('after a refresh-like re-seal of the share (new data key), an old pool nonce no longer opens; signing with it fails without spending it', async () => {
    const { b, entry, pooled } = await pooledBench();
    const own = entry('p1');
    const key = partyKeys.poolNonce(KEY_ID, own.batch.session, own.index);
    const record = PoolNonceRecord.parse(required(await nonceItem(b, 'p1', own), 'nonce').data);
    await b.storeShare('p1', 0);
    const share = (required(await b.member('p1').store.get(partyKeys.keyShare(KEY_ID)), 'share').data as KeyShareRecord).share;
    const scope = new SecretScope();
    try {
      const { dataKey } = await openSecretAndKey(b.member('p1').vault, secretContext('p1', KEY_ID, 'key-share'), partyKeys.keyShare(KEY_ID), share, scope);
      expect(() => openDerived(dataKey, 'nonce', key, record.nonces, scope)).toThrow(/sealed under a share since replaced/);
    } finally {
      scope.wipe();
    }
    const before = await b.snapshot('p1');
    await expect(b.deliver('p1', await pooled('p1', await b.request(), [own, entry('p2')]))).rejects.toThrow(/failed authentication/);
    expect(withoutAudit(await b.snapshot('p1'))).toEqual(withoutAudit(before));
    expect(b.sharesOf('p1')).toEqual([]);
  });
});

describe('assertUsablePoolNonce (pure)', () => {
  const commitment = { identifier: frost.Identifier.derive('p1'), hiding: '11'.repeat(32), binding: '22'.repeat(32) };
  const nonce: PoolNonceRecord = { keyId: KEY_ID, epoch: 1, batchId: 'ab'.repeat(16), index: 3, expires: 2_000, commitment, nonces: { iv: '00'.repeat(12), ciphertext: '00' } };
  const own = { batchId: nonce.batchId, index: 3, commitment };
  const expected = { keyId: KEY_ID, epoch: 1, identifier: commitment.identifier, now: 1_000 };

  it('accepts the nonce asked for, unexpired, of the epoch, committed as in the package', () => {
    expect(assertUsablePoolNonce(nonce, own, expected, [commitment])).toBe(nonce);
  });

  it('refuses one past its expiry, of another epoch, or committed otherwise', () => {
    expect(refusal(() => assertUsablePoolNonce(nonce, own, { ...expected, now: 2_000 }, [commitment])).code).toBe(RefusalCode.wrongRound);
    expect(refusal(() => assertUsablePoolNonce({ ...nonce, index: 4 }, own, expected, [commitment])).code).toBe(RefusalCode.wrongRound);
    expect(refusal(() => assertUsablePoolNonce({ ...nonce, epoch: 0 }, own, expected, [commitment])).code).toBe(RefusalCode.staleEpoch);
    expect(refusal(() => assertUsablePoolNonce(nonce, own, expected, [{ ...commitment, binding: '33'.repeat(32) }])).code).toBe(RefusalCode.incorrectCommitment);
  });
});
