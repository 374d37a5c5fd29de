/** What a party keeps between invocations, and under which table keys. */
import * as z from 'zod/mini';
import { Hex32, PublicKeyHex, ScalarHex } from './schema-atoms.js';
import { RefusalCode, StoredStateError } from '../ports/errors.js';
import type { ItemBackend, ItemKey } from '../ports/store.js';
import { ItemTable } from '../ports/store.js';
import { Accusation, EnvelopeSchema, NonceCommitment, PublicPackage, Round1Package } from './messages.js';
import { DerivedSealedBlob, SealedBlob } from './sealed-item.js';

const hex32 = Hex32;

export const KeyShareRecord = z.strictObject({
  keyId: z.string(),
  session: z.string(),
  suite: z.string(),
  threshold: z.number().check(z.int()),
  parties: z.array(z.string()),
  identifier: ScalarHex,
  /** The signing share, envelope-encrypted. */
  share: SealedBlob,
  publicPackage: PublicPackage,
  publicPackageHash: hex32,
  groupKey: PublicKeyHex,
  /**
   * `pending` (stored per session, under `partyKeys.pendingShare`) until every party has
   * confirmed the same public package; then `active` (under `partyKeys.keyShare`).
   */
  status: z.enum(['pending', 'active']),
  createdAt: z.number(),
  /** The key epoch of this share: 0 (or absent, in records from before epochs) from keygen, one more per refresh or reshare. */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
  /** The keygen's public-package hash (the derivation chain code's input); absent: `publicPackageHash` (epoch 0). */
  keygenPackageHash: z.optional(hex32),
});
export type KeyShareRecord = z.infer<typeof KeyShareRecord>;

/** What every step of a party's DKG round state holds. */
const DkgStateFields = {
  keyId: z.string(),
  /** The key's suite (RFC 9591 context string), from the signed keygen request; absent in states written before suites (Ed25519). */
  suite: z.optional(z.string()),
  threshold: z.number().check(z.int()),
  parties: z.array(z.string()),
  ownPackage: Round1Package,
  ephemeralKey: hex32,
  /** Ephemeral X25519 secret (32 bytes) || polynomial coefficients (threshold × the suite's scalar size). */
  secret: SealedBlob,
};

/** After round 1: this party published `ownPackage` and waits for everyone's. */
export const DkgRound1State = z.strictObject({ step: z.literal(1), ...DkgStateFields });
export type DkgRound1State = z.infer<typeof DkgRound1State>;

/** After round 2: the shares this party sent, kept so that a redelivered round 2 gets the same answer. */
export const DkgRound2State = z.strictObject({
  step: z.literal(2),
  ...DkgStateFields,
  /** Hash of the round-1 transcript used in round 2; round 3 must present the same one. */
  round1Hash: hex32,
  sharesOutput: z.record(z.string(), z.strictObject({ iv: z.string(), ct: z.string() })),
});
export type DkgRound2State = z.infer<typeof DkgRound2State>;

/**
 * A party's round state of one keygen session, by step: only a round-2 state has round-2
 * output, so code holding a round-1 state cannot read it (a compile error, not a runtime one).
 */
export const DkgStateRecord = z.discriminatedUnion('step', [DkgRound1State, DkgRound2State]);
export type DkgStateRecord = z.infer<typeof DkgStateRecord>;

/** The refusal a party sent when it abandoned a keygen session; sent again, unchanged, on redelivery. */
export const StoredRefusal = z.strictObject({
  code: z.enum(Object.values(RefusalCode) as [RefusalCode, ...RefusalCode[]]),
  reason: z.string(),
  accusation: z.optional(Accusation),
});
export type StoredRefusal = z.infer<typeof StoredRefusal>;

/**
 * One per keygen session, outliving its round state (`dkgLifetimes`). Every step of the
 * session changes it under a version condition, in the same transaction as the state, so
 * the steps exclude each other:
 * - `started`: round 1 produced (`round1Hash`); no other round-1 package is ever published.
 * - `finished`: round 3 stored a pending share; this party may have sent `dkg.done`.
 * - `abandoned`: this party refused the session and deleted its state; it never finishes it.
 * - `aborted`: another party abandoned it; this party deleted its state and pending share.
 */
export const DkgSessionRecord = z.strictObject({
  keyId: z.string(),
  status: z.enum(['started', 'finished', 'abandoned', 'aborted']),
  round1Hash: z.optional(hex32),
  refusal: z.optional(StoredRefusal),
});
export type DkgSessionRecord = z.infer<typeof DkgSessionRecord>;

/**
 * A party's state of one refresh or reshare session (lib/protocol/reshare/party-*.ts), kept
 * by every party told of it, participant or not:
 * - `started`: checked and (participants) round 1 answered; `secret` holds the X25519 secret.
 * - `finished`: a new party stored its pending share and may have sent `reshare.done`.
 * - `confirmed`: the new epoch is active here (share promoted, or deleted if removed).
 * - `abandoned`: this party refused the session for good; `aborted`: another party did.
 */
export const ReshareStateRecord = z.strictObject({
  keyId: z.string(),
  mode: z.enum(['refresh', 'reshare']),
  status: z.enum(['started', 'finished', 'confirmed', 'abandoned', 'aborted']),
  fromEpoch: z.number().check(z.int(), z.nonnegative()),
  fromPackageHash: hex32,
  keygenPackageHash: hex32,
  groupKey: PublicKeyHex,
  suite: z.string(),
  /** The plan, as checked at start: current parties, new threshold and parties, dealers (sorted). */
  current: z.array(z.string()),
  threshold: z.number().check(z.int()),
  parties: z.array(z.string()),
  dealers: z.array(z.string()),
  ephemeralKey: z.optional(hex32),
  /** A new party's receiving keys, one per dealer (derived from `secret`, reshare/receive-keys.ts). */
  receiveKeys: z.optional(z.record(z.string(), hex32)),
  /** The X25519 secret (participants, until finished, abandoned or confirmed), envelope-encrypted. */
  secret: z.optional(SealedBlob),
  /** A dealer's output, kept so that a redelivered deal gets the same dealing; with the round-1 transcript it was dealt on. */
  dealing: z.optional(z.strictObject({ round1Hash: hex32, commitments: z.array(z.string()), shares: z.record(z.string(), z.strictObject({ iv: z.string(), ct: z.string() })) })),
  refusal: z.optional(StoredRefusal),
});
export type ReshareStateRecord = z.infer<typeof ReshareStateRecord>;

/** One refresh or reshare of a key at a time at this party: created with the session's state, deleted when it ends. */
export const ReshareLockRecord = z.strictObject({
  keyId: z.string(),
  session: z.string(),
  /** The epoch that session leaves: once the key's parties attest a later one, that session is over and its lock is taken over. */
  fromEpoch: z.number().check(z.int(), z.nonnegative()),
});
export type ReshareLockRecord = z.infer<typeof ReshareLockRecord>;

export const NonceRecord = z.strictObject({
  keyId: z.string(),
  attempt: z.number().check(z.int()),
  requestFingerprint: hex32,
  commitment: NonceCommitment,
  /**
   * hiding || binding nonce scalars: sealed under a key derived from the key share's data key
   * (sign/nonce-sealing.ts), or, in records written before that, under a data key of their own.
   */
  nonces: z.union([DerivedSealedBlob, SealedBlob]),
  /** The epoch of the share the nonce was committed under (absent: 0); it signs that epoch's share only. */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
});
export type NonceRecord = z.infer<typeof NonceRecord>;

/** Written in the same transaction that deletes the nonce: proof of what it was spent on. */
export const ConsumedNonceRecord = z.strictObject({
  /** The request the nonce was committed for (and so spent on). */
  requestFingerprint: hex32,
  packageHash: hex32,
  share: ScalarHex,
});
export type ConsumedNonceRecord = z.infer<typeof ConsumedNonceRecord>;

/**
 * A party's unused pool nonce (one-round signing): made with others in a batch, published by
 * its commitment in the signed `pool.batch`, spent at most once by `sign.pooled`, which
 * replaces it, in its own item, by the `PoolSpentRecord` of what it was spent on. Sealed
 * under a key derived from the key share's own data key (sealed-item.ts `sealDerived`):
 * opening it costs no KMS call beyond the share's, and a share re-sealed by a refresh or
 * reshare leaves it unopenable. TTL: the batch's `expires`.
 */
export const PoolNonceRecord = z.strictObject({
  /**
   * Unused: absent as written (a refill writes none), so that a release from before spent
   * records moved into the nonce's own item, rolled back to, still reads unused nonces.
   */
  state: z.optional(z.literal('unused')),
  keyId: z.string(),
  epoch: z.number().check(z.int(), z.nonnegative()),
  batchId: z.string(),
  index: z.number().check(z.int(), z.nonnegative()),
  /** Epoch ms after which it is never used (also its TTL). */
  expires: z.number(),
  commitment: NonceCommitment,
  /** hiding || binding nonce scalars. */
  nonces: DerivedSealedBlob,
});
export type PoolNonceRecord = z.infer<typeof PoolNonceRecord>;

/**
 * A spent pool nonce, in the item that held it (the nonce scalars are gone with the unused
 * record it replaced): what it was spent on, so a redelivered package gets the same share and
 * any other is refused. TTL: `Limits.sessionTtlSeconds`.
 */
export const PoolSpentRecord = z.strictObject({
  state: z.literal('spent'),
  keyId: z.string(),
  /** The epoch of the share it signed with (the unused nonce's). */
  epoch: z.number().check(z.int(), z.nonnegative()),
  batchId: z.string(),
  index: z.number().check(z.int(), z.nonnegative()),
  /**
   * The spent nonce's hiding commitment (public), kept so that a refill can tell a nonce drawn
   * again — a random source replayed, as after a snapshot restore — from a fresh one
   * (sign/party-pool-refill.ts `repeatedNonce`). Absent in records written before it was kept.
   */
  hiding: z.optional(NonceCommitment.shape.hiding),
  ...ConsumedNonceRecord.shape,
});
export type PoolSpentRecord = z.infer<typeof PoolSpentRecord>;

/**
 * The item at `partyKeys.poolNonce`: unused, or spent. One item, so spending is one put under
 * the unused record's version condition: of two deliveries racing for one nonce only one can
 * replace it, and the other reads what it was spent on.
 */
export const PoolNonceItem = z.discriminatedUnion('state', [PoolNonceRecord, PoolSpentRecord]);
export type PoolNonceItem = z.infer<typeof PoolNonceItem>;

/** A batch this party published, kept until it expires: a redelivered `pool.refill` gets this same envelope again. */
export const PoolBatchRecord = z.strictObject({
  keyId: z.string(),
  epoch: z.number().check(z.int(), z.nonnegative()),
  /** The signed `pool.batch` envelope as sent. */
  batch: EnvelopeSchema,
});
export type PoolBatchRecord = z.infer<typeof PoolBatchRecord>;

/**
 * One per key: rewritten (version condition) by every refill that stores a batch, so that
 * refills of one key run one at a time and each counts the unused nonces the previous one
 * left (the `maxUnused` cap would not hold against concurrent refills otherwise).
 */
export const PoolRefillMark = z.strictObject({ keyId: z.string(), batchId: z.string() });
export type PoolRefillMark = z.infer<typeof PoolRefillMark>;

/** The epoch of a stored share (records from before epochs are epoch 0). */
export function epochOf(share: Pick<KeyShareRecord, 'epoch'>): number {
  return share.epoch ?? 0;
}

/** The keygen package hash of a stored share (the chain code's input, the same in every epoch). */
export function keygenHashOf(share: Pick<KeyShareRecord, 'keygenPackageHash' | 'publicPackageHash'>): string {
  return share.keygenPackageHash ?? share.publicPackageHash;
}

export const partyKeys = {
  /** The active share of a key: the only item that makes a key id taken. */
  keyShare: (keyId: string): ItemKey => ({ pk: `key#${keyId}`, sk: 'share' }),
  /** A share from round 3, not yet confirmed by every party: one per session, blocking nothing. */
  pendingShare: (keyId: string, session: string): ItemKey => ({ pk: `key#${keyId}`, sk: `pending#${session}` }),
  dkgState: (session: string): ItemKey => ({ pk: `dkg#${session}`, sk: 'state' }),
  dkgSession: (session: string): ItemKey => ({ pk: `dkg#${session}`, sk: 'session' }),
  nonce: (session: string, attempt: number): ItemKey => ({ pk: `nonce#${session}#${attempt}`, sk: 'nonce' }),
  consumed: (session: string, attempt: number): ItemKey => ({ pk: `nonce#${session}#${attempt}`, sk: 'consumed' }),
  /** One refresh or reshare of a key at a time at this party (lib/protocol/reshare/party-lock.ts). */
  reshareLock: (keyId: string): ItemKey => ({ pk: `key#${keyId}`, sk: 'reshare' }),
  reshareState: (session: string): ItemKey => ({ pk: `reshare#${session}`, sk: 'state' }),
  /** Every pool item of a key is in one partition: `query(pool#keyId, 'nonce#')` lists its pool nonces, unused and spent. */
  poolPartition: (keyId: string): string => `pool#${keyId}`,
  poolNonce: (keyId: string, batchId: string, index: number): ItemKey => ({ pk: `pool#${keyId}`, sk: `nonce#${batchId}#${index}` }),
  poolBatch: (keyId: string, batchId: string): ItemKey => ({ pk: `pool#${keyId}`, sk: `batch#${batchId}` }),
  poolRefill: (keyId: string): ItemKey => ({ pk: `pool#${keyId}`, sk: 'refill' }),
};

function parser<T>(schema: z.ZodMiniType<T>, what: string): (data: unknown) => T {
  return (data) => {
    const parsed = schema.safeParse(data);
    // A stored item that does not parse was corrupted or written by something else.
    if (!parsed.success) throw new StoredStateError(`stored ${what} is not valid: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    return parsed.data;
  };
}

export class PartyTables {
  readonly keyShares: ItemTable<KeyShareRecord>;
  readonly dkgStates: ItemTable<DkgStateRecord>;
  readonly dkgSessions: ItemTable<DkgSessionRecord>;
  readonly nonces: ItemTable<NonceRecord>;
  readonly consumed: ItemTable<ConsumedNonceRecord>;
  readonly reshareStates: ItemTable<ReshareStateRecord>;
  readonly reshareLocks: ItemTable<ReshareLockRecord>;
  readonly poolNonces: ItemTable<PoolNonceItem>;
  readonly poolBatches: ItemTable<PoolBatchRecord>;
  readonly poolRefills: ItemTable<PoolRefillMark>;

  constructor(readonly backend: ItemBackend, nowSeconds: () => number) {
    this.keyShares = new ItemTable(backend, parser(KeyShareRecord, 'key share'), nowSeconds);
    this.dkgStates = new ItemTable(backend, parser(DkgStateRecord, 'DKG state'), nowSeconds);
    this.dkgSessions = new ItemTable(backend, parser(DkgSessionRecord, 'DKG session'), nowSeconds);
    this.nonces = new ItemTable(backend, parser(NonceRecord, 'nonce'), nowSeconds);
    this.consumed = new ItemTable(backend, parser(ConsumedNonceRecord, 'consumed nonce'), nowSeconds);
    this.reshareStates = new ItemTable(backend, parser(ReshareStateRecord, 'reshare state'), nowSeconds);
    this.reshareLocks = new ItemTable(backend, parser(ReshareLockRecord, 'reshare lock'), nowSeconds);
    this.poolNonces = new ItemTable(backend, parser(PoolNonceItem, 'pool nonce'), nowSeconds);
    this.poolBatches = new ItemTable(backend, parser(PoolBatchRecord, 'pool batch'), nowSeconds);
    this.poolRefills = new ItemTable(backend, parser(PoolRefillMark, 'pool refill mark'), nowSeconds);
  }
}

export { parser as recordParser };
