/**
 * One small error hierarchy for the whole system. Every error has a stable `code` that
 * callers branch on; messages name what was wrong but never carry secret material.
 */
export class FrostlineError extends Error {
  override readonly name: string = 'FrostlineError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Why an input was refused. Permanent: redelivering the same input cannot succeed. */
export const RefusalCode = {
  malformed: 'malformed',
  oversized: 'oversized',
  wrongRecipient: 'wrong-recipient',
  unknownSender: 'unknown-sender',
  badSignature: 'bad-signature',
  stale: 'stale',
  replayed: 'replayed',
  wrongSession: 'wrong-session',
  wrongRound: 'wrong-round',
  unauthorisedInitiator: 'unauthorised-initiator',
  policy: 'policy',
  unknownKey: 'unknown-key',
  nonceReuse: 'nonce-reuse',
  /** A nonce commitment that is not a valid group element (RFC 9591 §3.1); names its sender. */
  invalidCommitment: 'invalid-commitment',
  /** A nonce commitment already used for this key (RFC 9591 §7.3); names its sender. */
  commitmentReused: 'commitment-reused',
  conflict: 'conflict',
  /** A signing package for another request than the one this party committed its nonce for. */
  requestMismatch: 'request-mismatch',
  /** A keygen session this party will not take further: round 1 done and its state expired, abandoned, or aborted. */
  sessionClosed: 'session-closed',
  protocol: 'protocol',
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/**
 * Input that will never be accepted (bad signature, replay, policy, ...). Handlers
 * acknowledge such a message instead of retrying it, and leave state untouched.
 */
export class RefusedError extends FrostlineError {
  override readonly name: string = 'RefusedError';
  declare readonly code: RefusalCode;
  /** The party to blame, when the refusal proves someone misbehaved. */
  readonly blame: string | undefined;
  constructor(code: RefusalCode, message: string, options?: { blame?: string; cause?: unknown }) {
    super(code, message, options);
    this.blame = options?.blame;
  }
}

/** A signing package that differs from the one a nonce was consumed for: a possible attack. */
export class NonceReuseError extends RefusedError {
  override readonly name = 'NonceReuseError';
  constructor(message: string) {
    super(RefusalCode.nonceReuse, message);
  }
}

/** A conditional write lost: the item exists, is gone, or changed under us. */
export class ConditionFailedError extends FrostlineError {
  override readonly name = 'ConditionFailedError';
  /** The item that made the condition fail, when the backend returned it (single-item writes). */
  readonly existing: { readonly data: Record<string, unknown>; readonly version: number; readonly expiresAt?: number | undefined } | undefined;
  constructor(message: string, options?: { cause?: unknown; existing?: ConditionFailedError['existing'] }) {
    super('condition-failed', message, options);
    this.existing = options?.existing;
  }
}

/** A dependency (KMS, DynamoDB, SQS, the file system) failed; worth retrying. */
export class InfrastructureError extends FrostlineError {
  override readonly name = 'InfrastructureError';
  /** The call that failed, e.g. `kms:Decrypt`. */
  readonly operation: string;
  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super('infrastructure', `${operation}: ${message}`, options);
    this.operation = operation;
  }
}

/** Configuration that cannot work; reported once, at start-up, with every problem listed. */
export class ConfigError extends FrostlineError {
  override readonly name = 'ConfigError';
  constructor(message: string) {
    super('config', message);
  }
}
