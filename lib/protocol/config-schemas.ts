/**
 * Schemas for the configuration the protocol consumes — pinned keys and party policy —
 * shared by the Lambda environment contract, the deployment config and the local cluster
 * file, so that all three accept and refuse exactly the same things.
 */
import * as z from 'zod/mini';
import { IdentityAlgorithm } from '../ports/key-vault.js';
import type { Directory } from './directory.js';
import { Name } from './messages.js';
import type { PartyPolicy } from './requests.js';
import { parsePath } from './derivation/path.js';

export const IdentityPublicKeySchema = z.strictObject({
  alg: z.enum([IdentityAlgorithm.ed25519, IdentityAlgorithm.p256]),
  spki: z.string().check(z.regex(/^(?:[0-9a-f]{2})+$/, 'expected DER SPKI as lower-case hex')),
});

export const DirectorySchema = z.strictObject({
  coordinator: IdentityPublicKeySchema,
  parties: z.record(Name, IdentityPublicKeySchema),
  initiators: z.record(Name, IdentityPublicKeySchema),
  approvers: z.optional(z.record(Name, IdentityPublicKeySchema)),
});

const ApprovalRuleSchema = z
  .strictObject({ quorum: z.number().check(z.int(), z.gte(1)), approvers: z.array(Name).check(z.minLength(1)) })
  .check(z.refine((rule) => rule.quorum <= rule.approvers.length, 'quorum exceeds the number of approvers'));

export const KeyRulesSchema = z.strictObject({
  maxMessageBytes: z.optional(z.number().check(z.int(), z.positive())),
  approvals: z.optional(ApprovalRuleSchema),
  /** m of k approvers for every refresh and reshare of the key (lifecycle approvals, approvals.ts). */
  reshareApprovals: z.optional(ApprovalRuleSchema),
  rateLimit: z.optional(z.strictObject({ max: z.number().check(z.int(), z.gte(1)), windowSeconds: z.number().check(z.int(), z.gte(1)) })),
});

/** A derivation-path prefix in a policy: checked when the policy is read, not at the first request. */
const PathPrefix = z.string().check(
  z.maxLength(400),
  z.refine((text) => {
    try {
      parsePath(text);
      return true;
    } catch {
      return false;
    }
  }, 'expected a non-hardened derivation path such as "m/0"'),
);

export const PartyPolicySchema = z.strictObject({
  maxMessageBytes: z.number().check(z.int(), z.positive()),
  initiators: z.record(
    Name,
    z.strictObject({
      keygen: z.boolean(),
      keys: z.array(z.union([Name, z.literal('*')])),
      paths: z.optional(z.array(PathPrefix)),
      reshare: z.optional(z.array(z.union([Name, z.literal('*')]))),
    }),
  ),
  keys: z.optional(z.record(z.union([Name, z.literal('*')]), KeyRulesSchema)),
});

// A new required field or a changed type in Directory/PartyPolicy fails to compile here.
DirectorySchema satisfies z.ZodMiniType<Directory>;
PartyPolicySchema satisfies z.ZodMiniType<PartyPolicy>;
