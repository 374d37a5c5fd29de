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
  /** How long DKG round state is kept between rounds. */
  readonly dkgStateTtlSeconds: number;
  /** How long a finished signing session (and so its idempotent result) is kept. */
  readonly sessionTtlSeconds: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxEnvelopeBytes: 240 * 1024,
  maxClockSkewMs: 60_000,
  maxMessageAgeMs: 10 * 60_000,
  maxRequestAgeMs: 60 * 60_000,
  nonceTtlSeconds: 15 * 60,
  dkgStateTtlSeconds: 60 * 60,
  sessionTtlSeconds: 7 * 24 * 3600,
};
