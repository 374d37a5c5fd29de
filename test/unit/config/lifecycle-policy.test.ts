/** Deployment configs grant refresh/reshare per initiator and may require lifecycle approvals per key. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parseDeploymentConfig, partyDirectoryOf, partyPolicyOf, type DeploymentConfigInput } from '../../../lib/config/deployment.js';
import { ConfigError } from '../../../lib/ports/errors.js';
import { approvalSigningInput, lifecycleApprovalInput } from '../../../lib/protocol/approvals.js';
import { PartyPolicySchema } from '../../../lib/protocol/config-schemas.js';

const example = (): DeploymentConfigInput => JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'deploy', 'example.config.json'), 'utf8')) as DeploymentConfigInput;

test('an initiator\'s reshare grant and a key\'s reshareApprovals reach every party\'s policy and directory', () => {
  const input = example();
  const config = parseDeploymentConfig({
    ...input,
    initiators: input.initiators.map((i) => (i.id === 'treasury' ? { ...i, reshare: ['treasury-cold'] } : i)),
    policy: { keys: { 'treasury-cold': { reshareApprovals: { quorum: 1, approvers: ['alice'] } } } },
  });
  const p1 = config.parties[0];
  if (p1 === undefined) throw new Error('no p1');
  const policy = partyPolicyOf(config, p1);
  expect(policy.initiators.treasury).toEqual({ keygen: true, keys: ['*'], reshare: ['treasury-cold'] });
  expect(policy.initiators.payments).toEqual({ keygen: false, keys: ['payments-hot'] });
  expect(policy.keys?.['treasury-cold']?.reshareApprovals).toEqual({ quorum: 1, approvers: ['alice'] });
  expect(Object.keys(partyDirectoryOf(config, p1)?.approvers ?? {})).toEqual(['alice']);
  expect(PartyPolicySchema.safeParse(policy).success).toBe(true);
});

test('a reshareApprovals approver without a pinned key is refused with its path', () => {
  const input = example();
  expect(() => parseDeploymentConfig({ ...input, policy: { keys: { k: { reshareApprovals: { quorum: 1, approvers: ['mallory'] } } } } })).toThrow(ConfigError);
  expect(() => parseDeploymentConfig({ ...input, policy: { keys: { k: { reshareApprovals: { quorum: 1, approvers: ['mallory'] } } } } })).toThrow(/reshareApprovals\.approvers: "mallory" is not in approvers/);
});

test('lifecycle approvals have their own domain: no signing approval input equals a lifecycle one', () => {
  const lifecycle = lifecycleApprovalInput({ initiator: 'cli', requestId: 'r', keyId: 'k', operation: 'refresh' });
  const signing = approvalSigningInput({ initiator: 'cli', requestId: 'r', keyId: 'k', message: '' });
  expect(Buffer.from(lifecycle).equals(Buffer.from(signing))).toBe(false);
  expect(Buffer.from(lifecycle).subarray(0, 31).toString()).toBe('frostline/lifecycle-approval/v1');
  const reshare = lifecycleApprovalInput({ initiator: 'cli', requestId: 'r', keyId: 'k', operation: 'reshare', threshold: 2, parties: ['a', 'b'] });
  const otherSet = lifecycleApprovalInput({ initiator: 'cli', requestId: 'r', keyId: 'k', operation: 'reshare', threshold: 2, parties: ['a', 'c'] });
  expect(Buffer.from(reshare).equals(Buffer.from(otherSet))).toBe(false);
});
