/** A party's decisions, approved or refused, as they go into its audit trail. */
import { RefusedError } from '../ports/errors.js';
import type { AuditEntry } from './audit.js';
import { decodeHex, sha256Hex } from './encoding.js';
import type { Envelope } from './messages.js';
import type { PartyContext } from './party-context.js';
import { requestFingerprint } from './requests.js';

export type DecisionKind = 'keygen' | 'sign' | 'reshare';

/** What the audit trail records of a request (never the message itself: its hash). */
export function auditEntry(now: number, kind: DecisionKind, session: string, request: Envelope): Omit<AuditEntry, 'decision'> {
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 128) : '-');
  const message = body.message;
  return {
    kind,
    session,
    requestId: text(body.requestId),
    initiator: request.from,
    keyId: text(body.keyId),
    ...(kind === 'sign' && typeof message === 'string' && /^(?:[0-9a-f]{2})*$/.test(message)
      ? { messageSha256: sha256Hex(decodeHex(message, 'message')) }
      : {}),
    ...(kind === 'sign' && typeof body.path === 'string' ? { path: body.path.slice(0, 400) } : {}),
    ...(kind === 'sign' ? auditedTaproot(body.taproot) : {}),
    at: now,
  };
}

/** An approval the caller commits together with what it allows (`AuditLog.appendOperations`). */
export interface Approval {
  readonly decisionId: string;
  readonly entry: AuditEntry;
}

/**
 * Runs the checks of a decision; a refusal is appended to the audit trail at once (and
 * rethrown). Returns the approval, which the caller must append before or atomically with
 * anything it commits on the strength of it.
 */
export async function decideApproval<T>(ctx: PartyContext, kind: DecisionKind, session: string, request: Envelope, check: () => Promise<T>): Promise<{ result: T; approval: Approval }> {
  const entry = auditEntry(ctx.now(), kind, session, request);
  const decision = decisionIdOf(kind, session, request);
  let result: T;
  try {
    result = await check();
  } catch (error) {
    if (error instanceof RefusedError) {
      await ctx.audit.append(`${decision}#refused`, { ...entry, decision: 'refused', code: error.code, reason: error.message.slice(0, 500) });
    }
    throw error;
  }
  return { result, approval: { decisionId: `${decision}#approved`, entry: { ...entry, decision: 'approved' } } };
}

/**
 * What one decision is about. A signing session is named by (initiator, request id) only, so
 * a coordinator could relay several different requests under one id: each is a decision of
 * its own (audited, counted by the rate limit), never covered by the first one's approval.
 * Keygen and reshare sessions start state that a second request cannot reuse.
 */
export function decisionIdOf(kind: DecisionKind, session: string, request: Pick<Envelope, 'type' | 'from' | 'body'>): string {
  return kind === 'sign' ? `sign#${session}#${requestFingerprint(request as Envelope)}` : `${kind}#${session}`;
}

/**
 * Runs the checks of a keygen or signing decision and appends the decision, approved or
 * refused, to the audit trail before anything is committed.
 */
export async function decide<T>(ctx: PartyContext, kind: DecisionKind, session: string, request: Envelope, check: () => Promise<T>): Promise<T> {
  const { result, approval } = await decideApproval(ctx, kind, session, request, check);
  await ctx.audit.append(approval.decisionId, approval.entry);
  return result;
}

/** The taproot option of a signing request as the audit records it (the merkle root when it is hex of 32 bytes; anything else as given up to 64 characters). */
function auditedTaproot(taproot: unknown): { taproot?: { merkleRoot?: string } } {
  if (taproot === undefined || taproot === null || typeof taproot !== 'object') return {};
  const merkleRoot: unknown = (taproot as { merkleRoot?: unknown }).merkleRoot;
  return { taproot: typeof merkleRoot === 'string' ? { merkleRoot: merkleRoot.slice(0, 64) } : {} };
}
