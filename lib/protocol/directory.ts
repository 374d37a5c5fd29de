/** Who is who: the pinned identity keys every receiver verifies against. */
import type { IdentityPublicKey } from '../ports/key-vault.js';

export interface Directory {
  readonly coordinator: IdentityPublicKey;
  readonly parties: Readonly<Record<string, IdentityPublicKey>>;
  readonly initiators: Readonly<Record<string, IdentityPublicKey>>;
  /** People or systems whose signatures count towards approval quorums. */
  readonly approvers?: Readonly<Record<string, IdentityPublicKey>>;
}

export type Role = 'party' | 'coordinator' | 'initiator';

export function publicKeyOf(directory: Directory, role: Role, name: string): IdentityPublicKey | undefined {
  if (role === 'coordinator') return name === 'coordinator' ? directory.coordinator : undefined;
  const table = role === 'party' ? directory.parties : directory.initiators;
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** Timing and size limits applied to every inbound message. */
export interface Limits {
  /** Largest serialized envelope accepted, in bytes (below the SQS limit). */
  readonly maxEnvelopeBytes: number;
  /** How far in the future a timestamp may be (clock skew between accounts). */
  readonly maxClockSkewMs: number;
  /** How old an envelope may be when it arrives. Replay ids are kept at least this long. */
  readonly maxMessageAgeMs: number;
  /** How old an initiator request may be when a party starts new work for it. */
  readonly maxRequestAgeMs: number;
  /** How long a committed, unused nonce stays usable. */
  readonly nonceTtlSeconds: number;
  /** How long a finished signing session (and so its idempotent result) is kept. */
  readonly sessionTtlSeconds: number;
  /**
   * Lifetime of a delegated message-signing certificate (lib/protocol/delegation.ts): what a
   * sender issues, and the longest a receiver accepts. Absent: DEFAULT_DELEGATED_KEY_LIFETIME_MS.
   */
  readonly delegatedKeyLifetimeMs?: number;
}

/** Ten minutes: a stolen delegated key signs for no longer than this (plus clock skew). */
export const DEFAULT_DELEGATED_KEY_LIFETIME_MS = 10 * 60_000;

export const DEFAULT_LIMITS: Limits = {
  maxEnvelopeBytes: 240 * 1024,
  maxClockSkewMs: 60_000,
  maxMessageAgeMs: 10 * 60_000,
  maxRequestAgeMs: 60 * 60_000,
  nonceTtlSeconds: 15 * 60,
  sessionTtlSeconds: 7 * 24 * 3600,
  delegatedKeyLifetimeMs: DEFAULT_DELEGATED_KEY_LIFETIME_MS,
};

/** Slack on top of the request window, for the time a party takes between its checks and its writes. */
const DKG_TTL_MARGIN_SECONDS = 5 * 60;

/**
 * How long a party keeps what it stored for one keygen session. Derived, not configured, so
 * they cannot fall out of step with the request window: a keygen request is accepted while
 * it is at most `maxRequestAgeMs` old and at most `maxClockSkewMs` ahead, so a request seen
 * at time t0 can still be accepted until t0 + skew + age.
 * - `stateSeconds`: the encrypted round state lives at least that long (plus a margin), so a
 *   redelivered `dkg.start` never finds it gone while its request is still accepted.
 * - `sessionSeconds`: the per-session marker ("round 1 produced", "finished", "abandoned")
 *   outlives the state even after round 2 rewrote it (≤ 2 × stateSeconds) and every request
 *   that could still name the session, so a party never publishes a second round-1 package
 *   for a session, nor restarts one it abandoned.
 */
export function dkgLifetimes(limits: Pick<Limits, 'maxRequestAgeMs' | 'maxClockSkewMs'>): { stateSeconds: number; sessionSeconds: number } {
  const requestWindowSeconds = Math.ceil((limits.maxRequestAgeMs + limits.maxClockSkewMs) / 1000);
  const stateSeconds = requestWindowSeconds + DKG_TTL_MARGIN_SECONDS;
  return { stateSeconds, sessionSeconds: 2 * stateSeconds + requestWindowSeconds };
}
