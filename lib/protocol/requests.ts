/**
 * Initiator requests ride unchanged inside the coordinator's messages. Each party checks
 * them itself — signature, session binding, age and its own policy — because the
 * coordinator is trusted for liveness only.
 */
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { Directory, Limits } from './directory.js';
import { assertFresh, deriveSessionId, hasValidSignature, parseBody } from './envelope.js';
import { hashCanonical } from './encoding.js';
import {
  COORDINATOR,
  MessageType,
  type Envelope,
  type KeygenRequestBody,
  type RefreshRequestBody,
  type ReshareRequestBody,
  type SignRequestBody,
} from './messages.js';
import type { ApprovalRule } from './approvals.js';
import type { RateLimitRule } from './rate-limit.js';
import { formatPath, hasPathPrefix, parsePath, type DerivationPath } from './derivation/path.js';
import { suiteById } from './suites.js';

/** What one party allows. Each party holds its own copy; nobody else's word changes it. */
export interface PartyPolicy {
  /** Largest message (bytes to sign) this party will sign, unless a key's rules say otherwise. */
  readonly maxMessageBytes: number;
  readonly initiators: Readonly<Record<string, InitiatorGrant>>;
  /** Extra rules per key id; "*" applies to keys without an entry of their own. */
  readonly keys?: Readonly<Record<string, KeyRules>>;
}

export interface KeyRules {
  readonly maxMessageBytes?: number;
  /** m of k named approvers must sign each request. */
  readonly approvals?: ApprovalRule;
  /** Signatures per window, counted per initiator. */
  readonly rateLimit?: RateLimitRule;
  /** m of k named approvers must sign each refresh and reshare of the key (`lifecycleApprovalInput`). */
  readonly reshareApprovals?: ApprovalRule;
}

export function keyRules(policy: PartyPolicy, keyId: string): KeyRules {
  const rules = policy.keys;
  if (rules === undefined) return {};
  return (Object.hasOwn(rules, keyId) ? rules[keyId] : Object.hasOwn(rules, '*') ? rules['*'] : undefined) ?? {};
}

export interface InitiatorGrant {
  /** May this initiator ask for new keys? */
  readonly keygen: boolean;
  /** Key ids this initiator may request signatures with; "*" means every key. */
  readonly keys: readonly string[];
  /**
   * Derivation path prefixes this initiator may sign under ("m/0" allows m/0, m/0/7, …;
   * "m" allows every non-hardened path; [] allows none, only the key itself). Absent: any
   * path, since a child key's tweak is public and the key grant already covers the parent.
   */
  readonly paths?: readonly string[];
  /** Key ids this initiator may refresh or reshare (README "Key lifecycle"); "*" means every key. Absent: none. */
  readonly reshare?: readonly string[];
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

interface RequestContext {
  readonly directory: Directory;
  readonly limits: Limits;
  readonly now: number;
  /** The session of the envelope that carried the request. */
  readonly session: string;
}

function verifyRequestEnvelope(request: Envelope, type: MessageType, context: RequestContext): void {
  if (request.type !== type) throw new RefusedError(RefusalCode.malformed, `expected a ${type}, got ${request.type}`);
  if (request.to !== COORDINATOR) throw new RefusedError(RefusalCode.malformed, `${type} is not addressed to the coordinator`);
  if (!Object.hasOwn(context.directory.initiators, request.from)) {
    throw new RefusedError(RefusalCode.unauthorisedInitiator, `"${request.from}" is not a known initiator`);
  }
  if (!hasValidSignature(request, context.directory, 'initiator')) {
    throw new RefusedError(RefusalCode.badSignature, `${type} is not signed by initiator "${request.from}" (altered after signing?)`);
  }
  assertFresh(request.ts, context.now, context.limits.maxRequestAgeMs, context.limits.maxClockSkewMs, type);
}

function assertSessionBinding(request: Envelope, requestId: string, session: string): void {
  const expected = deriveSessionId(request.from, requestId);
  if (request.session !== expected || session !== expected) {
    throw new RefusedError(RefusalCode.wrongSession, `session does not belong to request "${requestId}"`);
  }
}

export function verifyKeygenRequest(request: Envelope, context: RequestContext): KeygenRequestBody {
  verifyRequestEnvelope(request, MessageType.keygenRequest, context);
  const body = parseBody(request, MessageType.keygenRequest);
  assertSessionBinding(request, body.requestId, context.session);
  assertKeygenShape(body);
  return body;
}

/** Threshold and party-set rules; the coordinator applies the same ones at intake. */
export function assertKeygenShape(body: KeygenRequestBody): void {
  if (suiteById(body.suite) === undefined) throw new RefusedError(RefusalCode.malformed, `unsupported ciphersuite "${body.suite}"`);
  if (new Set(body.parties).size !== body.parties.length) {
    throw new RefusedError(RefusalCode.malformed, 'parties contains a duplicate');
  }
  if (body.threshold < 2 || body.threshold > body.parties.length) {
    // A threshold of 1 would let any single party sign alone: refused, never silently accepted.
    throw new RefusedError(RefusalCode.malformed, `threshold ${body.threshold} must be between 2 and ${body.parties.length}`);
  }
}

export function verifySignRequest(request: Envelope, context: RequestContext): SignRequestBody {
  verifyRequestEnvelope(request, MessageType.signRequest, context);
  const body = parseBody(request, MessageType.signRequest);
  assertSessionBinding(request, body.requestId, context.session);
  return body;
}

export function assertMayKeygen(policy: PartyPolicy, initiator: string): void {
  const grant = Object.hasOwn(policy.initiators, initiator) ? policy.initiators[initiator] : undefined;
  if (grant?.keygen !== true) {
    throw new RefusedError(RefusalCode.unauthorisedInitiator, `initiator "${initiator}" may not request keys`);
  }
}

/** May this initiator refresh or reshare this key? (Both are the same grant: either changes who holds the key.) */
export function assertMayReshare(policy: PartyPolicy, initiator: string, keyId: string): void {
  const grant = Object.hasOwn(policy.initiators, initiator) ? policy.initiators[initiator] : undefined;
  const keys = grant?.reshare ?? [];
  if (!(keys.includes('*') || keys.includes(keyId))) {
    throw new RefusedError(RefusalCode.unauthorisedInitiator, `initiator "${initiator}" may not refresh or reshare key "${keyId}"`);
  }
}

/** A refresh or reshare request, as every lifecycle step reads it: refresh has no party set of its own. */
export type LifecycleRequest =
  | { readonly mode: 'refresh'; readonly body: RefreshRequestBody }
  | { readonly mode: 'reshare'; readonly body: ReshareRequestBody };

/** The initiator's signed `refresh.request` or `reshare.request`, bound to this session. */
export function verifyLifecycleRequest(request: Envelope, context: RequestContext): LifecycleRequest {
  if (request.type === MessageType.refreshRequest) {
    verifyRequestEnvelope(request, MessageType.refreshRequest, context);
    const body = parseBody(request, MessageType.refreshRequest);
    assertSessionBinding(request, body.requestId, context.session);
    return { mode: 'refresh', body };
  }
  verifyRequestEnvelope(request, MessageType.reshareRequest, context);
  const body = parseBody(request, MessageType.reshareRequest);
  assertSessionBinding(request, body.requestId, context.session);
  return { mode: 'reshare', body };
}

export function assertMaySign(policy: PartyPolicy, initiator: string, keyId: string, messageBytes: number): void {
  const grant = Object.hasOwn(policy.initiators, initiator) ? policy.initiators[initiator] : undefined;
  if (grant === undefined || !(grant.keys.includes('*') || grant.keys.includes(keyId))) {
    throw new RefusedError(RefusalCode.unauthorisedInitiator, `initiator "${initiator}" may not sign with key "${keyId}"`);
  }
  const limit = keyRules(policy, keyId).maxMessageBytes ?? policy.maxMessageBytes;
  if (messageBytes > limit) {
    throw new RefusedError(RefusalCode.policy, `message of ${messageBytes} bytes exceeds the ${limit}-byte policy limit`);
  }
}

/**
 * The request's path under this party's policy: parsed (malformed or hardened: refused) and
 * within one of the initiator's allowed prefixes. Returns the parsed path, or undefined for
 * a request without one.
 */
export function assertMayUsePath(policy: PartyPolicy, initiator: string, pathText: string | undefined): DerivationPath | undefined {
  if (pathText === undefined) return undefined;
  const path = parsePath(pathText);
  const grant = Object.hasOwn(policy.initiators, initiator) ? policy.initiators[initiator] : undefined;
  const allowed = grant?.paths;
  if (allowed !== undefined && !allowed.some((prefix) => hasPathPrefix(path, parsePath(prefix)))) {
    throw new RefusedError(RefusalCode.policy, `initiator "${initiator}" may not sign under path ${formatPath(path)}`);
  }
  return path;
}

/** Identifies a request's content: the same requestId with other content is a conflict. */
export function requestFingerprint(request: Envelope): string {
  return hashCanonical({ type: request.type, from: request.from, body: request.body });
}
