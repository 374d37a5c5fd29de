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
import { newReshareSession } from './reshare/coordinator-intake.js';
import { retryOnConflict } from '../ports/store.js';
import { newSignSession } from './sign/coordinator-intake.js';

/** `request` is authenticated and not replayed. Throws the RefusedError after telling the initiator why. */
export async function onRequest(io: CoordinatorIO, request: Envelope): Promise<void> {
  if (request.type === MessageType.keyRequest) {
    const body = parseBody(request, MessageType.keyRequest);
    return io.sendAll([keyResult(request, body, await io.getKey(body.keyId))]);
  }
  try {
    const { requestId } = requestIdOf(request);
    if (request.session !== deriveSessionId(request.from, requestId)) {
      throw new RefusedError(RefusalCode.wrongSession, 'session is not derived from the initiator and request id');
    }
    const sessionKey = coordinatorKeys.session(request.session);
    const existing = await io.tables.sessions.get(sessionKey);
    if (existing !== undefined) return await onRepeatedRequest(io, request, existing.value);
    if (request.type === MessageType.refreshRequest || request.type === MessageType.reshareRequest) return await startReshare(io, request);
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

function requestIdOf(request: Envelope): { requestId: string } {
  switch (request.type) {
    case MessageType.keygenRequest:
      return parseBody(request, MessageType.keygenRequest);
    case MessageType.refreshRequest:
      return parseBody(request, MessageType.refreshRequest);
    case MessageType.reshareRequest:
      return parseBody(request, MessageType.reshareRequest);
    default:
      return parseBody(request, MessageType.signRequest);
  }
}

/**
 * A refresh or reshare: the session and the key's reshare lock in one write, so a second
 * one of the same key is refused while the first is open (a finished session's lock is
 * taken over).
 */
async function startReshare(io: CoordinatorIO, request: Envelope): Promise<void> {
  const lifecycle = request.type === MessageType.refreshRequest
    ? { mode: 'refresh' as const, body: parseBody(request, MessageType.refreshRequest) }
    : { mode: 'reshare' as const, body: parseBody(request, MessageType.reshareRequest) };
  const keyId = lifecycle.body.keyId;
  const session = newReshareSession(request, lifecycle, await io.getKey(keyId), { directory: io.deps.directory, now: io.now() });
  const sessionKey = coordinatorKeys.session(request.session);
  const lockKey = coordinatorKeys.reshareLock(keyId);
  const created = await retryOnConflict(async () => {
    const lock = await io.tables.reshareLocks.get(lockKey);
    if (lock !== undefined && lock.value.session !== request.session) {
      const holder = await io.tables.sessions.get(coordinatorKeys.session(lock.value.session));
      if (holder !== undefined && !isFinished(holder.value)) {
        throw new RefusedError(RefusalCode.conflict, `another refresh or reshare of key "${keyId}" is in flight (session ${lock.value.session})`);
      }
    }
    const existing = await io.tables.sessions.get(sessionKey);
    if (existing !== undefined) return existing.value;
    await io.tables.backend.write(
      [
        io.tables.sessions.putOperation(sessionKey, session, 1, { kind: 'absent' }, io.limits.sessionTtlSeconds),
        io.tables.reshareLocks.putOperation(lockKey, { session: request.session }, (lock?.version ?? 0) + 1, lock === undefined ? { kind: 'absent' } : { kind: 'version', version: lock.version }, io.limits.sessionTtlSeconds),
      ],
      io.nowSeconds(),
    );
    return undefined;
  });
  if (created !== undefined) return onRepeatedRequest(io, request, created);
  io.log.info('session started', { session: request.session, kind: session.kind, keyId, initiator: request.from, mode: session.mode });
  await io.sendPhase(session);
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
