/** What the coordinator keeps: sessions (public data only) and the registry of keys. */
import * as z from 'zod/mini';
import { Hex32, PublicKeyHex, SignatureHex } from './schema-atoms.js';
import type { ItemBackend, ItemKey } from '../ports/store.js';
import { ItemTable } from '../ports/store.js';
import { EnvelopeSchema, NonceCommitment, PublicPackage, ResultError } from './messages.js';
import { recordParser } from './party-state.js';

const hex32 = Hex32;
const Contributions = z.record(z.string(), EnvelopeSchema);

const SessionBase = {
  request: EnvelopeSchema,
  requestFingerprint: hex32,
  initiator: z.string(),
  requestId: z.string(),
  keyId: z.string(),
  createdAt: z.number(),
  error: z.optional(ResultError),
  /** Parties that refused, with their reason (policy, unknown key, nonce reuse, ...). */
  refused: z.record(z.string(), z.strictObject({ code: z.string(), reason: z.string() })),
};

export const KeygenSession = z.strictObject({
  ...SessionBase,
  kind: z.literal('keygen'),
  phase: z.enum(['round1', 'round2', 'round3', 'done', 'failed']),
  threshold: z.number().check(z.int()),
  parties: z.array(z.string()),
  round1: Contributions,
  shares: Contributions,
  done: Contributions,
  publicKey: z.optional(PublicKeyHex),
  /** The signed refusal by which a party abandoned this keygen: relayed to the others in `dkg.abort`. */
  abandonment: z.optional(EnvelopeSchema),
});
export type KeygenSession = z.infer<typeof KeygenSession>;

export const SignSession = z.strictObject({
  ...SessionBase,
  kind: z.literal('sign'),
  phase: z.enum(['commit', 'sign', 'done', 'failed']),
  attempt: z.number().check(z.int()),
  /** Parties whose commitment or signature share proved them faulty: never asked again in this session. */
  excluded: z.array(z.string()),
  commitments: Contributions,
  signers: z.array(z.string()),
  shares: Contributions,
  /** Any suite's signature (Ed448's 114 bytes included): a finished session must parse when read again. */
  signature: z.optional(SignatureHex),
  /**
   * Present while the current attempt is one-round: each signer's pooled commitment, claimed
   * for this session at intake by the pool cursor's write (sign/coordinator-pool.ts).
   * `commitments` stays empty then.
   */
  pooled: z.optional(z.record(z.string(), z.strictObject({ batchId: z.string(), index: z.number().check(z.int(), z.nonnegative()), commitment: NonceCommitment }))),
  /** The key's epoch at intake (absent: 0): shares are verified with that epoch's package, and a key that moved on fails the session (retryable). */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
});
export type SignSession = z.infer<typeof SignSession>;

/**
 * A refresh or reshare (lib/protocol/reshare/coordinator-*.ts). Everything it sends is derived
 * from this record: the plan fixed at intake from the key record of `fromEpoch`, and the
 * parties' signed messages as collected.
 */
export const ReshareSession = z.strictObject({
  ...SessionBase,
  kind: z.literal('reshare'),
  mode: z.enum(['refresh', 'reshare']),
  phase: z.enum(['round1', 'deal', 'shares', 'done', 'failed']),
  /** The epoch being left; the key record must still be at it when the new one is written. */
  fromEpoch: z.number().check(z.int(), z.nonnegative()),
  /** The current parties (every one gets start and confirm) and their attestations, from the key record. */
  current: z.array(z.string()),
  attestations: z.array(EnvelopeSchema),
  /** The new threshold and party set, and the dealers (Q), all sorted. */
  threshold: z.number().check(z.int()),
  parties: z.array(z.string()),
  dealers: z.array(z.string()),
  round1: Contributions,
  dealings: Contributions,
  done: Contributions,
  /** The signed refusal by which a participant abandoned the session: relayed in `reshare.abort`. */
  abandonment: z.optional(EnvelopeSchema),
});
export type ReshareSession = z.infer<typeof ReshareSession>;

export const Session = z.discriminatedUnion('kind', [KeygenSession, SignSession, ReshareSession]);
export type Session = z.infer<typeof Session>;

export const KeyRecord = z.strictObject({
  keyId: z.string(),
  suite: z.string(),
  threshold: z.number().check(z.int()),
  parties: z.array(z.string()),
  publicKey: PublicKeyHex,
  publicPackage: PublicPackage,
  publicPackageHash: hex32,
  /** Every party's signed `dkg.done`: the evidence key results carry to applications. */
  attestations: z.array(EnvelopeSchema),
  createdBy: z.string(),
  session: z.string(),
  createdAt: z.number(),
  /** 0 (or absent) from keygen, one more per refresh or reshare; `attestations` are that epoch's. */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
  /** The keygen's package hash (derivation chain code); absent: `publicPackageHash` (epoch 0). */
  keygenPackageHash: z.optional(hex32),
});
export type KeyRecord = z.infer<typeof KeyRecord>;

/**
 * A two-round nonce commitment (`sign.commitment`) the coordinator put into a signing
 * package, keyed by key id and hiding element (RFC 9591 §7.3: a commitment is used once).
 * Another session or attempt offering it again reveals a rolled-back or broken party, even
 * with an honest coordinator. Pooled entries have none: the pool cursor is their claim.
 */
export const CommitmentUse = z.strictObject({
  session: z.string(),
  attempt: z.number().check(z.int()),
  party: z.string(),
});
export type CommitmentUse = z.infer<typeof CommitmentUse>;

/** One pool batch of one party, as the coordinator keeps it: entry i is claimed by moving `next` past it. */
export const PoolBatchRef = z.strictObject({
  batchId: z.string(),
  expires: z.number(),
  count: z.number().check(z.int(), z.positive()),
  /** Entries below this index are claimed. */
  next: z.number().check(z.int(), z.nonnegative()),
});
export type PoolBatchRef = z.infer<typeof PoolBatchRef>;

/**
 * The coordinator's pools of one key (small: no commitments, only where each batch stands).
 * Changed under a version condition by every claim and every batch that arrives, so two
 * requests never claim the same entry: that write is the claim (no `CommitmentUse` per
 * pooled entry; see coordinator-requests.ts startSign).
 */
export const PoolCursor = z.strictObject({
  keyId: z.string(),
  /** The key epoch these pools belong to; a cursor of an older epoch is read as empty. */
  epoch: z.number().check(z.int(), z.nonnegative()),
  parties: z.record(
    z.string(),
    z.strictObject({
      batches: z.array(PoolBatchRef),
      /** When a refill was last asked of this party (epoch ms), if it has not answered since. */
      refillRequestedAt: z.optional(z.number()),
    }),
  ),
});
export type PoolCursor = z.infer<typeof PoolCursor>;

/** A party's signed `pool.batch`, kept until it expires: relayed, unchanged, in one-round packages. */
export const PoolBatchItem = z.strictObject({
  party: z.string(),
  epoch: z.number().check(z.int(), z.nonnegative()),
  batch: EnvelopeSchema,
});
export type PoolBatchItem = z.infer<typeof PoolBatchItem>;

export const coordinatorKeys = {
  session: (session: string): ItemKey => ({ pk: `session#${session}`, sk: 'state' }),
  key: (keyId: string): ItemKey => ({ pk: `key#${keyId}`, sk: 'public' }),
  /**
   * Per party: RFC 9591 §7.3 is about one party using its own nonce twice. Keyed by hiding
   * element alone, a party that copied another's published commitment (every one-round package
   * shows co-signers' batches) could make two claims collide, or get the honest party blamed.
   */
  commitment: (keyId: string, party: string, hiding: string): ItemKey => ({ pk: `commitment#${keyId}#${party}#${hiding}`, sk: 'use' }),
  /** The one refresh/reshare session of a key that may be open: taken with the session, free once that session is finished. */
  reshareLock: (keyId: string): ItemKey => ({ pk: `key#${keyId}`, sk: 'reshare' }),
  poolCursor: (keyId: string): ItemKey => ({ pk: `pool#${keyId}`, sk: 'cursor' }),
  poolBatch: (keyId: string, party: string, batchId: string): ItemKey => ({ pk: `pool#${keyId}`, sk: `batch#${party}#${batchId}` }),
};

export const ReshareLock = z.strictObject({ session: z.string() });
export type ReshareLock = z.infer<typeof ReshareLock>;

export class CoordinatorTables {
  readonly sessions: ItemTable<Session>;
  readonly keys: ItemTable<KeyRecord>;
  readonly commitments: ItemTable<CommitmentUse>;
  readonly reshareLocks: ItemTable<ReshareLock>;
  readonly poolCursors: ItemTable<PoolCursor>;
  readonly poolBatches: ItemTable<PoolBatchItem>;

  constructor(readonly backend: ItemBackend, nowSeconds: () => number) {
    this.sessions = new ItemTable(backend, recordParser(Session, 'session'), nowSeconds);
    this.keys = new ItemTable(backend, recordParser(KeyRecord, 'key record'), nowSeconds);
    this.commitments = new ItemTable(backend, recordParser(CommitmentUse, 'commitment use'), nowSeconds);
    this.reshareLocks = new ItemTable(backend, recordParser(ReshareLock, 'reshare lock'), nowSeconds);
    this.poolCursors = new ItemTable(backend, recordParser(PoolCursor, 'pool cursor'), nowSeconds);
    this.poolBatches = new ItemTable(backend, recordParser(PoolBatchItem, 'pool batch'), nowSeconds);
  }
}
