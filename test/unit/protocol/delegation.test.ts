/**
 * The rules of delegated keys that the end-to-end tests (test/e2e/delegated-keys.test.ts) do
 * not reach: which types and roles may delegate, the lifetime bound, the envelope's own
 * timestamp, relayed and stored-evidence checks, and how the sender renews.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyVault } from '../../../lib/adapters/local/file-key-vault.js';
import type { KeyVault } from '../../../lib/ports/key-vault.js';
import { verifiedAnchor } from '../../../lib/protocol/audit-anchors.js';
import { certificateSigningInput, Delegation, DELEGATION_PURPOSE, withDelegation } from '../../../lib/protocol/delegation.js';
import { DEFAULT_LIMITS, type Directory, type Role } from '../../../lib/protocol/directory.js';
import { authenticateEnvelope, createEnvelope, envelopeSigningInput, verifyRelayed, type InboundPolicy } from '../../../lib/protocol/envelope.js';
import { MessageType, type DelegationCertificate, type Envelope, type MessageType as MessageTypeT, type UnsignedEnvelope } from '../../../lib/protocol/messages.js';
import { Scratch } from '../../support/harness.js';
import { refusal } from '../../support/refusal.js';

const scratch = new Scratch();
let coordinator: FileKeyVault;
let p1: FileKeyVault;
let directory: Directory;
const SESSION = 'ab'.repeat(16);
const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const AUDIT = { seq: 3, hash: 'cd'.repeat(32) };
const COMMITMENT_BODY = { attempt: 1, commitment: { identifier: '01'.repeat(32), hiding: '02'.repeat(32), binding: '03'.repeat(32) }, audit: AUDIT };

beforeAll(async () => {
  const dir = await scratch.dir();
  coordinator = await FileKeyVault.open(join(dir, 'coordinator'));
  p1 = await FileKeyVault.open(join(dir, 'p1'));
  directory = { coordinator: await coordinator.identityPublicKey(), parties: { p1: await p1.identityPublicKey() }, initiators: { p1: await p1.identityPublicKey() } };
});
afterAll(() => scratch.cleanup());

/** The coordinator's inbox: party messages of every kind (p1 also pinned as an initiator, with the same key). */
function coordinatorPolicy(senderRole: Role = 'party', now = NOW): InboundPolicy {
  return { self: 'coordinator', directory, limits: DEFAULT_LIMITS, now, senderRole: (_type: MessageTypeT) => senderRole };
}

/** A certificate from p1's identity key, with `fields` changed; and its private key. */
async function certificate(fields: Partial<DelegationCertificate> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const unsigned = {
    v: 1,
    purpose: DELEGATION_PURPOSE,
    holder: 'p1',
    role: 'party',
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('hex'),
    notBefore: NOW - MINUTE,
    expires: NOW + 5 * MINUTE,
    ...fields,
  } as const;
  const sig = Buffer.from(await p1.signIdentity(certificateSigningInput(unsigned))).toString('hex');
  return { cert: { ...unsigned, sig }, privateKey };
}

async function delegatedEnvelope(type: MessageTypeT, fields: Partial<DelegationCertificate> = {}, ts = NOW, body: unknown = { audit: AUDIT }): Promise<Envelope> {
  const { cert, privateKey } = await certificate(fields);
  const unsigned: UnsignedEnvelope = { v: 1, type, session: SESSION, id: '01'.repeat(16), from: 'p1', to: 'coordinator', ts, body, cert };
  return { ...unsigned, sig: sign(null, envelopeSigningInput(unsigned), privateKey).toString('hex') };
}

describe('what a delegated key may sign', () => {
  it('a per-signature message with a good certificate is accepted', async () => {
    const envelope = await delegatedEnvelope(MessageType.signCommitment);
    expect(authenticateEnvelope(JSON.stringify(envelope), coordinatorPolicy())).toEqual(envelope);
  });

  it('a type kept as evidence (dkg.done, party.refused) must be identity-signed', async () => {
    for (const type of [MessageType.dkgDone, MessageType.partyRefused, MessageType.dkgRound1]) {
      const raw = JSON.stringify(await delegatedEnvelope(type));
      expect(refusal(() => authenticateEnvelope(raw, coordinatorPolicy()))).toMatchObject({ code: 'bad-signature', message: expect.stringContaining('must be signed by the identity key') });
    }
  });

  it('an initiator never delegates: its requests carry no certificate', async () => {
    const raw = JSON.stringify(await delegatedEnvelope(MessageType.signCommitment));
    expect(refusal(() => authenticateEnvelope(raw, coordinatorPolicy('initiator')))).toMatchObject({ code: 'bad-signature', message: expect.stringContaining('initiators sign with their identity key only') });
  });

  it('a certificate longer than delegatedKeyLifetimeMs is refused', async () => {
    const raw = JSON.stringify(await delegatedEnvelope(MessageType.signCommitment, { notBefore: NOW - MINUTE, expires: NOW + 60 * MINUTE }));
    expect(refusal(() => authenticateEnvelope(raw, coordinatorPolicy()))).toMatchObject({ code: 'bad-signature', message: expect.stringContaining('lifetime') });
  });

  it('a message timestamped outside its certificate is refused, though fresh and within the certificate now', async () => {
    const raw = JSON.stringify(await delegatedEnvelope(MessageType.signCommitment, { notBefore: NOW, expires: NOW + 5 * MINUTE }, NOW - 2 * MINUTE));
    expect(refusal(() => authenticateEnvelope(raw, coordinatorPolicy()))).toMatchObject({ code: 'bad-signature', message: expect.stringContaining('outside its certificate') });
  });

  it('a changed certificate breaks the envelope signature (it covers the certificate)', async () => {
    const envelope = await delegatedEnvelope(MessageType.signCommitment);
    const other = await certificate({ publicKey: envelope.cert?.publicKey ?? '', expires: NOW + 4 * MINUTE });
    const raw = JSON.stringify({ ...envelope, cert: other.cert });
    expect(refusal(() => authenticateEnvelope(raw, coordinatorPolicy()))).toMatchObject({ code: 'bad-signature', message: expect.stringContaining('not by the certified key') });
  });
});

describe('relayed and stored envelopes', () => {
  it('a relayed delegated envelope needs the receiver\'s clock; without it (DKG transcripts, blame) it is refused', async () => {
    const envelope = await delegatedEnvelope(MessageType.signCommitment, {}, NOW, COMMITMENT_BODY);
    const expected = { type: MessageType.signCommitment, session: SESSION, directory, role: 'party' as const };
    expect(verifyRelayed(envelope, { ...expected, certificates: { now: NOW, limits: DEFAULT_LIMITS } })).toEqual(COMMITMENT_BODY);
    expect(refusal(() => verifyRelayed(envelope, expected))).toMatchObject({ code: 'bad-signature' });
    expect(refusal(() => verifyRelayed(envelope, { ...expected, certificates: { now: NOW + 10 * MINUTE, limits: DEFAULT_LIMITS } }))).toMatchObject({
      message: expect.stringContaining('expired'),
    });
  });

  it('an audit anchor counts after its certificate expired, if it covered the message; not if forged', async () => {
    const envelope = await delegatedEnvelope(MessageType.signShare);
    const record = { party: 'p1', ...AUDIT, envelope };
    expect(verifiedAnchor(record, 'p1', directory.parties.p1 ?? directory.coordinator)).toEqual(AUDIT);
    const coordinatorKey = await coordinator.identityPublicKey();
    expect(verifiedAnchor(record, 'p1', coordinatorKey)).toBeUndefined();
  });
});

describe('the sender', () => {
  it('certifies one key for concurrent envelopes, keeps it for half its lifetime, then certifies a new one', async () => {
    let certified = 0;
    const counting: KeyVault = {
      generateDataKey: (context) => p1.generateDataKey(context),
      decryptDataKey: (encrypted, context) => p1.decryptDataKey(encrypted, context),
      identityPublicKey: () => p1.identityPublicKey(),
      signIdentity: (message) => {
        certified += 1;
        return p1.signIdentity(message);
      },
    };
    const vault = withDelegation(counting, { holder: 'p1', role: 'party', lifetimeMs: 10 * MINUTE });
    const send = (type: MessageTypeT, now: number) => createEnvelope(vault, now, { type, session: SESSION, from: 'p1', to: 'coordinator', body: { audit: AUDIT } as never });
    const first = await Promise.all([send(MessageType.signCommitment, NOW), send(MessageType.signShare, NOW), send(MessageType.signShare, NOW + 4 * MINUTE)]);
    expect(certified).toBe(1);
    expect(new Set(first.map((e) => e.cert?.sig)).size).toBe(1);
    for (const envelope of first) expect(authenticateEnvelope(JSON.stringify(envelope), coordinatorPolicy('party', envelope.ts))).toEqual(envelope);

    const later = await send(MessageType.signShare, NOW + 5 * MINUTE);
    expect(certified).toBe(2);
    expect(later.cert?.publicKey).not.toBe(first[0]?.cert?.publicKey);
    // A type outside the per-signature path goes to the identity key.
    const done = await send(MessageType.dkgDone, NOW + 5 * MINUTE);
    expect(done.cert).toBeUndefined();
    expect(certified).toBe(3);
    expect(JSON.stringify(new Delegation(counting, { holder: 'p1', role: 'party' }))).toBe('"<Delegation redacted>"');
  });
});
