/**
 * Initiator requests, coordinator side: a key lookup is answered from the registry; a keygen
 * or sign request starts a session exactly once however many deliveries race (create, or
 * adopt the winner), and a repeated request id gets the existing session's answer.
 */
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { CoordinatorIO } from './coordinator-io.js';
import { refusedRequestResult } from './coordinator-outbox.js';
import { coordinatorKeys, type Session } from './coordinator-state.js';
import { isFinished } from './coordinator-timeout.js';
import { deriveSessionId, parseBody } from './envelope.js';
import { newKeygenSession } from './keygen/coordinator-intake.js';
import { keyResult } from './lookup/coordinator-key-request.js';
import { MessageType, type Envelope } from './messages.js';
import { requestFingerprint } from './requests.js';
import { newSignSession } from './sign/coordinator-intake.js';

/** `request` is authenticated and not replayed. Throws the RefusedError after telling the initiator why. */
export async function onRequest(io: CoordinatorIO, request: Envelope): Promise<void> {
  if (request.type === MessageType.keyRequest) {
    const body = parseBody(request, MessageType.keyRequest);
    return io.sendAll([keyResult(request, body, await io.getKey(body.keyId))]);
  }
  try {
    const { requestId } = request.type === MessageType.keygenRequest ? parseBody(request, MessageType.keygenRequest) : parseBody(request, MessageType.signRequest);
    if (request.session !== deriveSessionId(request.from, requestId)) {
      throw new RefusedError(RefusalCode.wrongSession, 'session is not derived from the initiator and request id');
    }
    const sessionKey = coordinatorKeys.session(request.session);
    const existing = await io.tables.sessions.get(sessionKey);
    if (existing !== undefined) return await onRepeatedRequest(io, request, existing.value);
    // Two deliveries of one request may both get here: one creates the session, the other
    // adopts it as a repeat.
    const stored = await io.tables.sessions.createOrGet(sessionKey, await newSession(io, request), io.limits.sessionTtlSeconds);
    if (!stored.created) return await onRepeatedRequest(io, request, stored.value);
    io.log.info('session started', { session: request.session, kind: stored.value.kind, keyId: stored.value.keyId, initiator: request.from });
    await io.sendPhase(stored.value);
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    // The initiator is authenticated: tell it why, then acknowledge the request.
    await io.sendAll([refusedRequestResult(request, { code: error.code, message: error.message })]);
    throw error;
  }
}

async function newSession(io: CoordinatorIO, request: Envelope): Promise<Session> {
  if (request.type === MessageType.keygenRequest) {
    const body = parseBody(request, MessageType.keygenRequest);
    return newKeygenSession(request, body, { directory: io.deps.directory, now: io.now(), keyExists: (await io.getKey(body.keyId)) !== undefined });
  }
  const body = parseBody(request, MessageType.signRequest);
  return newSignSession(request, body, await io.getKey(body.keyId), io.now());
}

/** A repeated requestId: the same request gets the existing result, never a second run. */
async function onRepeatedRequest(io: CoordinatorIO, request: Envelope, session: Session): Promise<void> {
  if (session.requestFingerprint !== requestFingerprint(request)) {
    throw new RefusedError(RefusalCode.conflict, `request id "${session.requestId}" was already used for a different request`);
  }
  if (isFinished(session)) await io.sendOutcome(session, true);
  // The very request that created the session, delivered again: the first delivery may have
  // stored the session and failed before sending the first round, which nothing else would
  // ever send. Parties answer repeated rounds idempotently.
  else if (session.request.id === request.id) await io.sendPhase(session);
}
