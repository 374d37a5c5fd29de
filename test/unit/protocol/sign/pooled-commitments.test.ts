/** A one-round package's pooled commitments, checked before any nonce is touched (sign/pooled-commitments.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { Delegation } from '../../../../lib/protocol/delegation.js';
import { envelopeSigningInput } from '../../../../lib/protocol/envelope.js';
import { commitmentToWire, sortCommitments } from '../../../../lib/protocol/frost-wire.js';
import { MessageType, type Envelope, type NonceCommitment, type PoolBatchBody, type PooledCommitment } from '../../../../lib/protocol/messages.js';
import type { PartyView } from '../../../../lib/protocol/party-context.js';
import { bytesToHex } from '../../../../lib/protocol/encoding.js';
import { verifyPooledCommitments } from '../../../../lib/protocol/sign/pooled-commitments.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { KEY_ID, PoolBench } from '../../../support/pool-bench.js';
import { refusal } from '../../../support/refusal.js';

const { frost } = ed25519Suite;
const AUDIT = { seq: 0, hash: '00'.repeat(32) };
const BATCH = { p1: '11'.repeat(16), p2: '22'.repeat(16), p3: '33'.repeat(16), p4: '44'.repeat(16) } as const;
let bench: PoolBench;
let view: PartyView;
/** Two fresh commitments per party, under its own identifier. */
const commitments: Record<string, NonceCommitment[]> = {};
let batches: Record<string, Envelope>;

function commitmentsOf(party: string): NonceCommitment[] {
  const list = commitments[party];
  if (list === undefined) throw new Error(`no commitments of ${party}`);
  return list;
}

function batchOf(party: keyof typeof BATCH, changes: Partial<PoolBatchBody> = {}, signer: string = party): Promise<Envelope> {
  const body: PoolBatchBody = { keyId: KEY_ID, epoch: 0, expires: bench.now() + 60_000, commitments: commitmentsOf(party), audit: AUDIT, ...changes };
  // Signed by `signer`'s identity key in `party`'s name (a forgery unless they are the same).
  return bench.signed(signer, MessageType.poolBatch, BATCH[party], body).then((e) => (signer === party ? e : { ...e, from: party }));
}

function entry(party: string, index = 0): PooledCommitment {
  const batch = batches[party];
  if (batch === undefined) throw new Error(`no batch of ${party}`);
  return { batch, index };
}

const verify = (pooled: PooledCommitment[], expected: Partial<{ keyId: string; epoch: number; now: number }> = {}) =>
  verifyPooledCommitments(view, pooled, { keyId: KEY_ID, epoch: 0, now: bench.now(), ...expected }, { parties: ['p1', 'p2', 'p3'], threshold: 2 });

beforeAll(async () => {
  bench = await PoolBench.open();
  view = { id: 'p1', directory: bench.cast.directory, suite: ed25519Suite, identifierOf: (p) => frost.Identifier.derive(p) };
  for (const p of ['p1', 'p2', 'p3', 'p4']) {
    // Any scalar hedges the nonces here: only the commitments' identifiers and elements matter.
    const signingShare = Object.values(bench.dealt.secretShares)[0]?.signingShare ?? new Uint8Array(32);
    commitments[p] = [0, 1].map(() => commitmentToWire(frost.commit({ identifier: frost.Identifier.derive(p), signingShare }).commitments));
  }
  batches = Object.fromEntries(await Promise.all((['p1', 'p2', 'p3', 'p4'] as const).map(async (p) => [p, await batchOf(p)] as const)));
});
afterAll(() => bench.close());

describe('verifyPooledCommitments', () => {
  it('returns every signer\'s commitment sorted by identifier, and this party\'s own entry', () => {
    const verified = verify([entry('p3', 1), entry('p1', 1)]);
    expect(verified.commitments).toEqual(sortCommitments([commitmentsOf('p1')[1], commitmentsOf('p3')[1]].filter((c) => c !== undefined)));
    expect(verified.own).toEqual({ batchId: BATCH.p1, index: 1, commitment: commitmentsOf('p1')[1] });
  });

  it('refuses a batch signed by its party\'s delegated key: only identity-signed batches count', async () => {
    const honest = entry('p2').batch;
    const key = await new Delegation(bench.cast.signer('p2'), { holder: 'p2', role: 'party' }).keyAt(bench.now());
    const { sig: _sig, ...unsigned } = honest;
    const certified = { ...unsigned, cert: key.certificate };
    const delegated: Envelope = { ...certified, sig: bytesToHex(key.sign(envelopeSigningInput(certified))) };
    const refused = refusal(() => verify([entry('p1'), { batch: delegated, index: 0 }]));
    expect(refused.code).toBe(RefusalCode.badSignature);
    expect(refused.message).toMatch(/delegated key is not accepted/);
  });

  it('refuses a batch forged by the coordinator in a party\'s name', async () => {
    const forged = await batchOf('p2', {}, 'coordinator');
    expect(refusal(() => verify([entry('p1'), { batch: forged, index: 0 }])).code).toBe(RefusalCode.badSignature);
  });

  it('refuses a batch of a party not of this key, and one party twice', () => {
    expect(refusal(() => verify([entry('p1'), entry('p4')])).message).toMatch(/unexpected or repeated pooled commitment from "p4"/);
    expect(refusal(() => verify([entry('p1'), entry('p2', 0), entry('p2', 1)])).code).toBe(RefusalCode.unexpectedSender);
  });

  it('refuses a batch of another key, another epoch, or expired', async () => {
    const otherKey = await batchOf('p2', { keyId: 'k2' });
    expect(refusal(() => verify([entry('p1'), { batch: otherKey, index: 0 }])).code).toBe(RefusalCode.inconsistentPackage);
    const otherEpoch = await batchOf('p2', { epoch: 1 });
    expect(refusal(() => verify([entry('p1'), { batch: otherEpoch, index: 0 }])).code).toBe(RefusalCode.staleEpoch);
    expect(refusal(() => verify([entry('p1'), entry('p2')], { now: bench.now() + 60_000 })).code).toBe(RefusalCode.stale);
  });

  it('refuses an index past the batch, and a commitment under another party\'s identifier', async () => {
    expect(refusal(() => verify([entry('p1'), entry('p2', 2)])).message).toMatch(/has no entry 2/);
    const borrowed = await batchOf('p2', { commitments: commitmentsOf('p3') });
    expect(refusal(() => verify([entry('p1'), { batch: borrowed, index: 0 }])).message).toMatch(/under another identifier/);
  });

  it('refuses a commitment that is not a valid group element, naming its sender (RFC 9591 §3.1)', async () => {
    const identity = `01${'00'.repeat(31)}`;
    const [first, second] = commitmentsOf('p2');
    if (first === undefined || second === undefined) throw new Error('two commitments');
    const bad = await batchOf('p2', { commitments: [{ ...first, hiding: identity }, second] });
    const refused = refusal(() => verify([entry('p1'), { batch: bad, index: 0 }]));
    expect(refused.code).toBe(RefusalCode.invalidCommitment);
    expect(refused.blame).toEqual(['p2']);
    // The other entry of that batch is fine: the check is per entry used.
    expect(() => verify([entry('p1'), { batch: bad, index: 1 }])).not.toThrow();
  });

  it('refuses fewer commitments than the threshold, and a package without this party\'s own', () => {
    expect(refusal(() => verify([entry('p1')])).code).toBe(RefusalCode.incompleteTranscript);
    expect(refusal(() => verify([entry('p2'), entry('p3')])).code).toBe(RefusalCode.missingCommitment);
  });

  it('refuses a relayed message of another type in a batch\'s place', async () => {
    const commitment = await bench.signed('p2', MessageType.signCommitment, BATCH.p2, { attempt: 1, commitment: commitmentsOf('p2')[0] ?? commitmentsOf('p1')[0] ?? ({} as NonceCommitment), audit: AUDIT });
    expect(refusal(() => verify([entry('p1'), { batch: commitment, index: 0 }])).code).toBe(RefusalCode.wrongRound);
  });
});
