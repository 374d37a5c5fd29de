/**
 * What every coordinator transition shares. A transition is a pure function from the stored
 * session, the signing key (for signing) and one authenticated message to a `Step`: plain
 * data saying what to store, claim, create, refuse and log. It reads no table and sends
 * nothing; coordinator.ts stores a step in one conditional write, then sends.
 *
 * A transition throws a RefusedError for a message it refuses without changing anything,
 * and a StoredStateError for stored state that cannot be right (retried and alarmed).
 */
import { RefusalCode, RefusedError, StoredStateError } from '../ports/errors.js';
import type { CommitmentUse, KeyRecord, Session } from './coordinator-state.js';
import type { Directory } from './directory.js';
import { hashCanonical } from './encoding.js';
import type { Envelope } from './messages.js';
import { requestFingerprint } from './requests.js';
import type { Suite } from './suite.js';

/** What transitions may read besides their arguments: fixed configuration and one clock reading. */
export interface TransitionContext {
  readonly suite: Suite;
  readonly directory: Directory;
  /** Epoch milliseconds, read once per message. */
  readonly now: number;
}

/** A nonce commitment put into a signing package: claimed for its key in the same write (RFC 9591 §7.3). */
export interface CommitmentClaim {
  readonly keyId: string;
  readonly hiding: string;
  readonly use: CommitmentUse;
}

/** A line to log once the step is stored (not once per optimistic-concurrency retry). */
export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** The outcome of applying one message to a session. */
export interface Step<S extends Session> {
  /** The session to store; absent when the message changes nothing. */
  readonly next?: S;
  /** The same message was recorded before (a crash before sending): send the phase again. */
  readonly resend: boolean;
  /** Written in the same transaction as `next`. */
  readonly claims?: readonly CommitmentClaim[];
  /** The key record a finished keygen creates: written with `next`, only if no record exists. */
  readonly key?: KeyRecord;
  /** The key record of a finished refresh or reshare: replaces the stored one, only if that is still at `fromEpoch`. */
  readonly rekey?: { readonly record: KeyRecord; readonly fromEpoch: number };
  /** The message proved its sender faulty: `next` excludes it, and the message is refused once stored. */
  readonly refusal?: RefusedError;
  readonly logs?: readonly LogLine[];
  /** Parties whose pooled entries proved unusable: taken out of the key's pools once `next` is stored (coordinator-sweep.ts `forgetPools`). */
  readonly forgetPools?: readonly string[];
}

/** The fields in which a session collects one signed message per party. */
export type ContributionField = 'round1' | 'shares' | 'done' | 'commitments' | 'dealings';

/**
 * Records one party's contribution to a round. A repeat changes nothing (the very same
 * message asks for a resend); a different message for a round still open is equivocation,
 * blamed on its signed sender; a late arrival changes nothing.
 */
export function contribute<S extends Session, K extends ContributionField & keyof S>(
  session: S,
  field: K,
  phase: S['phase'],
  envelope: Envelope,
  accept: (next: S) => S,
): Step<S> {
  const contributions = session[field] as Record<string, Envelope>;
  const existing = Object.hasOwn(contributions, envelope.from) ? contributions[envelope.from] : undefined;
  if (existing !== undefined) {
    if (existing.id !== envelope.id && hashCanonical(existing.body) !== hashCanonical(envelope.body) && session.phase === phase) {
      throw new RefusedError(RefusalCode.equivocation, `"${envelope.from}" sent two different ${envelope.type} messages`, { blame: envelope.from });
    }
    return { resend: existing.id === envelope.id };
  }
  if (session.phase !== phase) return { resend: false };
  const next = { ...session, [field]: { ...contributions, [envelope.from]: envelope } };
  return { next: accept(next), resend: false };
}

/** True when every one of `parties` has contributed to `record`. */
export function allOf(record: Readonly<Record<string, Envelope>>, parties: readonly string[]): boolean {
  return parties.every((p) => Object.hasOwn(record, p));
}

/** An entry the session's phase guarantees. Missing, the stored session is not what was written. */
export function required<T>(record: Readonly<Record<string, T>>, key: string, what: string): T {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  if (value === undefined) throw new StoredStateError(`stored session has no ${what} of "${key}"`);
  return value;
}

/** Whether a transition moved the session on (a new phase or attempt): then the new phase's messages go out. */
export function moved(before: Session, after: Session): boolean {
  if (before.phase !== after.phase) return true;
  return before.kind === 'sign' && after.kind === 'sign' && before.attempt !== after.attempt;
}

/** The fields every new session starts with. */
export function sessionBase(request: Envelope, requestId: string, keyId: string, now: number) {
  return {
    request,
    requestFingerprint: requestFingerprint(request),
    initiator: request.from,
    requestId,
    keyId,
    createdAt: now,
    refused: {},
  };
}
