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
  /** A pool refill refused: the party already holds enough unused pool nonces of the key (NoncePoolSettings.maxUnused). */
  poolFull: 'pool-full',
  /** A signing package for another request than the one this party committed its nonce for. */
  requestMismatch: 'request-mismatch',
  /** A keygen session this party will not take further: round 1 done and its state expired, abandoned, or aborted. */
  sessionClosed: 'session-closed',
  /**
   * An authenticated sender with no place in this session: not a party of the key or of the
   * keygen, or a second message from one party where a transcript allows one.
   */
  unexpectedSender: 'unexpected-sender',
  /** A package or commitment that carries another FROST identifier than its signed sender's. */
  wrongIdentifier: 'wrong-identifier',
  /** A point, scalar, signature or key whose length is not the key's suite's (e.g. an Ed25519-sized value in a secp256k1-tr session). */
  wrongSuiteSize: 'wrong-suite-size',
  /**
   * A package whose fields contradict the session or each other: another key id, attempt,
   * threshold, suite or party set, shares for other recipients, or a public package that does
   * not hash to the hash beside it. Names its sender: it signed the package.
   */
  inconsistentPackage: 'inconsistent-package',
  /** One party sent two different messages for the same round (equivocation); names it. */
  equivocation: 'equivocation',
  /** A relayed transcript without this party's own message unchanged: the relay altered or dropped it. */
  transcriptMismatch: 'transcript-mismatch',
  /** A relayed transcript with too few messages: packages, shares or confirmations missing, or fewer commitments than the threshold. */
  incompleteTranscript: 'incomplete-transcript',
  /** A signing package without this party's commitment (frost-rs `MissingCommitment`). */
  missingCommitment: 'missing-commitment',
  /** A signing package with another commitment under this party's identifier than the one it made (frost-rs `IncorrectCommitment`). */
  incorrectCommitment: 'incorrect-commitment',
  /** A package the FROST library rejects: a DKG round-1 package whose proof of knowledge fails, a signing package it cannot sign. */
  invalidPackage: 'invalid-package',
  /** A DKG round-2 share that fails vss_verify, or a signature share that fails verification (RFC 9591 §5.4). */
  invalidShare: 'invalid-share',
  /** DKG round-2 shares that hold nothing for this party. */
  missingShare: 'missing-share',
  /** A `dkg.abort` whose relayed refusal does not abandon the keygen, so it proves nothing. */
  unprovenAbort: 'unproven-abort',
  /** A signing message for another key epoch than this party's active share (a refresh or reshare switched it meanwhile); retry. */
  staleEpoch: 'stale-epoch',
  /** A refresh or reshare dealer whose dealing does not hold (share or commitments); names it, with evidence. */
  badDealing: 'bad-dealing',
  /**
   * A protocol fault with no more specific code. Kept where clients already branch on it: a
   * proven DKG share accusation (the keygen error carries the blame); new faults get a code
   * that names them.
   */
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
  /** The parties to blame, when the refusal proves someone misbehaved (their signed messages are the evidence); empty otherwise. */
  readonly blame: readonly string[];
  constructor(code: RefusalCode, message: string, options?: { blame?: string | readonly string[]; cause?: unknown }) {
    super(code, message, options);
    const blame = options?.blame;
    this.blame = blame === undefined ? [] : typeof blame === 'string' ? [blame] : [...blame];
  }
}

/** A signing package that differs from the one a nonce was consumed for: a possible attack. */
export class NonceReuseError extends RefusedError {
  override readonly name = 'NonceReuseError';
  constructor(message: string) {
    super(RefusalCode.nonceReuse, message);
  }
}

/**
 * Stored state that is missing or does not fit what was stored beside it: a session without
 * a contribution its phase requires, a signing session whose key record is gone, round state
 * that does not match its marker. Not the input's fault, so never refused: thrown, so that
 * the message is retried and the failure alarms (a table was altered, or a bug wrote it).
 */
export class StoredStateError extends FrostlineError {
  override readonly name = 'StoredStateError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('stored-state', message, options);
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
