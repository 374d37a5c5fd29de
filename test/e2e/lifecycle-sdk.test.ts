/**
 * The SDK's refresh and reshare through a real cluster, with a coordinator that lies to the
 * initiator (results re-signed with the coordinator's own identity key, as a real one can):
 * it answers a reshare with the key's earlier, genuinely attested epoch, or with another
 * session's attestations. The SDK refuses each (`UntrustedResultError`) and its pin stays;
 * the honest results of the same runs are accepted, and the new shares sign under the
 * keygen's group key (node:crypto).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryKeyPins } from '../../lib/client/key-pins.js';
import { signLifecycleApproval } from '../../lib/protocol/approvals.js';
import { COORDINATOR, MessageType, type Envelope } from '../../lib/protocol/messages.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { bodyOf, encoder, openHarness, parseRaw, requiredVault, resign, Scratch, typeOf } from '../support/harness.js';
import { lifecyclePolicy } from '../support/lifecycle.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

async function servingCluster() {
  const harness = await openHarness(await scratch.dir(), { parties: 4, policy: lifecyclePolicy(), deliveryConcurrency: 8 });
  scratch.own(harness.cluster);
  harness.cluster.serve();
  const pins = new MemoryKeyPins();
  const client = harness.cluster.client('cli', { timeoutMs: 120_000, pins });
  const key = await client.keygen({ keyId: 'k', threshold: 2, parties: ['p1', 'p2', 'p3'] });
  return { harness, client, pins, groupKey: key.publicKey };
}

describe('a coordinator that lies about a refresh or reshare', () => {
  it('answers with the previous epoch\'s attestations: refused, pin unchanged; the honest retry is accepted and signs', async () => {
    const { harness, client, pins, groupKey } = await servingCluster();
    await client.refresh({ keyId: 'k', requestId: 'r1' });
    const epoch1 = await pins.get('k');
    const record = await harness.cluster.coordinator.getKey('k');
    const old = record?.attestations ?? [];
    expect(old.every((a) => a.type === MessageType.reshareDone)).toBe(true);

    // The next reshare's result carries epoch 1's attestations (genuine, of the refresh's session).
    const coordinatorVault = requiredVault(harness.cluster, COORDINATOR);
    let rewritten = 0;
    harness.hooks.intercept = async ({ from, destination, body }) => {
      if (from !== COORDINATOR || destination.kind !== 'initiator' || typeOf(body) !== MessageType.reshareResult) return [body];
      rewritten += 1;
      const envelope = parseRaw(body);
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), epoch: 1, threshold: 2, parties: ['p1', 'p2', 'p3'], attestations: old satisfies Envelope[] } })];
    };
    await expect(client.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, requestId: 'r2' })).rejects.toMatchObject({
      name: 'UntrustedResultError',
      culprit: 'coordinator',
      message: expect.stringMatching(/not a reshare\.done of this request's session/),
    });
    expect(rewritten).toBe(1);
    expect(await pins.get('k')).toEqual(epoch1);

    // Honest again: the same request id now returns its true (first) result, epoch 2.
    harness.hooks.intercept = undefined;
    const repeated = await client.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, requestId: 'r2' });
    expect(repeated).toMatchObject({ epoch: 2, duplicate: true, publicKey: groupKey });

    const added = await client.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p4'], threshold: 2, requestId: 'r3' });
    expect(added).toMatchObject({ epoch: 3, parties: ['p1', 'p2', 'p4'], threshold: 2, publicKey: groupKey });
    const message = encoder.encode('after the reshare');
    const signed = await client.sign({ keyId: 'k', message });
    expect(verifyWithNodeCrypto(groupKey, message, signed.signatureHex)).toBe(true);

    // A lookup that would roll the pin back to epoch 1 is refused.
    harness.hooks.intercept = async ({ from, destination, body }) => {
      if (from !== COORDINATOR || destination.kind !== 'initiator' || typeOf(body) !== MessageType.keyResult) return [body];
      const envelope = parseRaw(body);
      return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), threshold: 2, parties: ['p1', 'p2', 'p3'], attestations: old } })];
    };
    const pinned = await pins.get('k');
    await expect(client.getKey('k')).rejects.toMatchObject({ name: 'UntrustedResultError', message: expect.stringMatching(/epoch 3; the attested epoch 1 is older/) });
    expect(await pins.get('k')).toEqual(pinned);
  });
});

describe('lifecycle approvals through the SDK', () => {
  it('a key whose rules require 2 reshare approvals: one is refused (key unchanged), two signed with signLifecycleApproval pass', async () => {
    const policy = lifecyclePolicy({ keys: { '*': { reshareApprovals: { quorum: 2, approvers: ['alice', 'bob'] } } } });
    const harness = await openHarness(await scratch.dir(), { parties: 3, approvers: ['alice', 'bob'], policy, deliveryConcurrency: 8 });
    scratch.own(harness.cluster);
    harness.cluster.serve();
    const pins = new MemoryKeyPins();
    const client = harness.cluster.client('cli', { timeoutMs: 120_000, pins });
    const { publicKey } = await client.keygen({ keyId: 'k', threshold: 2, parties: ['p1', 'p2', 'p3'] });
    const before = await pins.get('k');
    // What each approver signs: this reshare exactly, lists sorted as the SDK sends them.
    const approved = { initiator: 'cli', keyId: 'k', epoch: 0, operation: 'reshare' as const, threshold: 3, parties: ['p1', 'p2', 'p3'], dealers: ['p1', 'p3'] };
    const approve = (id: string, requestId: string) => signLifecycleApproval(requiredVault(harness.cluster, id), id, { ...approved, requestId });

    const one = [await approve('alice', 'raise-1')];
    await expect(client.reshare({ keyId: 'k', parties: ['p3', 'p2', 'p1'], threshold: 3, dealers: ['p3', 'p1'], requestId: 'raise-1', approvals: one })).rejects.toMatchObject({
      name: 'PolicyRefusedError',
      code: 'policy',
    });
    expect(await pins.get('k')).toEqual(before);
    expect((await harness.cluster.coordinator.getKey('k'))?.epoch ?? 0).toBe(0);

    const two = [await approve('alice', 'raise-2'), await approve('bob', 'raise-2')];
    const result = await client.reshare({ keyId: 'k', parties: ['p3', 'p2', 'p1'], threshold: 3, dealers: ['p3', 'p1'], requestId: 'raise-2', approvals: two });
    expect(result).toMatchObject({ epoch: 1, threshold: 3, parties: ['p1', 'p2', 'p3'], publicKey });
  });
});
