/**
 * Keygen intake, coordinator side: a checked `keygen.request` becomes a session in round 1.
 * The coordinator checks only what it needs to run the session (shape, known parties, no key
 * of that id yet); each party checks the request again for itself before it takes part.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeygenSession } from '../coordinator-state.js';
import { sessionBase } from '../coordinator-step.js';
import type { Directory } from '../directory.js';
import type { Envelope, KeygenRequestBody } from '../messages.js';
import { assertKeygenShape } from '../requests.js';

export interface KeygenIntake {
  readonly directory: Directory;
  readonly now: number;
  /** Whether the coordinator already holds a key of the requested id. */
  readonly keyExists: boolean;
}

export function newKeygenSession(request: Envelope, body: KeygenRequestBody, intake: KeygenIntake): KeygenSession {
  assertKeygenShape(body);
  for (const party of body.parties) {
    if (!Object.hasOwn(intake.directory.parties, party)) throw new RefusedError(RefusalCode.unknownSender, `unknown party "${party}"`);
  }
  if (intake.keyExists) throw new RefusedError(RefusalCode.conflict, `key "${body.keyId}" already exists`);
  return {
    ...sessionBase(request, body.requestId, body.keyId, intake.now),
    kind: 'keygen',
    phase: 'round1',
    threshold: body.threshold,
    parties: [...body.parties].sort(),
    round1: {},
    shares: {},
    done: {},
  };
}
