/**
 * The coordinator's audit anchors as stored: the party's signed envelope alone (party, seq
 * and hash are read from it), small enough that a share's anchor is one DynamoDB write unit,
 * under its own sort key (`anchorKey`). Records of the earlier form (with those fields copied
 * beside it) at the earlier key (`legacyAnchorKey`) still read, with the same meaning, and
 * are never written again: a rolled-back release reads that item with a strict schema, and
 * goes on advancing it; the newer of the two items is the anchor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import { toAttributes } from '../../../lib/adapters/aws/dynamodb-backend.js';
import { itemSize } from '../../../lib/dev/aws-call-meter.js';
import type { StoredItem } from '../../../lib/ports/store.js';
import { anchorKey, AuditAnchors, legacyAnchorKey, verifiedAnchor } from '../../../lib/protocol/audit-anchors.js';
import { Coordinator } from '../../../lib/protocol/coordinator.js';
import { Delegation } from '../../../lib/protocol/delegation.js';
import { bytesToHex } from '../../../lib/protocol/encoding.js';
import { envelopeSigningInput } from '../../../lib/protocol/envelope.js';
import { COORDINATOR, EnvelopeSchema, MessageType, type Envelope } from '../../../lib/protocol/messages.js';
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

  it('a record of the earlier form (fields copied beside the envelope, at the earlier key) still reads, with the same meaning; a newer head goes to the new key', async () => {
    const { backend, anchors: a } = await anchors();
    const envelope = await share('p2', 5);
    await backend.write([{ op: 'put', item: { ...legacyAnchorKey('p2'), data: { party: 'p2', seq: 5, hash: 'cd'.repeat(32), envelope }, version: 1 }, condition: { kind: 'absent' } }], nowSeconds());
    const held = await a.latest('p2');
    expect(held).toEqual({ party: 'p2', seq: 5, hash: 'cd'.repeat(32), envelope });
    expect(held === undefined ? undefined : verifiedAnchor(held, 'p2', cast.directory.parties.p2 ?? fail())).toEqual({ seq: 5, hash: 'cd'.repeat(32) });
    expect(await a.recordOperations(await share('p2', 5))).toEqual([]);
    const newer = await share('p2', 6);
    // The first item at the new key: created, whatever the earlier key holds.
    expect(await a.recordOperations(newer)).toMatchObject([{ op: 'put', item: { ...anchorKey('p2'), version: 1 }, condition: { kind: 'absent' } }]);
    await a.record(newer);
    expect(await backend.get(anchorKey('p2'))).toMatchObject({ version: 1, data: { envelope: newer } });
    expect((await backend.get(anchorKey('p2')))?.data).not.toHaveProperty('seq');
    expect(await backend.get(legacyAnchorKey('p2'))).toMatchObject({ version: 1, data: { party: 'p2', seq: 5, envelope } });
    expect((await a.latest('p2'))?.seq).toBe(6);
  });

  it('copied fields that disagree with the envelope are ignored: what counts is the head the party signed', async () => {
    const { backend, anchors: a } = await anchors();
    const envelope = await share('p2', 5);
    // Copies claiming a newer head than the envelope carries cannot hold back a real newer one.
    await backend.write([{ op: 'put', item: { ...legacyAnchorKey('p2'), data: { party: 'p2', seq: 99, hash: 'ee'.repeat(32), envelope }, version: 1 }, condition: { kind: 'absent' } }], nowSeconds());
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

/**
 * The previous release's reader of the earlier key, as it was: strict, with the copied fields
 * required. A compact record there would make it throw a stored-state error on every message
 * from that party (all of them to the dead-letter queue after a rollback).
 */
const PreviousReleaseAnchor = z.strictObject({
  party: z.string(),
  seq: z.number().check(z.int(), z.nonnegative()),
  hash: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  envelope: EnvelopeSchema,
});

/** A real coordinator on a fresh SQLite store (delegated-key envelopes accepted, as deployed). */
async function coordinator(): Promise<{ backend: SqliteItemBackend; coordinator: Coordinator }> {
  store = await SqliteItemBackend.open(':memory:');
  const c = new Coordinator({ vault: cast.signer(COORDINATOR), store, transport: { send: () => Promise.resolve() }, clock: { now: () => NOW }, directory: cast.directory });
  return { backend: store, coordinator: c };
}

/** What the previous release wrote at the earlier key for `envelope`: the fields copied beside it. */
async function writePreviousRelease(backend: SqliteItemBackend, envelope: Envelope, version = 1): Promise<void> {
  const head = (envelope.body as { audit: { seq: number; hash: string } }).audit;
  const data = PreviousReleaseAnchor.parse({ party: envelope.from, seq: head.seq, hash: head.hash, envelope });
  await backend.write([{ op: 'put', item: { ...legacyAnchorKey(envelope.from), data, version }, condition: { kind: 'none' } }], nowSeconds());
}

/** An item exactly as DynamoDB would store it (its attributes, serialized): what "unchanged" means. */
const bytesOf = (item: StoredItem | undefined) => (item === undefined ? undefined : JSON.stringify(toAttributes(item)));

/** Every item of the coordinator's anchor partitions, as stored. */
const anchorItems = async (backend: SqliteItemBackend) => (await backend.scanPrefix('anchor#')).map(bytesOf);

describe('audit anchors across a rollback (a real coordinator handling party-signed messages)', () => {
  it('a newer head is written only at the new key; the earlier key\'s item stays byte-identical', async () => {
    const { backend, coordinator: c } = await coordinator();
    await writePreviousRelease(backend, await share('p1', 5));
    const before = bytesOf(await backend.get(legacyAnchorKey('p1')));
    // A share for no open session: refused, and its sender's head is anchored all the same.
    const newer = await share('p1', 7);
    expect(await c.handle(JSON.stringify(newer))).toMatchObject({ status: 'refused', type: MessageType.signShare });
    expect((await backend.get(anchorKey('p1')))?.data).toEqual({ envelope: newer });
    expect(bytesOf(await backend.get(legacyAnchorKey('p1')))).toBe(before);
    // And again, over an existing item at the new key (a version-conditioned replace).
    const newest = await share('p1', 9, 'bb'.repeat(32));
    await c.handle(JSON.stringify(newest));
    expect(await backend.get(anchorKey('p1'))).toMatchObject({ version: 2, data: { envelope: newest } });
    expect(bytesOf(await backend.get(legacyAnchorKey('p1')))).toBe(before);
    // A party that never had an item at the earlier key gets none.
    await c.handle(JSON.stringify(await cast.envelope('p2', MessageType.signShare, SESSION, { attempt: 1, packageHash: 'ef'.repeat(32), share: '12'.repeat(32), audit: { seq: 3, hash: 'cd'.repeat(32) } })));
    expect((await c.auditAnchor('p2'))?.seq).toBe(3);
    expect(await backend.get(legacyAnchorKey('p2'))).toBeUndefined();
  });

  it('the previous release\'s strict reader still parses whatever is at the earlier key after this release ran', async () => {
    const { backend, coordinator: c } = await coordinator();
    await writePreviousRelease(backend, await share('p1', 2));
    for (const seq of [3, 4, 6]) await c.handle(JSON.stringify(await share('p1', seq)));
    for (const seq of [1, 8]) await c.handle(JSON.stringify(await share('p2', seq)));
    const earlier = [await backend.get(legacyAnchorKey('p1')), await backend.get(legacyAnchorKey('p2'))];
    expect(earlier[1]).toBeUndefined();
    expect(PreviousReleaseAnchor.parse(earlier[0]?.data)).toMatchObject({ party: 'p1', seq: 2 });
    // This release's items exist, and are exactly what that reader must never see.
    expect((await c.auditAnchor('p1'))?.seq).toBe(6);
    expect(PreviousReleaseAnchor.safeParse((await backend.get(anchorKey('p1')))?.data).success).toBe(false);
  });

  it('rolled back and forward again: an earlier-key head newer than the new key\'s is the anchor, and an older head writes nothing', async () => {
    const { backend, coordinator: c } = await coordinator();
    // This release anchored head 7; then the previous release (rolled back to) advanced its own item to 10.
    await c.handle(JSON.stringify(await share('p1', 7)));
    const rolledBack = await share('p1', 10, 'aa'.repeat(32));
    await writePreviousRelease(backend, rolledBack, 4);
    const earlier = bytesOf(await backend.get(legacyAnchorKey('p1')));
    expect(await c.auditAnchor('p1')).toEqual({ party: 'p1', seq: 10, hash: 'aa'.repeat(32), envelope: rolledBack });
    const held = await c.auditAnchor('p1');
    expect(held === undefined ? undefined : verifiedAnchor(held, 'p1', cast.directory.parties.p1 ?? fail())).toEqual({ seq: 10, hash: 'aa'.repeat(32) });
    // A (late) message with head 8: newer than the new key's item, older than the anchor.
    const before = await anchorItems(backend);
    expect(await c.handle(JSON.stringify(await share('p1', 8)))).toMatchObject({ status: 'refused' });
    expect(await anchorItems(backend)).toEqual(before);
    // Head 11 is newer than both: written at the new key (over its version 1), the earlier key untouched.
    const newer = await share('p1', 11, 'bb'.repeat(32));
    await c.handle(JSON.stringify(newer));
    expect(await backend.get(anchorKey('p1'))).toMatchObject({ version: 2, data: { envelope: newer } });
    expect(bytesOf(await backend.get(legacyAnchorKey('p1')))).toBe(earlier);
    expect((await c.auditAnchor('p1'))?.seq).toBe(11);
  });
});

function fail(): never {
  throw new Error('missing fixture');
}
