import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LocalCluster, type LocalClusterOptions } from '../../lib/dev/cluster.js';
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import { verifyPartyAudit } from '../../lib/cli/audit.js';
import { signApproval } from '../../lib/protocol/approvals.js';
import { auditKeys, type AuditRecord } from '../../lib/protocol/audit.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import type { PartyPolicy } from '../../lib/protocol/requests.js';

const PARTIES = ['p1', 'p2', 'p3'];
const text = (s: string) => new TextEncoder().encode(s);

const opened: { cluster: LocalCluster; dataDir: string }[] = [];

async function openCluster(options: Omit<LocalClusterOptions, 'dataDir'> & { dataDir?: string }) {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'frostline-policy-')));
  const cluster = await LocalCluster.open({ parties: 3, ...options, dataDir });
  opened.push({ cluster, dataDir });
  cluster.serve();
  return { cluster, dataDir };
}

afterEach(async () => {
  for (const { cluster, dataDir } of opened.splice(0)) {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** Keygen with an allow-all policy, then reopen the same data dir under `policy`. */
async function clusterWithKey(policy: PartyPolicy, extra: Omit<LocalClusterOptions, 'dataDir'> = {}) {
  const setup = await openCluster({ initiators: ['alice', 'mallory'], approvers: ['ap1', 'ap2', 'ap3'], ...extra });
  await setup.cluster.client('alice').keygen({ keyId: 'treasury', threshold: 2, parties: PARTIES });
  await setup.cluster.close();
  opened.splice(opened.indexOf(setup), 1);
  return openCluster({ ...extra, dataDir: setup.dataDir, initiators: ['alice', 'mallory'], approvers: ['ap1', 'ap2', 'ap3'], policy });
}

const grantAll = { keygen: true, keys: ['*'] };

async function auditRecords(cluster: LocalCluster, party: string): Promise<AuditRecord[]> {
  const p = cluster.parties.get(party);
  if (p === undefined) throw new Error(`no party ${party}`);
  return (await p.audit.readChain()).records as AuditRecord[];
}

async function lastDecisions(cluster: LocalCluster) {
  return Promise.all(PARTIES.map(async (p) => (await auditRecords(cluster, p)).at(-1)));
}

describe('policy is enforced by every party and every decision is audited', () => {
  test('an initiator without a grant is refused with a typed error and an audit record; nothing is signed', async () => {
    const { cluster } = await clusterWithKey({ maxMessageBytes: 1024, initiators: { alice: grantAll } });
    await expect(cluster.client('mallory').sign({ keyId: 'treasury', message: text('pay me') })).rejects.toMatchObject({
      name: 'PolicyRefusedError',
      code: 'unauthorised-initiator',
    });
    for (const record of await lastDecisions(cluster)) {
      expect(record).toMatchObject({ kind: 'sign', initiator: 'mallory', keyId: 'treasury', decision: 'refused', code: 'unauthorised-initiator' });
      expect(record?.messageSha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  test('a key the initiator may not use is refused', async () => {
    const { cluster } = await clusterWithKey({ maxMessageBytes: 1024, initiators: { alice: grantAll, mallory: { keygen: false, keys: ['other-key'] } } });
    await expect(cluster.client('mallory').sign({ keyId: 'treasury', message: text('x') })).rejects.toMatchObject({ name: 'PolicyRefusedError' });
    expect((await lastDecisions(cluster)).every((r) => r?.decision === 'refused')).toBe(true);
  });

  test('an unknown initiator never reaches a party: the coordinator cannot authenticate it', async () => {
    const { cluster } = await openCluster({ initiators: ['alice'] });
    await cluster.client('alice').keygen({ keyId: 'treasury', threshold: 2, parties: PARTIES });
    // Another deployment's initiator: its key was never pinned here.
    const foreign = await openCluster({ initiators: ['eve'] });
    const eve = foreign.cluster.initiators.get('eve')?.initiator;
    if (eve === undefined) throw new Error('no eve');
    await foreign.cluster.stop();
    await eve.requestSignature({ keyId: 'treasury', message: text('hi') });
    const [request] = foreign.cluster.inboxes.get('coordinator')?.queue.receive(1) ?? [];
    if (request === undefined) throw new Error('request not captured');

    expect(await cluster.coordinator.handle(request.body)).toMatchObject({ status: 'refused', code: 'unknown-sender' });
    for (const party of PARTIES) expect(await auditRecords(cluster, party)).toHaveLength(1); // the keygen decision only
  });

  test('a message over the key limit is refused', async () => {
    const { cluster } = await clusterWithKey({ maxMessageBytes: 1024, initiators: { alice: grantAll }, keys: { treasury: { maxMessageBytes: 8 } } });
    await expect(cluster.client('alice').sign({ keyId: 'treasury', message: text('nine bytes') })).rejects.toMatchObject({ code: 'policy' });
    const ok = await cluster.client('alice').sign({ keyId: 'treasury', message: text('8 bytes!') });
    expect(ok.signature).toHaveLength(64);
  });

  test('a request id reused for different content is refused; the same content returns the first result', async () => {
    const { cluster } = await clusterWithKey({ maxMessageBytes: 1024, initiators: { alice: grantAll } });
    const client = cluster.client('alice');
    const first = await client.sign({ keyId: 'treasury', message: text('one'), requestId: 'r-1' });
    const again = await client.sign({ keyId: 'treasury', message: text('one'), requestId: 'r-1' });
    expect(again.duplicate).toBe(true);
    expect(bytesToHex(again.signature)).toBe(bytesToHex(first.signature));
    await expect(client.sign({ keyId: 'treasury', message: text('two'), requestId: 'r-1' })).rejects.toMatchObject({ name: 'RequestConflictError' });
  });

  test('a rate over the limit is refused, and the refusal is audited', async () => {
    const { cluster } = await clusterWithKey({
      maxMessageBytes: 1024,
      initiators: { alice: grantAll },
      keys: { '*': { rateLimit: { max: 2, windowSeconds: 3600 } } },
    });
    const client = cluster.client('alice');
    await client.sign({ keyId: 'treasury', message: text('1') });
    await client.sign({ keyId: 'treasury', message: text('2') });
    await expect(client.sign({ keyId: 'treasury', message: text('3') })).rejects.toMatchObject({ code: 'policy' });
    const decisions = await lastDecisions(cluster);
    expect(decisions.every((r) => r?.decision === 'refused' && r.reason?.includes('rate limit'))).toBe(true);
  });
});

describe('approval quorum (2 of 3 approvers)', () => {
  const policy: PartyPolicy = {
    maxMessageBytes: 1024,
    initiators: { alice: grantAll },
    keys: { treasury: { approvals: { quorum: 2, approvers: ['ap1', 'ap2', 'ap3'] } } },
  };

  async function approve(cluster: LocalCluster, approver: string, requestId: string, message: Uint8Array, signer = approver) {
    const vault = cluster.vaults.get(signer);
    if (vault === undefined) throw new Error(`no vault ${signer}`);
    return signApproval(vault, approver, { initiator: 'alice', requestId, keyId: 'treasury', message: bytesToHex(message) });
  }

  test('exactly two valid approvals sign', async () => {
    const { cluster } = await clusterWithKey(policy);
    const message = text('wire 1,000,000');
    const approvals = [await approve(cluster, 'ap1', 'q-1', message), await approve(cluster, 'ap3', 'q-1', message)];
    const result = await cluster.client('alice').sign({ keyId: 'treasury', message, requestId: 'q-1', approvals });
    expect(result.signature).toHaveLength(64);
    expect((await lastDecisions(cluster)).every((r) => r?.decision === 'approved')).toBe(true);
  });

  test('one valid and one forged approval are refused', async () => {
    const { cluster } = await clusterWithKey(policy);
    const message = text('wire 1,000,000');
    // ap2's name, but signed with ap3's key: a forgery.
    const approvals = [await approve(cluster, 'ap1', 'q-2', message), await approve(cluster, 'ap2', 'q-2', message, 'ap3')];
    await expect(cluster.client('alice').sign({ keyId: 'treasury', message, requestId: 'q-2', approvals })).rejects.toMatchObject({
      name: 'PolicyRefusedError',
      message: expect.stringContaining('1 of 2 valid approvals'),
    });
  });

  test('an approval for another message does not count, nor does a missing one', async () => {
    const { cluster } = await clusterWithKey(policy);
    const message = text('wire 1,000,000');
    const stale = await approve(cluster, 'ap2', 'q-3', text('wire 10'));
    await expect(
      cluster.client('alice').sign({ keyId: 'treasury', message, requestId: 'q-3', approvals: [await approve(cluster, 'ap1', 'q-3', message), stale] }),
    ).rejects.toMatchObject({ code: 'policy' });
    await expect(cluster.client('alice').sign({ keyId: 'treasury', message, requestId: 'q-4' })).rejects.toMatchObject({ code: 'policy' });
  });
});

describe('audit trail', () => {
  async function trailAfterRun() {
    const { cluster, dataDir } = await clusterWithKey({ maxMessageBytes: 1024, initiators: { alice: grantAll } });
    const client = cluster.client('alice');
    for (let i = 0; i < 3; i++) await client.sign({ keyId: 'treasury', message: text(`m${i}`) });
    await cluster.close();
    opened.splice(opened.findIndex((o) => o.cluster === cluster), 1);
    const backend = await SqliteItemBackend.open(join(dataDir, 'parties', 'p2', 'store.sqlite'));
    return { backend, dataDir };
  }

  test('verifies after a run, and editing one record breaks it at that record', async () => {
    const { backend, dataDir } = await trailAfterRun();
    try {
      expect(await verifyPartyAudit(backend, 'p2')).toEqual({ ok: true, records: 4 });
      const key = auditKeys.record(3);
      const item = await backend.get(key);
      if (item === undefined) throw new Error('record 3 missing');
      await backend.write([{ op: 'put', item: { ...item, data: { ...item.data, decision: 'refused' } }, condition: { kind: 'none' } }], 0);
      expect(await verifyPartyAudit(backend, 'p2')).toMatchObject({ ok: false, brokenAt: 3 });
    } finally {
      backend.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('deleting one record breaks it at that record', async () => {
    const { backend, dataDir } = await trailAfterRun();
    try {
      await backend.write([{ op: 'delete', key: auditKeys.record(2), condition: { kind: 'none' } }], 0);
      expect(await verifyPartyAudit(backend, 'p2')).toMatchObject({ ok: false, brokenAt: 2 });
    } finally {
      backend.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('deleting the newest record disagrees with the head', async () => {
    const { backend, dataDir } = await trailAfterRun();
    try {
      await backend.write([{ op: 'delete', key: auditKeys.record(4), condition: { kind: 'none' } }], 0);
      expect(await verifyPartyAudit(backend, 'p2')).toMatchObject({ ok: false, brokenAt: 4 });
    } finally {
      backend.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
