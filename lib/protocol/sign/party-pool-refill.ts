/**
 * Nonce pools, party side (`pool.refill` → `pool.batch`): make a batch of single-use nonces
 * for one key at its current epoch, seal them under keys derived from the share's data key,
 * and publish their commitments in a batch signed by this party's identity key. The batch id
 * is the refill's session: one batch per id, ever; a redelivery sends the stored batch again.
 *
 * Stored in two steps: the nonces first, as plain puts (1 WRU each, not a transaction's 2),
 * then the batch record with the key's refill mark in one transaction. The batch record is
 * the commit point: nothing is published before it is stored. Why the plain puts are safe:
 * - A nonce item holds its nonce and its own commitment together, so a stored pair is always
 *   consistent, whichever attempt wrote it.
 * - A party signs with a pool nonce only for a package that carries exactly the commitment
 *   stored with it (sign/party-pooled.ts `assertUsablePoolNonce`, commitments.ts
 *   `assertOwnCommitment`), and spends it by replacing its item under a version condition.
 * - So the nonces of a batch that was never published (a crash before the transaction, or a
 *   concurrent delivery of the same refill whose transaction loses) may overwrite, with fresh
 *   randomness, those of the batch that was: at worst a published entry no longer matches the
 *   commitment stored for it and is refused (the coordinator falls back to two rounds). Never
 *   a nonce used twice, never a share on a mismatched commitment.
 * - Each attempt writes its nonces at a random version, so an overwrite changes the version
 *   too: a spend that read the overwritten nonce fails its condition, even when the
 *   overwrite came after another spend (whose version + 1 a fixed version 1 could not tell
 *   from a fresh nonce's version: an A-B-A that would let one nonce sign two packages).
 * - Nonces of a refill that never commits are orphans: never published, so nothing can sign
 *   with them; they count against maxUnused (other than for a redelivery of their own batch
 *   id, which overwrites them) until their TTL removes them.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { randomInt } from 'node:crypto';
import { isExpired, putEach, type ItemKey, type StoredItem } from '../../ports/store.js';
import { noncePoolSettings } from '../directory.js';
import { parseBody } from '../envelope.js';
import { commitmentToWire } from '../frost-wire.js';
import { MAX_POOL_BATCH, MessageType, type Envelope, type NonceCommitment } from '../messages.js';
import { commitRound1 } from '../nonce-generation.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { epochOf, partyKeys, PoolNonceRecord, type KeyShareRecord, type PoolBatchRecord } from '../party-state.js';
import { openSecretAndKey, sealDerived } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';

/**
 * The range of a refill attempt's nonce version (random: see the module comment). 2^47: two
 * attempts meet on one with negligible chance, and spends (+1 each) stay safe integers.
 */
const NONCE_VERSIONS = 2 ** 47;

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
 * Pure: the pool nonces of the key at `epoch` that can still be spent (unused, unexpired by TTL
 * and by `expires`); a spent one's item does not parse as unused. Those of batch `excluding`
 * are not counted: the refill of that batch is about to overwrite them (a redelivery of one
 * that wrote its nonces and failed before its transaction), so they are not held on top of it.
 */
export function unusedPoolNonces(items: readonly StoredItem[], epoch: number, nowMs: number, excluding?: string): number {
  let count = 0;
  for (const item of items) {
    if (isExpired(item, Math.floor(nowMs / 1000))) continue;
    const parsed = PoolNonceRecord.safeParse(item.data);
    if (parsed.success && parsed.data.epoch === epoch && parsed.data.expires > nowMs && parsed.data.batchId !== excluding) count += 1;
  }
  return count;
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
 * the batch), store its nonces (plain puts), then the signed batch with the refill mark in one
 * transaction (the commit point, see the module comment), send the batch.
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
  const unused = unusedPoolNonces(await ctx.tables.backend.query(partyKeys.poolPartition(body.keyId), 'nonce#'), body.epoch, ctx.now(), batchId);
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
  // pool.batch is not delegable: this is an identity signature, verifiable for the batch's whole life.
  const batch = await ctx.createMessage(MessageType.poolBatch, batchId, { keyId: plan.keyId, epoch: plan.epoch, expires: plan.expires, commitments: output.commitments });
  const record: PoolBatchRecord = { keyId: plan.keyId, epoch: plan.epoch, batch };

  // Before the commit point, unconditionally (see the module comment): at a version of this
  // attempt's own, so that no spend that read another attempt's nonce at this key can land.
  const version = randomInt(1, NONCE_VERSIONS);
  const nonces = output.records.map(({ key, record: nonce }) => ctx.tables.poolNonces.item(key, nonce, version, settings.ttlSeconds));
  await putEach(ctx.tables.backend, nonces, ctx.nowSeconds());

  const sent = await writeOrAdopt(
    async () => {
      // The race this closes: two deliveries of one refill. Only one stores its batch, and only
      // that batch is ever sent; the other's nonces may have overwritten some of its nonces,
      // which then sign nothing (module comment).
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
  );
  await ctx.sendCreated(sent);
  ctx.log.info('pool batch made', { party: ctx.id, keyId: plan.keyId, epoch: plan.epoch, batchId, count: plan.count });
}
