/** Read-ahead hints for the nonce-pool steps (party-prefetch.ts): the items each step reads, and never a malformed unverified field. */
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../../lib/protocol/messages.js';
import { partyPrefetch } from '../../../lib/protocol/party-prefetch.js';
import { decisionIdOf } from '../../../lib/protocol/party-audit.js';

const base = { v: 1, id: 'a'.repeat(32), session: 'b'.repeat(32), from: 'coordinator', to: 'p1', ts: 0, sig: '' };
const BATCH = 'c'.repeat(32);
const keysOf = (envelope: unknown) => partyPrefetch(envelope as Envelope).map((k) => `${k.pk}/${k.sk}`);
const request = (keyId: unknown) => ({ type: 'sign.request', from: 'app', body: { keyId } });
const pooled = (commitments: unknown, keyId: unknown = 'k1') => ({ ...base, type: 'sign.pooled', body: { attempt: 1, request: request(keyId), commitments } });
/** The approval mark of the relayed request: one decision per request (its fingerprint), not per session. */
const mark = `auditmark#${decisionIdOf('sign', base.session, request('k1') as Pick<Envelope, 'type' | 'from' | 'body'>)}#approved/mark`;

describe('partyPrefetch for nonce pools', () => {
  it('pool.refill reads the share, the batch record of its batch id, the key\'s refill mark, and the audit head', () => {
    expect(keysOf({ ...base, type: 'pool.refill', body: { keyId: 'k1', epoch: 0, count: 4 } })).toEqual([
      `seen#${base.id}/message`,
      'key#k1/share',
      `pool#k1/batch#${base.session}`,
      'pool#k1/refill',
      'audit/head',
    ]);
  });

  it('sign.pooled reads its replay mark (kept only for a refusal: replay-exemptions.ts), the share, the approval mark, the audit head, and its own pool nonce\'s item (unused or spent)', () => {
    const commitments = [
      { batch: { from: 'p2', session: 'd'.repeat(32) }, index: 5 },
      { batch: { from: 'p1', session: BATCH }, index: 3 },
    ];
    expect(keysOf(pooled(commitments))).toEqual([`seen#${base.id}/message`, 'key#k1/share', mark, 'audit/head', `pool#k1/nonce#${BATCH}#3`]);
  });

  it('uses an unverified batch id or index only when well-formed, and a key id only when a plain name', () => {
    const common = [`seen#${base.id}/message`, 'key#k1/share', mark, 'audit/head'];
    for (const own of [
      { batch: { from: 'p1', session: 'x'.repeat(32) }, index: 0 },
      { batch: { from: 'p1', session: BATCH }, index: -1 },
      { batch: { from: 'p1', session: BATCH }, index: 64 },
      { batch: { from: 'p1', session: BATCH }, index: 1.5 },
      { batch: { from: 'p1', session: BATCH }, index: '1' },
      { batch: null, index: 0 },
    ]) {
      expect(keysOf(pooled([own]))).toEqual(common);
    }
    expect(keysOf(pooled('not a list'))).toEqual(common);
    expect(keysOf(pooled([], 'k1"; DROP'.padEnd(3000, 'x')))).toEqual([`seen#${base.id}/message`]);
    expect(keysOf({ ...base, type: 'pool.refill', body: { keyId: { toString: 'k1' } } })).toEqual([`seen#${base.id}/message`]);
    expect(keysOf({ ...base, type: 'pool.refill', body: null })).toEqual([`seen#${base.id}/message`]);
  });
});
