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
  /**
   * Nonce pools for one-round signing (README "How it works", one round; `noncePoolSettings`).
   * Absent: DEFAULT_NONCE_POOL. `false`: every signature takes two rounds.
   */
  readonly noncePool?: NoncePoolSettings | false;
}

export interface NoncePoolSettings {
  /** Commitments a party makes per batch (at most MAX_POOL_BATCH). */
  readonly batchSize: number;
  /** The coordinator asks a party for a batch once it holds at most this many of its unclaimed commitments. */
  readonly lowWater: number;
  /** A party refuses a refill while it holds at least this many unused, unexpired pool nonces of the key. */
  readonly maxUnused: number;
  /** How long a batch is usable (party and coordinator both check `expires`). */
  readonly ttlSeconds: number;
  /** A refill request unanswered for this long may be sent again. */
  readonly refillRetrySeconds: number;
  /** A one-round attempt still waiting for a signer after this long falls back to two rounds (the sweeper's check). */
  readonly fallbackAfterMs: number;
}

export const DEFAULT_NONCE_POOL: NoncePoolSettings = {
  batchSize: 32,
  lowWater: 8,
  maxUnused: 64,
  ttlSeconds: 24 * 3600,
  refillRetrySeconds: 60,
  fallbackAfterMs: 30_000,
};

/** The pool settings in force, or undefined when pools are off. */
export function noncePoolSettings(limits: Pick<Limits, 'noncePool'>): NoncePoolSettings | undefined {
  if (limits.noncePool === false) return undefined;
  return limits.noncePool ?? DEFAULT_NONCE_POOL;
}

/**
 * Fifteen minutes: a sender signs with a key for its first five, so whatever it signed stays
 * acceptable for the whole message age (ten minutes) through redeliveries and relaying; a
 * stolen delegated key signs for no longer than this (plus clock skew).
 */
export const DEFAULT_DELEGATED_KEY_LIFETIME_MS = 15 * 60_000;

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
