/**
 * Initiator requests, coordinator side: a key lookup is answered from the registry; a keygen
 * or sign request starts a session exactly once however many deliveries race (create, or
 * adopt the winner), and a repeated request id gets the existing session's answer. With
 * nonce pools on, a sign request claims pooled commitments (one round) when it can, and asks
 * parties running low for a new batch.
 */
import { randomBytes } from 'node:crypto';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { WriteOperation } from '../ports/store.js';
import type { CoordinatorIO } from './coordinator-io.js';
import { refusedRequestResult, toParty } from './coordinator-outbox.js';
import { coordinatorKeys, type KeyRecord, type PoolCursor, type Session, type SignSession } from './coordinator-state.js';
import type { CommitmentClaim, LogLine } from './coordinator-step.js';
import { isFinished } from './coordinator-timeout.js';
import { noncePoolSettings, type Limits, type NoncePoolSettings } from './directory.js';
import { bytesToHex } from './encoding.js';
import { deriveSessionId, parseBody } from './envelope.js';
import { newKeygenSession } from './keygen/coordinator-intake.js';
import { keyResult } from './lookup/coordinator-key-request.js';
import { MessageType, PoolBatchBody, type Envelope } from './messages.js';
import { requestFingerprint } from './requests.js';
import { newReshareSession } from './reshare/coordinator-intake.js';
import { retryOnConflict } from '../ports/store.js';
import { eligible } from './sign/coordinator-attempt.js';
import { newSignSession, pooledSignSession, requestedKey, type PooledEntry } from './sign/coordinator-intake.js';
import { claimSigners, cursorAtEpoch, keyEpoch, passed, pruned, refillsDue, refillsRequested, withoutBatch, type PoolClaim, type PoolClock } from './sign/coordinator-pool.js';

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
    const pools = noncePoolSettings(io.limits);
    if (request.type === MessageType.signRequest && pools !== undefined) return await startSign(io, request, pools);
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

/**
 * A sign request with pools on: in ONE write, the session (absent), the key's pool cursor
 * (version, or absent when new) with the claimed entries passed and refills noted, and a
 * CommitmentUse claim (absent) per pooled commitment. Any lost condition (a concurrent
 * request claimed the same entries, a duplicate delivery created the session) re-reads
 * everything and starts over. After the write: the session's first phase, then the refills.
 */
async function startSign(io: CoordinatorIO, request: Envelope, settings: NoncePoolSettings): Promise<void> {
  const body = parseBody(request, MessageType.signRequest);
  const sessionKey = coordinatorKeys.session(request.session);
  const cursorKey = coordinatorKeys.poolCursor(body.keyId);
  const clock: PoolClock = { now: io.now(), marginMs: io.limits.maxMessageAgeMs };
  let tries = 0;
  const outcome = await retryOnConflict(async () => {
    tries += 1;
    const existing = await io.tables.sessions.get(sessionKey);
    if (existing !== undefined) return { created: false as const, session: existing.value };
    const stored = await io.getKey(body.keyId);
    const fresh = newSignSession(request, body, stored, clock.now);
    const key = requestedKey(body, stored);
    const operations: WriteOperation[] = [];
    const storedCursor = await io.tables.poolCursors.get(cursorKey);
    // A cursor ahead of the key read: a refresh or reshare finished meanwhile. Leave it to
    // the requests that see the new epoch; this one takes two rounds.
    const ahead = storedCursor !== undefined && storedCursor.value.epoch > keyEpoch(key);
    let session: SignSession = fresh;
    let claims: CommitmentClaim[] = [];
    let refills: string[] = [];
    let logs: LogLine[] = [];
    if (!ahead && poolsFit(key, settings, io.limits)) {
      // After a lost write, also read whether the chosen commitments were claimed before: a
      // rolled-back party may offer a used one again, and the write would lose forever.
      const claimed = await claimFromPools(io, key, fresh, cursorAtEpoch(storedCursor?.value, key), clock, tries > 1);
      logs = claimed.logs;
      if (claimed.entries !== undefined) ({ session, claims } = pooledSignSession(fresh, claimed.entries));
      refills = refillsDue(claimed.cursor, key, settings, clock);
      const cursor = pruned(refillsRequested(claimed.cursor, refills, clock.now), clock);
      if (storedCursor === undefined || claimed.changed || refills.length > 0 || storedCursor.value.epoch !== cursor.epoch) {
        operations.push(
          storedCursor === undefined
            ? io.tables.poolCursors.putOperation(cursorKey, cursor, 1, { kind: 'absent' })
            : io.tables.poolCursors.putOperation(cursorKey, cursor, storedCursor.version + 1, { kind: 'version', version: storedCursor.version }),
        );
      }
    }
    operations.unshift(io.tables.sessions.putOperation(sessionKey, session, 1, { kind: 'absent' }, io.limits.sessionTtlSeconds));
    // No TTL on a claim: it must outlive every session of the key (as in coordinator-commitment.ts).
    for (const claim of claims) operations.push(io.tables.commitments.putOperation(coordinatorKeys.commitment(claim.keyId, claim.use.party, claim.hiding), claim.use, 1, { kind: 'absent' }));
    await io.tables.backend.write(operations, io.nowSeconds());
    return { created: true as const, session, key, refills, logs };
  });
  if (!outcome.created) return onRepeatedRequest(io, request, outcome.session);
  const { session, key, refills } = outcome;
  io.emit(outcome.logs);
  io.log.info('session started', { session: request.session, kind: session.kind, keyId: session.keyId, initiator: request.from, rounds: session.pooled === undefined ? 2 : 1 });
  await io.sendPhase(session, key);
  if (refills.length === 0) return;
  io.log.info('pool refill requested', { keyId: key.keyId, epoch: keyEpoch(key), parties: refills });
  // Each refill's envelope session is a fresh batch id: a redelivery of it gets the same batch.
  await io.sendAll(refills.map((p) => toParty(p, bytesToHex(randomBytes(16)), MessageType.poolRefill, { keyId: key.keyId, epoch: keyEpoch(key), count: settings.batchSize })));
}

/**
 * Whether a one-round session of this key fits the stores and queues: one transaction holds
 * the session, the cursor and a claim per signer (DynamoDB: 100 items), and each package
 * carries every signer's whole batch (about 300 bytes of envelope per commitment, plus the
 * batch's own envelope), which must stay well inside the largest envelope. Larger keys sign
 * in two rounds.
 */
export function poolsFit(key: Pick<KeyRecord, 'threshold'>, settings: Pick<NoncePoolSettings, 'batchSize'>, limits: Pick<Limits, 'maxEnvelopeBytes'>): boolean {
  const packageBytes = key.threshold * (settings.batchSize * 300 + 2_000) + 8_000;
  return key.threshold + 2 <= 100 && packageBytes <= limits.maxEnvelopeBytes / 2;
}

/**
 * Claims one pooled entry per signer (coordinator-pool.ts), reads the claimed entries'
 * batch items (one round trip) and, with `checkUses`, their commitments' claim records
 * (another). A batch whose item is gone is dropped; an entry whose commitment another
 * session already claimed (a rolled-back party offering it again) is passed over. Either is
 * logged as an error naming the party, and the claim is made again without it.
 * `entries` undefined: too few parties have a usable entry; the session takes two rounds.
 */
async function claimFromPools(
  io: CoordinatorIO,
  key: KeyRecord,
  session: SignSession,
  start: PoolCursor,
  clock: PoolClock,
  checkUses: boolean,
): Promise<{ cursor: PoolCursor; entries?: PooledEntry[]; changed: boolean; logs: LogLine[] }> {
  let cursor = start;
  let changed = false;
  const logs: LogLine[] = [];
  // Each pass succeeds, drops a batch or passes over an entry: it ends.
  for (;;) {
    const plan = claimSigners(cursor, eligible(session, key), key.threshold, clock);
    if (plan === undefined) return { cursor, changed, logs };
    const batchKeys = plan.claims.map((c) => coordinatorKeys.poolBatch(key.keyId, c.party, c.batchId));
    await io.prefetch(batchKeys);
    const entries: PooledEntry[] = [];
    const unusable: PoolClaim[] = [];
    let next = cursor;
    for (const [i, claim] of plan.claims.entries()) {
      const batchKey = batchKeys[i];
      const item = batchKey === undefined ? undefined : await io.tables.poolBatches.get(batchKey);
      const parsed = item !== undefined && item.value.party === claim.party && item.value.epoch === cursor.epoch ? PoolBatchBody.safeParse(item.value.batch.body) : undefined;
      const commitment = parsed?.success === true ? parsed.data.commitments[claim.index] : undefined;
      if (commitment === undefined) {
        // Its batch is gone or unreadable: none of its entries can be handed out.
        next = withoutBatch(next, claim.party, claim.batchId);
        logs.push({ level: 'error', message: 'pool batch unreadable: dropped from the cursor', fields: { keyId: key.keyId, party: claim.party, batch: claim.batchId, index: claim.index } });
      } else {
        entries.push({ ...claim, commitment });
      }
    }
    if (next !== cursor) {
      cursor = next;
      changed = true;
      continue;
    }
    if (checkUses) {
      const useKeys = entries.map((e) => coordinatorKeys.commitment(key.keyId, e.party, e.commitment.hiding));
      await io.prefetch(useKeys);
      for (const [i, entry] of entries.entries()) {
        const useKey = useKeys[i];
        const use = useKey === undefined ? undefined : await io.tables.commitments.get(useKey);
        if (use === undefined) continue;
        unusable.push(entry);
        logs.push({
          level: 'error',
          message: 'pooled commitment was already used: passed over (party rolled back or broken)',
          fields: { keyId: key.keyId, party: entry.party, batch: entry.batchId, index: entry.index, usedBy: use.value.session, attempt: use.value.attempt },
        });
      }
    }
    if (unusable.length === 0) return { cursor: plan.cursor, entries, changed: true, logs };
    cursor = passed(cursor, unusable);
    changed = true;
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
