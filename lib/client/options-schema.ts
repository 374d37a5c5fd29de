/**
 * What the SDK accepts from an application, checked before anything is signed or sent: a
 * JavaScript caller (or a cast) that passes `parties: 3` gets an `InvalidArgumentError`
 * naming the field, not a TypeError from deep inside the request builder. The limits are
 * the wire format's (lib/protocol/messages.ts), so a request that passes here can be built.
 */
import { z } from 'zod';
import { Name, RequestId } from '../protocol/messages.js';
import { InvalidArgumentError } from './errors.js';
import { SUITE_NAMES } from '../protocol/suites.js';

/** The largest delay `setTimeout` honours; a larger one fires at once (Node clamps it to 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The most bytes one sign request can carry (the wire format's limit; a deployment's policy is usually lower). */
export const MAX_SIGN_MESSAGE_BYTES = 1024 * 1024;

const TimeoutMs = z.number().int('expected a whole number of milliseconds').min(1, 'expected at least 1 ms').max(MAX_TIMER_MS, `expected at most ${MAX_TIMER_MS} ms`);

const CallOptionsShape = {
  signal: z.instanceof(AbortSignal, { error: 'expected an AbortSignal' }).optional(),
  timeoutMs: TimeoutMs.optional(),
};

export const CallOptionsSchema = z.strictObject(CallOptionsShape);

export const KeygenOptionsSchema = z
  .strictObject({
    keyId: Name,
    threshold: z.number().int('expected an integer').min(2, 'expected at least 2').max(255, 'expected at most 255'),
    parties: z
      .array(Name, { error: 'expected an array of party ids' })
      .min(2, 'expected at least 2 party ids')
      .max(255, 'expected at most 255 party ids')
      .refine((parties) => new Set(parties).size === parties.length, 'party ids repeat'),
    requestId: z.optional(RequestId),
    suite: z.optional(z.string().refine((name) => SUITE_NAMES.includes(name), { message: `expected one of ${SUITE_NAMES.join(', ')}` })),
    ...CallOptionsShape,
  })
  .refine((o) => o.threshold <= o.parties.length, { path: ['threshold'], message: 'is larger than the number of parties' });

const Hex = z.string().regex(/^(?:[0-9a-f]{2})+$/, 'expected lower-case hex');

export const SignOptionsSchema = z.strictObject({
  keyId: Name,
  message: z
    .instanceof(Uint8Array, { error: 'expected a Uint8Array (e.g. new TextEncoder().encode(text))' })
    .refine((m) => m.length <= MAX_SIGN_MESSAGE_BYTES, `expected at most ${MAX_SIGN_MESSAGE_BYTES} bytes`),
  requestId: z.optional(RequestId),
  approvals: z
    .array(z.strictObject({ approver: Name, sig: Hex.max(256) }), { error: 'expected an array of approvals (from signApproval)' })
    .max(32, 'expected at most 32 approvals')
    .optional(),
  path: z.string().max(400).optional(),
  taproot: z.strictObject({ merkleRoot: z.string().regex(/^[0-9a-f]{64}$/, 'expected 32 bytes of lowercase hex').optional() }).optional(),
  ...CallOptionsShape,
});

const Approvals = z
  .array(z.strictObject({ approver: Name, sig: Hex.max(256) }), { error: 'expected an array of approvals (from signApproval)' })
  .max(32, 'expected at most 32 approvals')
  .optional();

const PartyList = (what: string) =>
  z
    .array(Name, { error: `expected an array of ${what} ids` })
    .min(2, `expected at least 2 ${what} ids`)
    .max(255, `expected at most 255 ${what} ids`)
    .refine((ids) => new Set(ids).size === ids.length, `${what} ids repeat`);

export const RefreshOptionsSchema = z.strictObject({
  keyId: Name,
  requestId: z.optional(RequestId),
  approvals: Approvals,
  ...CallOptionsShape,
});

export const ReshareOptionsSchema = z
  .strictObject({
    keyId: Name,
    parties: PartyList('party'),
    threshold: z.number().int('expected an integer').min(2, 'expected at least 2').max(255, 'expected at most 255'),
    dealers: PartyList('dealer').optional(),
    requestId: z.optional(RequestId),
    approvals: Approvals,
    ...CallOptionsShape,
  })
  .refine((o) => o.threshold <= o.parties.length, { path: ['threshold'], message: 'is larger than the number of parties' });

export const RepairOptionsSchema = z.strictObject({
  keyId: Name,
  party: Name,
  requestId: z.optional(RequestId),
  approvals: Approvals,
  ...CallOptionsShape,
});

const Functions = (...names: string[]) =>
  z.custom<object>(
    (value) => typeof value === 'object' && value !== null && names.every((n) => typeof (value as Record<string, unknown>)[n] === 'function'),
    `expected an object with ${names.map((n) => `${n}()`).join(' and ')}`,
  );

const PublicKey = z.object({ alg: z.string(), spki: z.string() }, { error: 'expected an identity public key { alg, spki }' });

export const ClientOptionsSchema = z.object({
  initiatorId: Name,
  signer: Functions('signIdentity', 'identityPublicKey'),
  coordinatorKey: PublicKey,
  partyKeys: z.record(z.string(), PublicKey, { error: 'expected every party\'s identity public key by party id' }),
  pins: Functions('get', 'pin').optional(),
  requests: Functions('send'),
  results: Functions('receive'),
  clock: Functions('now').optional(),
  timeoutMs: TimeoutMs.optional(),
  pollWaitMs: z.number().int('expected an integer').min(1, 'expected at least 1 ms').max(20_000, 'expected at most 20000 ms').optional(),
});

/**
 * Checks `value` against `schema`; throws one `InvalidArgumentError` naming every bad field
 * (`sign: options.message: expected a Uint8Array ...`). Values are never echoed: a message
 * may be secret.
 */
export function validated<T>(schema: z.core.$ZodType<T>, value: unknown, where: string, root = 'options'): T {
  // The functional form: `schema` may be a zod/mini schema (the protocol's) or a full one.
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const field = first === undefined ? root : [root, ...first.path.map(String)].join('.');
  const text = issues.map((issue) => `${[root, ...issue.path.map(String)].join('.')}: ${describe(issue, value)}`).join('; ');
  throw new InvalidArgumentError(field, `${where}: ${text}`);
}

function describe(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'unrecognized_keys') return `unknown option${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && at(value, issue.path) === undefined) return 'is required';
  return issue.message;
}

/** The value at `path` in what the caller passed (zod does not keep inputs in its issues). */
function at(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
