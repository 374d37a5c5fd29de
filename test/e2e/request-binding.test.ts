/**
 * A party commits a nonce for one initiator request and signs only a package for that same
 * request. Regression test for "approvals and rate limits bypassed by mixing requests": a
 * coordinator holding two initiator-signed requests under one request id commits with the
 * approved one and asks for the other to be signed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { signApproval } from '../../lib/protocol/approvals.js';
import { verifyAuditChain, AuditRecord } from '../../lib/protocol/audit.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { createEnvelope, deriveSessionId } from '../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import {
  bodyOf,
  encoder,
  makeFixture,
  openFromFixture,
  parseRaw,
  requiredParty,
  requiredVault,
  resign,
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

const policy = {
  maxMessageBytes: 1024,
  initiators: { cli: { keygen: true, keys: ['*'] } },
  keys: { k1: { approvals: { quorum: 1, approvers: ['ap1'] } } },
};

describe('a signing package for another request than the committed one', () => {
  it('is refused with request-mismatch and audited; no share is produced and the nonce stays unspent', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture, { approvers: ['ap1'], policy });
    const { cluster } = harness;
    const requestId = 'mixed-1';
    const approved = encoder.encode('pay 10 to alice');
    const unapproved = encoder.encode('pay 1000000 to mallory');
    const approval = await signApproval(requiredVault(cluster, 'ap1'), 'ap1', {
      initiator: 'cli',
      requestId,
      keyId: fixture.keyId,
      message: bytesToHex(approved),
    });
    // The initiator really signed this second request (say, a retry with an edited message):
    // an honest coordinator refuses it as a conflict; this one keeps it for later.
    const other = await createEnvelope(requiredVault(cluster, 'cli'), Date.now(), {
      type: MessageType.signRequest,
      session: deriveSessionId('cli', requestId),
      from: 'cli',
      to: COORDINATOR,
      body: { requestId, keyId: fixture.keyId, message: bytesToHex(unapproved) },
    });

    const coordinatorVault = requiredVault(cluster, COORDINATOR);
    let swapped = 0;
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== COORDINATOR || typeOf(body) !== MessageType.signPackage) return [body];
      const envelope = parseRaw(body);
      swapped += 1;
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), request: other } })];
    };

    const result = await cluster.sign({ keyId: fixture.keyId, message: approved, requestId, approvals: [approval] });
    expect(swapped).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.signature).toBeUndefined();

    const packages = cluster.outcomes.filter((o) => o.node !== COORDINATOR && o.outcome.type === MessageType.signPackage);
    expect(packages).toHaveLength(swapped);
    for (const { outcome } of packages) expect(outcome).toMatchObject({ status: 'refused', code: 'request-mismatch' });
    expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);

    // State: every committed nonce is still unused; nothing was consumed.
    const signers = [...new Set(packages.map((p) => p.node))];
    for (const party of PARTIES) {
      const items = await storeItems(harness.dir, party, 'nonce#');
      expect(items.filter((i) => i.sk === 'consumed')).toEqual([]);
      if (signers.includes(party)) expect(items.filter((i) => i.sk === 'nonce').length).toBeGreaterThan(0);
    }

    // Audit: each signer recorded the approved decision and then the refused package.
    for (const party of signers) {
      const chain = await requiredParty(cluster, party).audit.readChain();
      expect(verifyAuditChain(chain)).toMatchObject({ ok: true });
      const records = chain.records.map((r) => AuditRecord.parse(r));
      expect(records.some((r) => r.decision === 'approved' && r.requestId === requestId)).toBe(true);
      expect(records.some((r) => r.decision === 'refused' && r.code === 'request-mismatch' && r.requestId === requestId)).toBe(true);
    }
  });
});
