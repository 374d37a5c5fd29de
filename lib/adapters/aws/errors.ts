import { InfrastructureError } from '../../ports/errors.js';

/** The AWS error name (`ConditionalCheckFailedException`, ...) of an SDK error, if it has one. */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('name' in error)) return undefined;
  return typeof error.name === 'string' ? error.name : undefined;
}

/**
 * Wraps an SDK error as an InfrastructureError naming the call (`kms:Decrypt`). The message
 * carries the AWS error name and message only: AWS error messages never echo request
 * payloads, and callers must never put secrets in `operation`.
 */
export function infrastructureError(operation: string, error: unknown): InfrastructureError {
  const name = awsErrorName(error) ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new InfrastructureError(operation, `${name}: ${message}`, { cause: error });
}
