/** Typed errors an application can branch on; each carries the request id it belongs to. */
import { FrostlineError, RefusalCode } from '../ports/errors.js';
import type { ResultError } from '../protocol/messages.js';

export class RequestError extends FrostlineError {
  override readonly name: string = 'RequestError';
  constructor(
    code: string,
    message: string,
    readonly requestId: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The application passed an option the SDK cannot send (a missing or mistyped field, a
 * threshold above the party count, a timeout out of range). Nothing was signed or sent.
 * `field` names the first bad option, e.g. `options.parties`.
 */
export class InvalidArgumentError extends FrostlineError {
  override readonly name = 'InvalidArgumentError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('invalid-argument', message);
  }
}

/** The parties' policy refused the request (initiator, key, size, approvals, rate). Nothing was signed. */
export class PolicyRefusedError extends RequestError {
  override readonly name = 'PolicyRefusedError';
}

/** A party sent an invalid signature share and too few honest parties remained. */
export class CheaterDetectedError extends RequestError {
  override readonly name = 'CheaterDetectedError';
  constructor(message: string, requestId: string, readonly blame: readonly string[]) {
    super('cheater-detected', message, requestId);
  }
}

/**
 * A refresh or reshare failed because a dealer's dealing did not hold (a share off its
 * commitments, or a wrong constant commitment), shown by evidence the coordinator checked.
 * The key is unchanged; retry without the blamed dealer(s) (`dealers`) if enough remain.
 */
export class BadDealingError extends RequestError {
  override readonly name = 'BadDealingError';
  constructor(message: string, requestId: string, readonly blame: readonly string[]) {
    super(RefusalCode.badDealing, message, requestId);
  }
}

export class UnknownKeyError extends RequestError {
  override readonly name = 'UnknownKeyError';
}

/** The request id was used before for a different request. */
export class RequestConflictError extends RequestError {
  override readonly name = 'RequestConflictError';
}

/**
 * The coordinator answered with something the parties did not attest: a key without valid
 * attestations, another key than the pinned one, or a signature that does not verify
 * under the pinned key over the requested message. The coordinator is at fault.
 */
export class UntrustedResultError extends RequestError {
  override readonly name = 'UntrustedResultError';
  /** Who is to blame: always the coordinator, the only one that could have sent it. */
  readonly culprit = 'coordinator';
  constructor(message: string, requestId: string, options?: { cause?: unknown }) {
    super('untrusted-result', `coordinator: ${message}`, requestId, options);
  }
}

export class RequestTimeoutError extends RequestError {
  override readonly name = 'RequestTimeoutError';
}

export class RequestAbortedError extends RequestError {
  override readonly name = 'RequestAbortedError';
}

const POLICY_CODES = new Set<string>([
  RefusalCode.unauthorisedInitiator,
  RefusalCode.policy,
  RefusalCode.badSignature,
  RefusalCode.wrongSession,
  RefusalCode.malformed,
]);

/** Turns a failed result into the error class that says what happened. */
export function errorFromResult(requestId: string, error: ResultError | undefined): RequestError {
  const code = error?.code ?? 'failed';
  const message = error?.message ?? 'request failed';
  if (code === 'cheater-detected') return new CheaterDetectedError(message, requestId, error?.blame ?? []);
  if (code === RefusalCode.badDealing) return new BadDealingError(message, requestId, error?.blame ?? []);
  if (code === RefusalCode.unknownKey) return new UnknownKeyError(code, message, requestId);
  if (code === RefusalCode.conflict) return new RequestConflictError(code, message, requestId);
  if (POLICY_CODES.has(code)) return new PolicyRefusedError(code, message, requestId);
  return new RequestError(code, message, requestId);
}
