/**
 * Initiator requests, coordinator side: a key lookup is answered from the registry; a keygen
 * or sign request starts a session exactly once however many deliveries race (create, or
 * adopt the winner), and a repeated request id gets the existing session's answer. With
 * nonce pools on, a sign request claims pooled commitments (one round) when it can, and asks
 * parties running low for a new batch.
 */
import { randomBytes } from 'node:crypto';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { CoordinatorIO } from './coordinator-io.js';
import { refusedRequestResult, toParty } from './coordinator-outbox.js';
import { coordinatorKeys, type KeyRecord, type PoolCursor, type Session, type SignSession } from './coordinator-state.js';
import type { LogLine } from './coordinator-step.js';
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
import { claimSigners, cursorAtEpoch, keyEpoch, pruned, refillsDue, refillsRequested, withoutBatch, type PoolClock } from './sign/coordinator-pool.js';

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
 * A sign request with pools on, in two plain conditional puts (no transaction):
 *
 * 1. The key's pool cursor (version, or absent when new), with the claimed entries passed
 *    and refills noted. Its version condition IS the claim: of two requests that read the
 *    same cursor only one write succeeds, the other re-reads and claims other entries, so no
 *    two requests are ever handed the same (batch, index). Nothing else needs recording per
 *    entry: the cursor hands an entry out once, and a batch id is accepted at most once for
 *    as long as its entries could be offered (onPoolBatch ignores a batch whose item exists,
 *    the item lives past the batch's expiry, and acceptPoolBatch refuses an expired batch),
 *    so a party re-sending an old batch cannot get its entries offered again.
 * 2. The session (absent). A duplicate delivery that created it first goes to
 *    onRepeatedRequest as before.
 *
 * Between the two, a crash or a lost session race only wastes the entries claimed in step 1:
 * the cursor never offers them again, and the parties' sealed nonces expire unused. A lost
 * race is logged. After the session: its first phase, then the refills noted in step 1 (sent
 * even when the race was lost: the cursor says they were asked).
 */
async function startSign(io: CoordinatorIO, request: Envelope, settings: NoncePoolSettings): Promise<void> {
  const body = parseBody(request, MessageType.signRequest);
  const sessionKey = coordinatorKeys.session(request.session);
  const cursorKey = coordinatorKeys.poolCursor(body.keyId);
  const clock: PoolClock = { now: io.now(), marginMs: io.limits.maxMessageAgeMs };
  const claimed = await retryOnConflict(async (): Promise<{ existing: Session } | Claimed> => {
    const existing = await io.tables.sessions.get(sessionKey);
    if (existing !== undefined) return { existing: existing.value };
    const stored = await io.getKey(body.keyId);
    const fresh = newSignSession(request, body, stored, clock.now);
    const key = requestedKey(body, stored);
    const storedCursor = await io.tables.poolCursors.get(cursorKey);
    // A cursor ahead of the key read: a refresh or reshare finished meanwhile. Leave it to
    // the requests that see the new epoch; this one takes two rounds.
    const ahead = storedCursor !== undefined && storedCursor.value.epoch > keyEpoch(key);
    if (ahead || !poolsFit(key, settings, io.limits)) return { session: fresh, key, refills: [], logs: [] };
    const fromPools = await claimFromPools(io, key, fresh, cursorAtEpoch(storedCursor?.value, key), clock);
    const session = fromPools.entries === undefined ? fresh : pooledSignSession(fresh, fromPools.entries);
    const refills = refillsDue(fromPools.cursor, key, settings, clock);
    const cursor = pruned(refillsRequested(fromPools.cursor, refills, clock.now), clock);
    // Unchanged (nothing claimed, dropped or asked, same epoch): no write, and no claim made.
    if (storedCursor === undefined || fromPools.changed || refills.length > 0 || storedCursor.value.epoch !== cursor.epoch) {
      if (storedCursor === undefined) await io.tables.poolCursors.create(cursorKey, cursor);
      else await io.tables.poolCursors.replace(cursorKey, cursor, storedCursor.version);
    }
    return { session, key, refills, logs: fromPools.logs };
  });
  // The session existed already (a duplicate delivery finished first): nothing was claimed.
  if ('existing' in claimed) return onRepeatedRequest(io, request, claimed.existing);
  const { key, refills } = claimed;
  io.emit(claimed.logs);
  let stored: { created: boolean; value: Session };
  try {
    stored = await io.tables.sessions.createOrGet(sessionKey, claimed.session, io.limits.sessionTtlSeconds);
  } catch (error) {
    wasted(io, claimed.session);
    throw error;
  }
  if (stored.created) {
    io.log.info('session started', { session: request.session, kind: claimed.session.kind, keyId: claimed.session.keyId, initiator: request.from, rounds: claimed.session.pooled === undefined ? 2 : 1 });
    await io.sendPhase(claimed.session, key);
  } else {
    wasted(io, claimed.session);
  }
  if (refills.length > 0) {
    io.log.info('pool refill requested', { keyId: key.keyId, epoch: keyEpoch(key), parties: refills });
    // Each refill's envelope session is a fresh batch id: a redelivery of it gets the same batch.
    await io.sendAll(refills.map((p) => toParty(p, bytesToHex(randomBytes(16)), MessageType.poolRefill, { keyId: key.keyId, epoch: keyEpoch(key), count: settings.batchSize })));
  }
  if (!stored.created) await onRepeatedRequest(io, request, stored.value);
}

/** What startSign's cursor write settled: the session to store, and what to send and log after. */
interface Claimed {
  readonly session: SignSession;
  readonly key: KeyRecord;
  readonly refills: readonly string[];
  readonly logs: readonly LogLine[];
}

/** Pooled entries claimed in the cursor for a session that was not stored: never offered again (their nonces expire unused). */
function wasted(io: CoordinatorIO, session: SignSession): void {
  if (session.pooled === undefined) return;
  const entries = Object.entries(session.pooled).map(([party, e]) => ({ party, batch: e.batchId, index: e.index }));
  io.log.error('pooled entries claimed for a session that was not stored: wasted', { session: session.request.session, keyId: session.keyId, entries });
}

/**
 * Whether a one-round session of this key fits the queues: each package carries every
 * signer's whole batch (about 300 bytes of envelope per commitment, plus the batch's own
 * envelope), which must stay well inside the largest envelope. Larger keys sign in two
 * rounds.
 */
export function poolsFit(key: Pick<KeyRecord, 'threshold'>, settings: Pick<NoncePoolSettings, 'batchSize'>, limits: Pick<Limits, 'maxEnvelopeBytes'>): boolean {
  const packageBytes = key.threshold * (settings.batchSize * 300 + 2_000) + 8_000;
  return packageBytes <= limits.maxEnvelopeBytes / 2;
}

/**
 * Claims one pooled entry per signer in the cursor (coordinator-pool.ts) and reads the
 * claimed entries' batch items (one round trip). A batch whose item is gone or unreadable is
 * dropped, logged as an error naming the party, and the claim is made again without it.
 * Nothing else is checked per entry: the cursor is the claim (see startSign).
 * `entries` undefined: too few parties have a usable entry; the session takes two rounds.
 */
async function claimFromPools(
  io: CoordinatorIO,
  key: KeyRecord,
  session: SignSession,
  start: PoolCursor,
  clock: PoolClock,
): Promise<{ cursor: PoolCursor; entries?: PooledEntry[]; changed: boolean; logs: LogLine[] }> {
  let cursor = start;
  let changed = false;
  const logs: LogLine[] = [];
  // Each pass succeeds or drops a batch: it ends.
  for (;;) {
    const plan = claimSigners(cursor, eligible(session, key), key.threshold, clock);
    if (plan === undefined) return { cursor, changed, logs };
    const batchKeys = plan.claims.map((c) => coordinatorKeys.poolBatch(key.keyId, c.party, c.batchId));
    await io.prefetch(batchKeys);
    const entries: PooledEntry[] = [];
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
    if (next === cursor) return { cursor: plan.cursor, entries, changed: true, logs };
    cursor = next;
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
  // The very request that created the session, delivered again before any party answered:
  // the first delivery may have stored the session and failed before sending the first
  // round, which nothing else would ever send. Parties answer repeated rounds idempotently.
  // Not once a party answered: the round went out then (a send cut short after some parties
  // is left to the sweeper: a one-round attempt falls back, a two-round one stalls and
  // fails), and since a processed sign.request keeps no replay mark (replay-exemptions.ts),
  // anyone holding the relayed request — every signer — could otherwise make the coordinator
  // send the round again with every replay.
  else if (session.request.id === request.id && !answeredYet(session)) await io.sendPhase(session);
}

/** Whether any party answered the session yet: a commitment, a share or a refusal, or an attempt after the first. */
function answeredYet(session: Session): boolean {
  if (Object.keys(session.refused).length > 0) return true;
  if (session.kind !== 'sign') return false;
  return session.attempt > 1 || Object.keys(session.commitments).length > 0 || Object.keys(session.shares).length > 0;
}
