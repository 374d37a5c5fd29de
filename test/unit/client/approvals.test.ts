import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lifecycleApprovalInput, signApproval } from '../../../lib/protocol/approvals.js';
import { LocalKeySigner } from '../../../lib/client/signers.js';
import { assertApprovalQuorum } from '../../../lib/protocol/approvals.js';
import type { Directory } from '../../../lib/protocol/directory.js';

function signer(type: 'ed25519' | 'p256'): LocalKeySigner {
  const { privateKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return new LocalKeySigner(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
}

describe('signApproval', () => {
  const request = { initiator: 'payments', requestId: 'order-42', keyId: 'treasury', message: '0a0b' };
  const rule = { quorum: 2, approvers: ['alice', 'bob', 'carol'] };

  it('approvals from application-held keys meet a 2-of-3 quorum the parties check', async () => {
    const alice = signer('ed25519');
    const bob = signer('p256');
    const directory: Directory = {
      coordinator: await signer('ed25519').identityPublicKey(),
      parties: {},
      initiators: {},
      approvers: { alice: await alice.identityPublicKey(), bob: await bob.identityPublicKey(), carol: await signer('ed25519').identityPublicKey() },
    };
    const approvals = [await signApproval(alice, 'alice', request), await signApproval(bob, 'bob', request)];
    expect(() => assertApprovalQuorum(rule, request, approvals, directory)).not.toThrow();
    // Signed for another message, bob's approval does not count.
    const other = await signApproval(bob, 'bob', { ...request, message: '0a0c' });
    expect(() => assertApprovalQuorum(rule, request, [approvals[0] ?? other, other], directory)).toThrow(/quorum not met: 1 of 2/);
  });

  it('approvals cover the derivation path: one for the key itself does not approve a child, nor one child another', async () => {
    const alice = signer('ed25519');
    const bob = signer('ed25519');
    const directory: Directory = {
      coordinator: await signer('ed25519').identityPublicKey(),
      parties: {},
      initiators: {},
      approvers: { alice: await alice.identityPublicKey(), bob: await bob.identityPublicKey(), carol: await signer('ed25519').identityPublicKey() },
    };
    const child = { ...request, path: 'm/0/7' };
    const forChild = [await signApproval(alice, 'alice', child), await signApproval(bob, 'bob', child)];
    expect(() => assertApprovalQuorum(rule, child, forChild, directory)).not.toThrow();
    const forParent = [await signApproval(alice, 'alice', request), await signApproval(bob, 'bob', request)];
    expect(() => assertApprovalQuorum(rule, child, forParent, directory)).toThrow(/quorum not met: 0 of 2/);
    expect(() => assertApprovalQuorum(rule, { ...request, path: 'm/0/8' }, forChild, directory)).toThrow(/quorum not met: 0 of 2/);
    expect(() => assertApprovalQuorum(rule, request, forChild, directory)).toThrow(/quorum not met: 0 of 2/);
  });
});

describe('lifecycle approvals', () => {
  const change = { initiator: 'ops', requestId: 'reshare-7', keyId: 'treasury', operation: 'reshare' as const, threshold: 2, parties: ['p1', 'p2', 'p4'], dealers: ['p1', 'p2'] };

  it('approve a set of parties and dealers, whatever order the approver listed them in', () => {
    const same = lifecycleApprovalInput({ ...change, parties: ['p4', 'p1', 'p2'], dealers: ['p2', 'p1'] });
    expect(Buffer.from(same).equals(Buffer.from(lifecycleApprovalInput(change)))).toBe(true);
    for (const other of [{ parties: ['p1', 'p2', 'p3'] }, { dealers: ['p1', 'p4'] }, { threshold: 3 }]) {
      expect(Buffer.from(lifecycleApprovalInput({ ...change, ...other })).equals(Buffer.from(lifecycleApprovalInput(change)))).toBe(false);
    }
  });
});
