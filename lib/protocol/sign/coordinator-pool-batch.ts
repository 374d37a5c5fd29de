/**
 * A party's `pool.batch`, coordinator side: a batch of nonce commitments the party made for
 * one key and epoch, identity-signed, kept unchanged to be relayed in one-round signing
 * packages for as long as it lives. Every check that a signer would otherwise make too late
 * (at signing time, failing the attempt) is made here, on receipt, and a fault in what the
 * sender signed names it.
 *
 * The batch has no session: its envelope's `session` is the batch id the refill named.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { retryOnConflict, type WriteOperation } from '../../ports/store.js';
import type { CoordinatorIO } from '../coordinator-io.js';
import { coordinatorKeys, type KeyRecord, type PoolBatchItem, type PoolBatchRef, type PoolCursor } from '../coordinator-state.js';
import { noncePoolSettings, type Limits, type NoncePoolSettings } from '../directory.js';
import { parseBody } from '../envelope.js';
import { invalidCommitment } from '../frost-wire.js';
import { MessageType, type Envelope, type PoolBatchBody } from '../messages.js';
import type { Suite } from '../suite.js';
import { keyEpoch, unclaimed, withBatch, type PoolClock } from './coordinator-pool.js';

/** The key a batch is for, with its suite; absent when the coordinator holds no such key. */
export interface BatchKey {
  readonly key: KeyRecord;
  readonly suite: Pick<Suite, 'isValidElement' | 'name' | 'sizes' | 'frost'>;
}

/** What receiving a batch checks against besides its key: the clock, the pool settings and the message limits. */
export interface BatchCheck {
  readonly now: number;
  readonly settings: Pick<NoncePoolSettings, 'ttlSeconds'>;
  readonly limits: Pick<Limits, 'maxClockSkewMs'>;
}

/**
 * The checks of step 2 on an authenticated `pool.batch`: the reference to add to the cursor,
 * or a RefusedError (blaming the sender for what it signed wrong). `signing`: the record of
 * `body.keyId` and its suite, if the key exists.
 */
export function acceptPoolBatch(envelope: Envelope, body: PoolBatchBody, signing: BatchKey | undefined, check: BatchCheck): PoolBatchRef {
  const from = envelope.from;
  // Relayed for the batch's whole life, long after any delegated key expired: identity only.
  if (envelope.cert !== undefined) throw new RefusedError(RefusalCode.badSignature, `pool.batch from "${from}" is signed by a delegated key, not its identity key`, { blame: from });
  if (signing === undefined) throw new RefusedError(RefusalCode.unknownKey, `no key "${body.keyId}"`);
  const { key, suite } = signing;
  if (!key.parties.includes(from)) throw new RefusedError(RefusalCode.unexpectedSender, `"${from}" holds no share of key "${key.keyId}"`);
  if (body.epoch !== keyEpoch(key)) throw new RefusedError(RefusalCode.staleEpoch, `pool.batch from "${from}" is for epoch ${body.epoch}, key "${key.keyId}" is at epoch ${keyEpoch(key)}`);
  if (body.expires <= check.now) throw new RefusedError(RefusalCode.stale, `pool.batch from "${from}" expired ${check.now - body.expires} ms ago`);
  const latest = check.now + check.settings.ttlSeconds * 1000 + check.limits.maxClockSkewMs;
  if (body.expires > latest) throw new RefusedError(RefusalCode.malformed, `pool.batch from "${from}" expires ${body.expires - latest} ms beyond the pool lifetime`, { blame: from });
  const identifier = suite.frost.Identifier.derive(from);
  const hidings = new Set<string>();
  for (const [i, commitment] of body.commitments.entries()) {
    if (commitment.identifier !== identifier) throw new RefusedError(RefusalCode.wrongIdentifier, `pool.batch commitment ${i} from "${from}" carries another identifier`, { blame: from });
    const fault = invalidCommitment(suite, commitment, from);
    if (fault !== undefined) throw fault;
    // RFC 9591 §7.3: a nonce is used once; a batch offering one twice is broken.
    if (hidings.has(commitment.hiding)) throw new RefusedError(RefusalCode.commitmentReused, `pool.batch from "${from}" repeats a hiding commitment (entry ${i})`, { blame: from });
    hidings.add(commitment.hiding);
  }
  return { batchId: envelope.session, expires: body.expires, count: body.commitments.length, next: 0 };
}

/**
 * When a batch item may count as absent (epoch seconds): not before the batch itself expires,
 * rounded up, plus the largest clock skew. Until then a delivery of the same batch id finds
 * the item and changes nothing, and from then on acceptPoolBatch refuses the batch as
 * expired (on any clock within the skew, DynamoDB's TTL reaper's included). So a batch id is
 * accepted at most once, which is what lets the pool cursor alone claim its entries: a
 * party re-sending an old batch (rolled back, or broken) can never have its entries offered
 * again (coordinator-requests.ts startSign).
 */
export function batchItemExpiresAt(expires: number, limits: Pick<Limits, 'maxClockSkewMs'>): number {
  return Math.ceil(expires / 1000) + Math.ceil(limits.maxClockSkewMs / 1000);
}

/**
 * Receives an authenticated, unreplayed `pool.batch`: the batch item and the cursor's new
 * reference in ONE transaction, with `anchorOperations` (the sender's audit anchor). A batch
 * already stored (a redelivery after a crash, or a party sending an old batch again) changes
 * nothing, however much of it was handed out; returns whether it wrote.
 */
export async function onPoolBatch(io: CoordinatorIO, envelope: Envelope, anchorOperations: () => Promise<WriteOperation[]>): Promise<boolean> {
  const settings = noncePoolSettings(io.limits);
  if (settings === undefined) throw new RefusedError(RefusalCode.wrongRound, 'nonce pools are off at this coordinator');
  const body = parseBody(envelope, MessageType.poolBatch);
  const clock: PoolClock = { now: io.now(), marginMs: io.limits.maxMessageAgeMs };
  return retryOnConflict(async () => {
    const key = await io.getKey(body.keyId);
    const signing = key === undefined ? undefined : { key, suite: await io.suiteOf(key.suite) };
    const ref = acceptPoolBatch(envelope, body, signing, { now: clock.now, settings, limits: io.limits });
    const keyId = body.keyId;
    const batchKey = coordinatorKeys.poolBatch(keyId, envelope.from, envelope.session);
    if ((await io.tables.poolBatches.get(batchKey)) !== undefined) return false;
    const cursorKey = coordinatorKeys.poolCursor(keyId);
    const stored = await io.tables.poolCursors.get(cursorKey);
    if (stored !== undefined && stored.value.epoch > body.epoch) {
      throw new RefusedError(RefusalCode.staleEpoch, `pool.batch from "${envelope.from}" is for epoch ${body.epoch}, the pools of key "${keyId}" are at epoch ${stored.value.epoch}`);
    }
    const current: PoolCursor | undefined = stored?.value;
    // Bounds the cursor (and what one party can make this coordinator store): a party asks
    // for no refill while it holds this many unused nonces, so more is not an honest batch.
    if (current !== undefined && current.epoch === body.epoch && unclaimed(current, envelope.from, clock) >= settings.maxUnused) {
      throw new RefusedError(RefusalCode.poolFull, `"${envelope.from}" already has ${settings.maxUnused} or more unclaimed pool commitments of key "${keyId}"`);
    }
    const item: PoolBatchItem = { party: envelope.from, epoch: body.epoch, batch: envelope };
    const cursor = withBatch(current, { keyId, epoch: body.epoch }, envelope.from, ref, clock);
    const ttlSeconds = batchItemExpiresAt(body.expires, io.limits) - io.nowSeconds();
    await io.tables.backend.write(
      [
        io.tables.poolBatches.putOperation(batchKey, item, 1, { kind: 'absent' }, ttlSeconds),
        stored === undefined
          ? io.tables.poolCursors.putOperation(cursorKey, cursor, 1, { kind: 'absent' })
          : io.tables.poolCursors.putOperation(cursorKey, cursor, stored.version + 1, { kind: 'version', version: stored.version }),
        ...(await anchorOperations()),
      ],
      io.nowSeconds(),
    );
    io.log.info('pool batch stored', { keyId, party: envelope.from, batch: envelope.session, count: ref.count, epoch: body.epoch });
    return true;
  });
}
