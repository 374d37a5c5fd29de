import { RefusedError } from '../../lib/ports/errors.js';

/** Runs `run` and returns the RefusedError it throws; any other outcome fails the test. */
export function refusal(run: () => unknown): RefusedError {
  try {
    run();
  } catch (error) {
    if (error instanceof RefusedError) return error;
    throw error;
  }
  throw new Error('expected a RefusedError, but nothing was thrown');
}
