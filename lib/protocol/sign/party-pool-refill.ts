/**
 * Nonce pools, party side (`pool.refill` → `pool.batch`): make a batch of single-use nonces
 * for one key at its current epoch, seal them under keys derived from the share's data key,
 * and publish their commitments in a batch signed by this party's identity key. The batch id
 * is the refill's session: one batch per id, ever; a redelivery sends the stored batch again.
 *
 * Storing: each nonce first, in its own conditional put (plain puts cost half the write units
 * of a transaction), then the signed batch with the refill mark in one transaction, the
 * commit point: nothing is published before it. A put lands only on an absent slot, or over
 * the unspent nonce an earlier attempt of this very refill left there (never published: the
 * batch record is absent) at the version this attempt read. So a put that lands late — the
 * original of an SDK retry, a slower duplicate delivery — fails its condition once the slot
 * has changed, and can never bring a nonce back over its spent record, which would let it
 * sign a second package (RFC 9591 §7.3); an unconditional batch write could. Two concurrent
 * deliveries of one refill each take some slots and fail on the others: both give up (the
 * message is redelivered), and the next attempt replaces what they left. Nonces of an attempt
 * that never commits expire by their TTL.
 */
import { randomInt } from 'node:crypto';
import { ConditionFailedError, RefusalCode, RefusedError } from '../../ports/errors.js';
import { isExpired, type ItemKey, type StoredItem, type WriteCondition } from '../../ports/store.js';
import { noncePoolSettings } from '../directory.js';
import { parseBody } from '../envelope.js';
import { commitmentToWire } from '../frost-wire.js';
import { MAX_POOL_BATCH, MessageType, type Envelope, type NonceCommitment } from '../messages.js';
import { commitRound1 } from '../nonce-generation.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { epochOf, partyKeys, PoolNonceItem, PoolNonceRecord, type KeyShareRecord, type PoolBatchRecord } from '../party-state.js';
import { openSecretAndKey, sealDerived } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';

/** What one batch is for; `expires` in epoch ms. */
export interface PoolBatchPlan {
  readonly keyId: string;
  readonly epoch: number;
  readonly batchId: string;
  readonly count: number;
  readonly expires: number;
}

export interface PoolBatchOutput {
  /** Entry `i` commits to the nonce pair sealed in `records[i]`. */
  readonly commitments: NonceCommitment[];
  readonly records: { readonly key: ItemKey; readonly record: PoolNonceRecord }[];
}

/**
 * Pure step (apart from fresh randomness): `plan.count` nonce pairs, hedged with the share
 * (RFC 9591 §4.1, nonce-generation.ts), each sealed under a key derived from the share's
 * data key and its own table key. No KMS call: opening one later costs only the share's
 * Decrypt, and a share re-sealed by a refresh or reshare leaves them unopenable.
 */
export function makePoolBatch(
  view: PartyView,
  plan: PoolBatchPlan,
  secrets: { readonly identifier: string; readonly signingShare: Uint8Array; readonly dataKey: Uint8Array },
  scope: SecretScope,
): PoolBatchOutput {
  const scalarBytes = view.suite.sizes.scalar;
  const commitments: NonceCommitment[] = [];
  const records: { key: ItemKey; record: PoolNonceRecord }[] = [];
  for (let index = 0; index < plan.count; index++) {
    const generated = commitRound1(view.suite, { identifier: secrets.identifier, signingShare: secrets.signingShare });
    const nonces = scope.alloc(2 * scalarBytes);
    nonces.set(scope.track(generated.nonces.hiding), 0);
    nonces.set(scope.track(generated.nonces.binding), scalarBytes);
    const commitment = commitmentToWire(generated.commitments);
    const key = partyKeys.poolNonce(plan.keyId, plan.batchId, index);
    const record: PoolNonceRecord = {
      keyId: plan.keyId,
      epoch: plan.epoch,
      batchId: plan.batchId,
      index,
      expires: plan.expires,
      commitment,
      nonces: sealDerived(secrets.dataKey, 'nonce', key, nonces, scope),
    };
    commitments.push(commitment);
    records.push({ key, record });
  }
  return { commitments, records };
}

/**
 * Pure: the pool nonces of the key at `epoch` that can still be spent (unused — a spent one's
 * item does not parse as unused — and unexpired by TTL and by `expires`), leaving out those
 * of `ownBatchId`: an earlier attempt of this very refill stored them and failed, and this
 * attempt replaces them.
 */
export function unusedPoolNonces(items: readonly StoredItem[], epoch: number, nowMs: number, ownBatchId?: string): number {
  let count = 0;
  for (const item of items) {
    if (isExpired(item, Math.floor(nowMs / 1000))) continue;
    const parsed = PoolNonceRecord.safeParse(item.data);
    if (parsed.success && parsed.data.batchId !== ownBatchId && parsed.data.epoch === epoch && parsed.data.expires > nowMs) count += 1;
  }
  return count;
}

/**
 * Pure: the condition under which each nonce of this attempt may be put, by item sort key —
 * over what an earlier attempt of this refill left at that slot (`items`, read with this
 * attempt's count), or absent. Undefined when a slot of this batch id holds anything but an
 * unspent nonce of it: the batch id was used, and no attempt may write there again.
 */
export function nonceConditions(items: readonly StoredItem[], keys: readonly ItemKey[], batchId: string, nowSeconds: number): Map<string, WriteCondition> | undefined {
  // An expired item is absent to a condition (store.ts), whatever the table has not reaped yet.
  const held = new Map(items.filter((item) => !isExpired(item, nowSeconds)).map((item) => [item.sk, item]));
  const conditions = new Map<string, WriteCondition>();
  for (const key of keys) {
    const earlier = held.get(key.sk);
    if (earlier === undefined) {
      conditions.set(key.sk, { kind: 'absent' });
      continue;
    }
    const parsed = PoolNonceRecord.safeParse(earlier.data);
    if (!parsed.success || parsed.data.batchId !== batchId) return undefined;
    conditions.set(key.sk, { kind: 'version', version: earlier.version });
  }
  return conditions;
}

/**
 * Pure: the index of the first new commitment whose hiding element a nonce held for the key
 * already has (unused, or spent with its commitment kept), or repeats within the batch; else
 * undefined. With fresh randomness this never happens (the nonce is hedged with 32 random
 * bytes, RFC 9591 §4.1); it does when the random source is replayed, and then the nonce is
 * the same one, which must never sign a second package.
 */
export function repeatedNonce(held: readonly StoredItem[], commitments: readonly NonceCommitment[]): number | undefined {
  const seen = new Set<string>();
  for (const item of held) {
    const parsed = PoolNonceItem.safeParse(item.data);
    const hiding = !parsed.success ? undefined : parsed.data.state === 'spent' ? parsed.data.hiding : parsed.data.commitment.hiding;
    if (hiding !== undefined) seen.add(hiding);
  }
  for (const [index, commitment] of commitments.entries()) {
    if (seen.has(commitment.hiding)) return index;
    seen.add(commitment.hiding);
  }
  return undefined;
}

/** The active share a refill is for, at the epoch the coordinator asks for. */
async function refillShare(ctx: PartyContext, keyId: string, epoch: number): Promise<KeyShareRecord> {
  const stored = await ctx.tables.keyShares.get(partyKeys.keyShare(keyId));
  if (stored === undefined) throw new RefusedError(RefusalCode.unknownKey, `this party holds no share of key "${keyId}"`);
  const share = stored.value;
  if (share.status !== 'active') throw new RefusedError(RefusalCode.policy, `key "${keyId}" is not confirmed by every party yet`);
  // A batch is usable at one epoch only: one asked for at another would be refused at signing.
  if (epochOf(share) !== epoch) throw new RefusedError(RefusalCode.staleEpoch, `refill is for epoch ${epoch}, key "${keyId}" is at epoch ${epochOf(share)} here`);
  return share;
}

/**
 * Thin step: check, make the batch once (one KMS Decrypt for the share, one identity Sign for
 * the batch), store every nonce with the signed batch in one transaction, send the batch.
 */
export async function onPoolRefill(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const batchId = envelope.session;
  const body = parseBody(envelope, MessageType.poolRefill);
  const settings = noncePoolSettings(ctx.limits);
  if (settings === undefined) throw new RefusedError(RefusalCode.policy, 'nonce pools are off at this party');
  const share = await refillShare(ctx, body.keyId, body.epoch);
  const batchKey = partyKeys.poolBatch(body.keyId, batchId);

  // A redelivery (or a refill whose batch went out already) gets the same batch, never a second one for one id.
  const stored = await ctx.tables.poolBatches.get(batchKey);
  if (stored !== undefined) return ctx.sendCreated(stored.value.batch);

  // Read before counting and rewritten with the batch: a concurrent refill that stored a batch meanwhile fails this one's write (it is redelivered and counts again).
  const refillKey = partyKeys.poolRefill(body.keyId);
  const lastRefill = await ctx.tables.poolRefills.get(refillKey);
  const held = await ctx.tables.backend.query(partyKeys.poolPartition(body.keyId), 'nonce#');
  const unused = unusedPoolNonces(held, body.epoch, ctx.now(), batchId);
  if (unused >= settings.maxUnused) {
    throw new RefusedError(RefusalCode.poolFull, `${unused} unused pool nonces of key "${body.keyId}" held already (limit ${settings.maxUnused})`);
  }

  const keyCtx = ctx.forSuite(share.suite);
  const plan: PoolBatchPlan = {
    keyId: body.keyId,
    epoch: body.epoch,
    batchId,
    count: Math.min(body.count, settings.batchSize, MAX_POOL_BATCH),
    expires: ctx.now() + settings.ttlSeconds * 1000,
  };
  if (plan.count < 1) throw new RefusedError(RefusalCode.policy, 'nonce pools are configured with an empty batch at this party');
  const output = await ctx.withSecrets(async (scope) => {
    const opened = await openSecretAndKey(ctx.vault, ctx.secretContext(body.keyId, 'key-share'), partyKeys.keyShare(body.keyId), share.share, scope);
    return makePoolBatch(keyCtx, plan, { identifier: share.identifier, signingShare: opened.plaintext, dataKey: opened.dataKey }, scope);
  });
  // Before anything is stored or signed: a nonce drawn again must not be published again.
  const repeated = repeatedNonce(held, output.commitments);
  if (repeated !== undefined) {
    ctx.log.error('possible random-source failure: a fresh pool nonce repeats one already held; refill refused, nothing stored', { party: ctx.id, keyId: plan.keyId, batchId, index: repeated });
    throw new RefusedError(RefusalCode.commitmentReused, `pool nonce ${repeated} of the new batch repeats a nonce this party already holds for key "${plan.keyId}" (random source replayed?); refill refused`);
  }
  // pool.batch is not delegable: this is an identity signature, verifiable for the batch's whole life.
  const batch = await ctx.createMessage(MessageType.poolBatch, batchId, { keyId: plan.keyId, epoch: plan.epoch, expires: plan.expires, commitments: output.commitments });
  const record: PoolBatchRecord = { keyId: plan.keyId, epoch: plan.epoch, batch };

  const conditions = nonceConditions(held, output.records.map((r) => r.key), batchId, ctx.nowSeconds());
  if (conditions === undefined) throw new RefusedError(RefusalCode.conflict, `batch id ${batchId} of key "${body.keyId}" was used before; refill refused`);
  const ours = await storeNonces(ctx, output.records, conditions, settings.ttlSeconds);

  const sent = await writeOrAdopt(
    async () => {
      // The race this closes: two deliveries of one refill that both got through their puts
      // (the later one read the earlier one's finished nonces as an earlier attempt's and
      // replaced them). Only one stores its batch, and only that batch is ever sent; its entries
      // whose slot the other replaced are refused at signing (their stored commitment differs:
      // two rounds instead), never signed twice.
      await ctx.tables.backend.write(
        [
          ctx.tables.poolBatches.putOperation(batchKey, record, 1, { kind: 'absent' }, settings.ttlSeconds),
          ctx.tables.poolRefills.putOperation(
            refillKey,
            { keyId: plan.keyId, batchId },
            (lastRefill?.version ?? 0) + 1,
            lastRefill === undefined ? { kind: 'absent' } : { kind: 'version', version: lastRefill.version },
          ),
        ],
        ctx.nowSeconds(),
      );
      return batch;
    },
    async () => (await ctx.tables.poolBatches.get(batchKey))?.value.batch,
  ).catch(async (error: unknown) => {
    // Lost the refill mark to another batch id (its count did not include this one's nonces):
    // this batch is never published, so its nonces go. Any other failure (infrastructure) may
    // have committed: they stay, for the redelivery to find.
    if (error instanceof ConditionFailedError) await dropNonces(ctx, ours);
    throw error;
  });
  // Another delivery of this refill committed its batch first (both got through their puts):
  // ours were never published, and any slot they replaced is unusable anyway. Take them back.
  if (sent.id !== batch.id) await dropNonces(ctx, ours);
  await ctx.sendCreated(sent);
  ctx.log.info('pool batch made', { party: ctx.id, keyId: plan.keyId, epoch: plan.epoch, batchId, count: plan.count });
}

/** Versions of pool nonce puts are drawn below this (crypto.randomInt's limit): a spend adds 1, still a safe integer. */
const NONCE_VERSIONS = 2 ** 48 - 1;

/** A nonce this attempt stored, at the version it wrote. */
interface StoredNonce {
  readonly key: ItemKey;
  readonly version: number;
}

/**
 * Each nonce in its own conditional put, side by side (module comment). If any lost its
 * condition — a concurrent delivery of this refill holds that slot — this attempt takes back
 * what it stored and gives up with a retryable error, before its batch can be committed.
 */
async function storeNonces(
  ctx: PartyContext,
  records: PoolBatchOutput['records'],
  conditions: ReadonlyMap<string, WriteCondition>,
  ttlSeconds: number,
): Promise<StoredNonce[]> {
  const now = ctx.nowSeconds();
  // Each put at a random version (48 bits), not 1 or the one read plus 1: a nonce taken back
  // (dropNonces) leaves its slot empty, and a slot filled again at a version it had before could
  // meet a straggling delete or put conditioned on that version (ABA) and lose a spent record.
  const planned = records.map(({ key, record }) => ({ key, record, condition: conditions.get(key.sk) ?? ({ kind: 'absent' } as const), version: randomInt(1, NONCE_VERSIONS) }));
  const outcomes = await Promise.allSettled(
    planned.map(({ key, record, condition, version }) => ctx.tables.backend.write([ctx.tables.poolNonces.putOperation(key, record, version, condition, ttlSeconds)], now)),
  );
  const stored = planned.filter((_, i) => outcomes[i]?.status === 'fulfilled').map(({ key, version }) => ({ key, version }));
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
  if (failures.length === 0) return stored;
  await dropNonces(ctx, stored);
  const infrastructure = failures.find((e) => !(e instanceof ConditionFailedError));
  if (infrastructure !== undefined) throw infrastructure;
  throw new ConditionFailedError(`${failures.length} of ${records.length} pool nonces held by a concurrent delivery of this refill; it is retried`);
}

/**
 * Takes back the nonces of an attempt that will not commit, each only if still as this
 * attempt wrote it (version condition): never published, so nothing can have spent them, and
 * left behind they would count against `maxUnused` for a day (their TTL) — a coordinator
 * racing refills could otherwise starve the pool. Best effort: what fails to go expires.
 */
async function dropNonces(ctx: PartyContext, stored: readonly StoredNonce[]): Promise<void> {
  const now = ctx.nowSeconds();
  await Promise.allSettled(stored.map(({ key, version }) => ctx.tables.backend.write([{ op: 'delete', key, condition: { kind: 'version', version } }], now)));
}
