/**
 * Envelope creation, parsing and authentication. Order matters: size, JSON, shape (depth
 * and node count), schema, recipient, sender, signature, freshness: nothing reads a field
 * that has not passed the step before, and the body is validated against its type's schema
 * before any handler.
 */
import { randomBytes } from 'node:crypto';
import type * as z from 'zod/mini';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { IdentityPublicKey, KeyVault } from '../ports/key-vault.js';
import { publicKeyOf, type Directory, type Limits, type Role } from './directory.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, canonicalBytes, concatBytes, decodeHex, hashCanonical, utf8ToBytes } from './encoding.js';
import { delegatedSignatureProblem, DELEGABLE_TYPES, type CertificateCheck, type SignatureProblem } from './delegation.js';
import { verifyIdentitySignature } from './identity.js';
import {
  BodySchemas,
  EnvelopeSchema,
  PROTOCOL_VERSION,
  type BodyOf,
  type Envelope,
  type MessageType,
  type UnsignedEnvelope,
} from './messages.js';

export function newMessageId(): string {
  return bytesToHex(randomBytes(16));
}

/** A session id is derived from who asked and their request id, so every party can check it. */
export function deriveSessionId(initiator: string, requestId: string): string {
  return hashCanonical({ initiator, requestId }).slice(0, 32);
}

const SIGNATURE_DOMAIN = utf8ToBytes('frostline/envelope/v1\u0000');

/**
 * The bytes an identity key signs: a domain tag and the SHA-256 of the RFC 8785 canonical
 * JSON of every field but `sig`. Signing a digest keeps the input under KMS's 4096-byte
 * limit for MessageType RAW (relayed transcripts are larger), and the tag keeps these
 * signatures from being valid for anything else the key might sign.
 */
export function envelopeSigningInput(unsigned: UnsignedEnvelope): Uint8Array {
  return concatBytes(SIGNATURE_DOMAIN, sha256(canonicalBytes(unsigned)));
}

export async function signEnvelope(vault: Pick<KeyVault, 'signIdentity'>, unsigned: UnsignedEnvelope): Promise<Envelope> {
  const signature = await vault.signIdentity(envelopeSigningInput(unsigned));
  return { ...unsigned, sig: bytesToHex(signature) };
}

/**
 * Signs with the vault's delegated key when it has one and the type allows it
 * (lib/protocol/delegation.ts): the certificate goes into the envelope, under the signature.
 */
export async function signEnvelopeAt(vault: Pick<KeyVault, 'signIdentity' | 'delegation'>, unsigned: UnsignedEnvelope, now: number): Promise<Envelope> {
  if (vault.delegation === undefined || !DELEGABLE_TYPES.has(unsigned.type)) return signEnvelope(vault, unsigned);
  const key = await vault.delegation.keyAt(now);
  const certified: UnsignedEnvelope = { ...unsigned, cert: key.certificate };
  return { ...certified, sig: bytesToHex(key.sign(envelopeSigningInput(certified))) };
}

export interface NewEnvelope<T extends MessageType> {
  readonly type: T;
  readonly session: string;
  readonly from: string;
  readonly to: string;
  readonly body: BodyOf<T>;
}

export async function createEnvelope<T extends MessageType>(
  vault: Pick<KeyVault, 'signIdentity' | 'delegation'>,
  now: number,
  fields: NewEnvelope<T>,
): Promise<Envelope> {
  return signEnvelopeAt(vault, { v: PROTOCOL_VERSION, id: newMessageId(), ts: now, ...fields }, now);
}

function describeIssues(error: z.core.$ZodError): string {
  // Paths and messages only: values may be attacker-chosen or sensitive.
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Bounds on the shape of inbound JSON, checked right after JSON.parse and before anything
 * that walks the tree recursively (the schema, RFC 8785 canonicalisation for the
 * signature): a 200 KB `[[[[…]]]]` would otherwise overflow the stack with a RangeError and
 * be redelivered until it reached the dead-letter queue. Real messages stay far inside
 * both: the deepest (relayed transcripts: envelopes in envelopes) nest about 8 levels, and
 * every real node costs tens of bytes, so maxEnvelopeBytes keeps them near 10 000 nodes.
 */
export const JSON_SHAPE_LIMITS = { maxDepth: 32, maxNodes: 100_000 } as const;

/** Iterative (no recursion to overflow): counts every value and tracks its depth. */
export function assertJsonShape(json: unknown, limits: { maxDepth: number; maxNodes: number } = JSON_SHAPE_LIMITS): void {
  const pending: { value: unknown; depth: number }[] = [{ value: json, depth: 1 }];
  let nodes = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    nodes += 1;
    if (nodes > limits.maxNodes) throw new RefusedError(RefusalCode.malformed, `message has more than ${limits.maxNodes} JSON values`);
    if (next.depth > limits.maxDepth) throw new RefusedError(RefusalCode.malformed, `message nests deeper than ${limits.maxDepth} levels`);
    const { value, depth } = next;
    if (typeof value !== 'object' || value === null) continue;
    for (const child of Array.isArray(value) ? value : Object.values(value)) pending.push({ value: child, depth: depth + 1 });
  }
}

/** Size, JSON, shape and schema checks on untrusted text. */
export function parseEnvelope(raw: string, limits: Pick<Limits, 'maxEnvelopeBytes'>): Envelope {
  const size = utf8ToBytes(raw).length;
  if (size > limits.maxEnvelopeBytes) {
    throw new RefusedError(RefusalCode.oversized, `message of ${size} bytes exceeds the ${limits.maxEnvelopeBytes}-byte limit`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new RefusedError(RefusalCode.malformed, 'message is not valid JSON');
  }
  assertJsonShape(json);
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) throw new RefusedError(RefusalCode.malformed, `message envelope: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export function parseBody<T extends MessageType>(envelope: Envelope, type: T): BodyOf<T> {
  if (envelope.type !== type) {
    throw new RefusedError(RefusalCode.wrongRound, `expected ${type}, got ${envelope.type}`);
  }
  const parsed = BodySchemas[type].safeParse(envelope.body);
  if (!parsed.success) throw new RefusedError(RefusalCode.malformed, `${type} body: ${describeIssues(parsed.error)}`);
  return parsed.data as BodyOf<T>;
}

/**
 * Why `envelope` is not signed by `key` (the pinned identity key of its sender, in `role`),
 * or undefined when it is: by the identity key itself, or by a delegated key that key
 * certified (checked as `check` says; without a `check`, no delegated key is accepted).
 */
export function envelopeSignatureProblem(
  envelope: Envelope,
  key: IdentityPublicKey,
  role: Role,
  check?: CertificateCheck,
): SignatureProblem | undefined {
  const { sig, ...unsigned } = envelope;
  const signed = { message: envelopeSigningInput(unsigned), signature: decodeHex(sig, 'sig') };
  if (envelope.cert !== undefined) return delegatedSignatureProblem(envelope, envelope.cert, key, role, check, signed);
  if (verifyIdentitySignature(key, signed.message, signed.signature)) return undefined;
  return { code: RefusalCode.badSignature, reason: 'not by its pinned identity key' };
}

export function hasValidSignature(envelope: Envelope, directory: Directory, role: Role, check?: CertificateCheck): boolean {
  const key = publicKeyOf(directory, role, envelope.from);
  return key !== undefined && envelopeSignatureProblem(envelope, key, role, check) === undefined;
}

export interface InboundPolicy {
  readonly self: string;
  readonly directory: Directory;
  readonly limits: Limits;
  readonly now: number;
  /** Which role may send a message of this type to us; undefined = nobody. */
  readonly senderRole: (type: MessageType) => Role | undefined;
}

/**
 * Every check an inbound message must pass before a handler looks at it (except replay).
 * Each check is local computation on unauthenticated input, so an unexpected error here can
 * only come from the input (an encoding no check foresaw): it is refused as malformed,
 * never thrown for a redelivery that would fail the same way until the dead-letter queue.
 */
export function authenticateEnvelope(raw: string, policy: InboundPolicy): Envelope {
  try {
    return checkInbound(raw, policy);
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    const kind = error instanceof Error ? error.name : typeof error;
    throw new RefusedError(RefusalCode.malformed, `message could not be checked (${kind})`, { cause: error });
  }
}

function checkInbound(raw: string, policy: InboundPolicy): Envelope {
  const envelope = parseEnvelope(raw, policy.limits);
  if (envelope.to !== policy.self) {
    throw new RefusedError(RefusalCode.wrongRecipient, `message for "${envelope.to}" delivered to "${policy.self}"`);
  }
  const role = policy.senderRole(envelope.type);
  if (role === undefined) throw new RefusedError(RefusalCode.wrongRound, `"${policy.self}" does not accept ${envelope.type}`);
  const key = publicKeyOf(policy.directory, role, envelope.from);
  if (key === undefined) {
    throw new RefusedError(RefusalCode.unknownSender, `unknown ${role} "${envelope.from}"`);
  }
  const problem = envelopeSignatureProblem(envelope, key, role, { now: policy.now, limits: policy.limits });
  if (problem !== undefined) {
    throw new RefusedError(problem.code, `signature of ${envelope.type} from "${envelope.from}" does not verify: ${problem.reason}`);
  }
  assertFresh(envelope.ts, policy.now, policy.limits.maxMessageAgeMs, policy.limits.maxClockSkewMs, envelope.type);
  return envelope;
}

export function assertFresh(ts: number, now: number, maxAgeMs: number, maxSkewMs: number, what: string): void {
  if (ts > now + maxSkewMs) throw new RefusedError(RefusalCode.stale, `${what} is timestamped ${ts - now} ms in the future`);
  if (ts < now - maxAgeMs) throw new RefusedError(RefusalCode.stale, `${what} is ${now - ts} ms old (limit ${maxAgeMs} ms)`);
}

/**
 * Checks an envelope relayed inside another (a party's package forwarded by the coordinator):
 * it must be signed by `from`, be of `type`, and belong to `session`. A delegated signature
 * is accepted only with `certificates` (the receiver's clock and limits): a relayed message
 * meets the same certificate checks as a delivered one.
 */
export function verifyRelayed<T extends MessageType>(
  envelope: Envelope,
  expected: { type: T; session: string; directory: Directory; role: Role; certificates?: CertificateCheck },
): BodyOf<T> {
  if (envelope.session !== expected.session) {
    throw new RefusedError(RefusalCode.wrongSession, `relayed ${envelope.type} from "${envelope.from}" belongs to another session`);
  }
  const body = parseBody(envelope, expected.type);
  const key = publicKeyOf(expected.directory, expected.role, envelope.from);
  const problem = key === undefined ? { reason: 'unknown sender' } : envelopeSignatureProblem(envelope, key, expected.role, expected.certificates);
  if (problem !== undefined) {
    // No blame: whoever relayed it may have altered it, and the sender cannot be told apart.
    throw new RefusedError(RefusalCode.badSignature, `relayed ${expected.type} from "${envelope.from}" is not signed by it: ${problem.reason}`);
  }
  return body;
}
