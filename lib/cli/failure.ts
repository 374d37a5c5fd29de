/**
 * How the CLI reports a failure: one line on stderr, `frostline: <code>: <reason>`, never a
 * stack or a help page; with --json also `{"ok":false,"code","message"}` on stdout; and an
 * exit status a script can branch on:
 *
 * - 0: done (and, for `verify` and `audit verify`, valid)
 * - 1: refused or failed — the parties refused, no such key, an invalid signature or audit
 *   chain, a config that cannot work. Repeating it unchanged fails again.
 * - 2: usage — an unknown command or option, a missing or malformed argument.
 * - 3: infrastructure — the file system, AWS, the emulator, a lock held by another
 *   command, a result that did not arrive in time. Repeating it later may succeed.
 */
import { CommanderError } from 'commander';
import { RequestError } from '../client/errors.js';
import { FrostlineError, InfrastructureError } from '../ports/errors.js';

export const ExitStatus = { ok: 0, failed: 1, usage: 2, infrastructure: 3 } as const;
export type ExitStatus = (typeof ExitStatus)[keyof typeof ExitStatus];

/** Codes of failures that may go away on their own (see exit status 3). */
const INFRASTRUCTURE_CODES = new Set(['infrastructure', 'io', 'locked', 'timeout', 'aws']);

/** A failed file-system call, as `io` with its errno code and without a stack. */
export function ioError(what: string, cause: unknown): FrostlineError {
  const errno = cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  const reason = cause instanceof Error ? (cause.message.split(',')[0] ?? cause.message) : String(cause);
  return new FrostlineError('io', `${what}: ${errno !== undefined && !reason.startsWith(errno) ? `${errno}: ` : ''}${reason}`, { cause });
}

/** A Node system error (ENOENT, EACCES, ...) that no command turned into a FrostlineError. */
function isSystemError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && /^E[A-Z0-9]+$/.test(error.code) && 'syscall' in error;
}

/** An AWS SDK error: a service answer (`$metadata`) or a credential or network failure. */
function isAwsError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  return '$metadata' in error || '$fault' in error || error.name === 'CredentialsProviderError' || error.name === 'TimeoutError';
}

export function exitStatusOf(error: unknown): ExitStatus {
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitStatus.ok : ExitStatus.usage;
  if (error instanceof InfrastructureError) return ExitStatus.infrastructure;
  if (error instanceof FrostlineError) {
    if (error.code === 'usage') return ExitStatus.usage;
    return INFRASTRUCTURE_CODES.has(error.code) ? ExitStatus.infrastructure : ExitStatus.failed;
  }
  if (isSystemError(error) || isAwsError(error)) return ExitStatus.infrastructure;
  return ExitStatus.failed;
}

/** Code and message of any failure, as printed. */
export function describeFailure(error: unknown): { code: string; message: string; requestId?: string } {
  // A list of problems ("...:\n  - a\n  - b") becomes "...: a; b".
  const oneLine = (text: string) => text.replace(/:\s*\n\s*-\s+/g, ': ').replace(/\s*\n\s*(?:-\s+)?/g, '; ');
  if (error instanceof CommanderError) return { code: 'usage', message: oneLine(error.message.replace(/^error: /, '')) };
  if (error instanceof RequestError) return { code: error.code, message: oneLine(error.message), requestId: error.requestId };
  if (error instanceof FrostlineError) return { code: error.code, message: oneLine(error.message) };
  if (isSystemError(error)) return { code: 'io', message: oneLine(error.message) };
  if (isAwsError(error)) return { code: 'aws', message: oneLine(`${error.name}: ${error.message}`) };
  if (error instanceof Error) return { code: 'internal', message: oneLine(`${error.name}: ${error.message}`) };
  return { code: 'internal', message: 'failed' };
}

/**
 * The one line the CLI prints for a failure: the error's code and message, and the request
 * id of a failed request. Messages of frostline errors carry no secrets by contract.
 */
export function failureLine(error: unknown, hint?: string): string {
  const { code, message, requestId } = describeFailure(error);
  return `frostline: ${code}: ${message}${requestId !== undefined ? ` (request ${requestId})` : ''}${hint !== undefined ? ` (${hint})` : ''}`;
}

/** The failure as the one JSON object of --json: `{ ok: false, code, message, requestId? }`. */
export function failureJson(error: unknown): Record<string, unknown> {
  const { code, message, requestId } = describeFailure(error);
  const blame = error instanceof FrostlineError && 'blame' in error && Array.isArray(error.blame) ? { blame: error.blame } : {};
  return { ok: false, ...(requestId !== undefined ? { requestId } : {}), code, message, ...blame };
}
