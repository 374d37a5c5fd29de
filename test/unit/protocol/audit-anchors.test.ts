/**
 * The coordinator's audit anchors as stored: the party's signed envelope alone (party, seq
 * and hash are read from it), small enough that a share's anchor is one DynamoDB write unit;
 * records of the earlier form (with those fields copied beside it) still read, with the same
 * meaning.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import { toAttributes } from '../../../lib/adapters/aws/dynamodb-backend.js';
import { itemSize } from '../../../lib/dev/aws-call-meter.js';
import { anchorKey, AuditAnchors, verifiedAnchor } from '../../../lib/protocol/audit-anchors.js';
import { Delegation } from '../../../lib/protocol/delegation.js';
import { bytesToHex } from '../../../lib/protocol/encoding.js';
import { envelopeSigningInput } from '../../../lib/protocol/envelope.js';
import { MessageType, type Envelope } from '../../../lib/protocol/messages.js';
import { Cast, NOW } from '../../support/coordinator-fixtures.js';

const cast = new Cast(['p1', 'p2']);
const SESSION = 'ab'.repeat(16);
const nowSeconds = () => Math.floor(NOW / 1000);
let store: SqliteItemBackend | undefined;
afterEach(() => {
  store?.close();
  store = undefined;
});

async function anchors(): Promise<{ backend: SqliteItemBackend; anchors: AuditAnchors }> {
  store = await SqliteItemBackend.open(':memory:');
  return { backend: store, anchors: new AuditAnchors(store, nowSeconds) };
}

/** `party`'s sign.share carrying audit head `seq`, signed by its delegated message key (as parties send shares), with a certificate. */
async function share(party: string, seq: number, hash = 'cd'.repeat(32)): Promise<Envelope> {
  const delegated = await new Delegation(cast.signer(party), { holder: party, role: 'party' }).keyAt(NOW);
  const { sig: _sig, ...unsigned } = await cast.envelope(party, MessageType.signShare, SESSION, { attempt: 1, packageHash: 'ef'.repeat(32), share: '12'.repeat(32), audit: { seq, hash } });
  const certified = { ...unsigned, cert: delegated.certificate };
  return { ...certified, sig: bytesToHex(delegated.sign(envelopeSigningInput(certified))) };
}

describe('audit anchors as stored', () => {
  it('keep the signed envelope alone; party, seq and hash are read from it, and it verifies against the party’s key', async () => {
    const { backend, anchors: a } = await anchors();
    const envelope = await share('p1', 7);
    await a.record(envelope);
    expect((await backend.get(anchorKey('p1')))?.data).toEqual({ envelope });
    const held = await a.latest('p1');
    expect(held).toEqual({ party: 'p1', seq: 7, hash: 'cd'.repeat(32), envelope });
    expect(held === undefined ? undefined : verifiedAnchor(held, 'p1', cast.directory.parties.p1 ?? fail())).toEqual({ seq: 7, hash: 'cd'.repeat(32) });
    // An older head changes nothing; a newer one replaces it.
    await a.record(await share('p1', 6, 'aa'.repeat(32)));
    expect((await a.latest('p1'))?.seq).toBe(7);
    const newer = await share('p1', 8, 'bb'.repeat(32));
    expect(await a.recordOperations(newer)).toHaveLength(1);
    await a.record(newer);
    expect(await backend.get(anchorKey('p1'))).toMatchObject({ version: 2, data: { envelope: newer } });
  });

  it('a sign.share’s anchor item, as DynamoDB stores it, is under 1 KB: one write unit', async () => {
    const { backend, anchors: a } = await anchors();
    const envelope = await share('p1', 123_456);
    await a.record(envelope);
    const item = await backend.get(anchorKey('p1'));
    if (item === undefined) throw new Error('no anchor stored');
    const size = itemSize(toAttributes(item));
    expect(size).toBeLessThan(1024);
    // The earlier form, with party, seq and hash copied beside it, was not (two write units).
    const earlier = itemSize(toAttributes({ ...item, data: { party: 'p1', seq: 123_456, hash: 'cd'.repeat(32), envelope } }));
    expect(earlier).toBeGreaterThan(1024);
  });

  it('a record of the earlier form (fields copied beside the envelope) still reads, with the same meaning, and is advanced as before', async () => {
    const { backend, anchors: a } = await anchors();
    const envelope = await share('p2', 5);
    await backend.write([{ op: 'put', item: { ...anchorKey('p2'), data: { party: 'p2', seq: 5, hash: 'cd'.repeat(32), envelope }, version: 1 }, condition: { kind: 'absent' } }], nowSeconds());
    const held = await a.latest('p2');
    expect(held).toEqual({ party: 'p2', seq: 5, hash: 'cd'.repeat(32), envelope });
    expect(held === undefined ? undefined : verifiedAnchor(held, 'p2', cast.directory.parties.p2 ?? fail())).toEqual({ seq: 5, hash: 'cd'.repeat(32) });
    expect(await a.recordOperations(await share('p2', 5))).toEqual([]);
    const newer = await share('p2', 6);
    await a.record(newer);
    expect(await backend.get(anchorKey('p2'))).toMatchObject({ version: 2, data: { envelope: newer } });
    expect((await backend.get(anchorKey('p2')))?.data).not.toHaveProperty('seq');
  });

  it('copied fields that disagree with the envelope are ignored: what counts is the head the party signed', async () => {
    const { backend, anchors: a } = await anchors();
    const envelope = await share('p2', 5);
    // Copies claiming a newer head than the envelope carries cannot hold back a real newer one.
    await backend.write([{ op: 'put', item: { ...anchorKey('p2'), data: { party: 'p2', seq: 99, hash: 'ee'.repeat(32), envelope }, version: 1 }, condition: { kind: 'absent' } }], nowSeconds());
    expect(await a.latest('p2')).toMatchObject({ seq: 5, hash: 'cd'.repeat(32) });
    const newer = await share('p2', 6);
    expect(await a.recordOperations(newer)).toHaveLength(1);
  });

  it('a stored anchor whose envelope carries no head is a stored-state fault, not an anchor', async () => {
    const { backend, anchors: a } = await anchors();
    const { body: _body, ...rest } = await share('p1', 3);
    await backend.write([{ op: 'put', item: { ...anchorKey('p1'), data: { envelope: { ...rest, body: {} } }, version: 1 }, condition: { kind: 'absent' } }], nowSeconds());
    await expect(a.latest('p1')).rejects.toMatchObject({ name: 'StoredStateError' });
  });
});

function fail(): never {
  throw new Error('missing fixture');
}
