/**
 * Schemas for the configuration the protocol consumes — pinned keys and party policy —
 * shared by the Lambda environment contract, the deployment config and the local cluster
 * file, so that all three accept and refuse exactly the same things.
 */
import { z } from 'zod';
import { IdentityAlgorithm } from '../ports/key-vault.js';
import type { Directory } from './directory.js';
import { Name } from './messages.js';
import type { PartyPolicy } from './requests.js';

export const IdentityPublicKeySchema = z.strictObject({
  alg: z.enum([IdentityAlgorithm.ed25519, IdentityAlgorithm.p256]),
  spki: z.string().regex(/^(?:[0-9a-f]{2})+$/, 'expected DER SPKI as lower-case hex'),
});

export const DirectorySchema = z.strictObject({
  coordinator: IdentityPublicKeySchema,
  parties: z.record(Name, IdentityPublicKeySchema),
  initiators: z.record(Name, IdentityPublicKeySchema),
  approvers: z.record(Name, IdentityPublicKeySchema).optional(),
});

export const KeyRulesSchema = z.strictObject({
  maxMessageBytes: z.number().int().positive().optional(),
  approvals: z
    .strictObject({ quorum: z.number().int().min(1), approvers: z.array(Name).min(1) })
    .refine((rule) => rule.quorum <= rule.approvers.length, 'quorum exceeds the number of approvers')
    .optional(),
  rateLimit: z.strictObject({ max: z.number().int().min(1), windowSeconds: z.number().int().min(1) }).optional(),
});

export const PartyPolicySchema = z.strictObject({
  maxMessageBytes: z.number().int().positive(),
  initiators: z.record(Name, z.strictObject({ keygen: z.boolean(), keys: z.array(z.union([Name, z.literal('*')])) })),
  keys: z.record(z.union([Name, z.literal('*')]), KeyRulesSchema).optional(),
});

// A new required field or a changed type in Directory/PartyPolicy fails to compile here.
DirectorySchema satisfies z.ZodType<Directory>;
PartyPolicySchema satisfies z.ZodType<PartyPolicy>;
