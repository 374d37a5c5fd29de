/**
 * Audit anchors: copies of each party's audit-chain head kept outside the party's own
 * table. Every message a party sends carries its head (`body.audit`) under its identity
 * signature; the coordinator keeps the newest one per party, with the signed envelope as
 * proof. A party's table can be edited and re-chained by whoever can write to it, but the
 * rewritten chain no longer contains the record the party signed earlier.
 *
 * The coordinator is not trusted for this either: an anchor counts only with a valid
 * signature of the party it names, so the coordinator can withhold anchors (weakening the
 * check to "unanchored") but cannot make an intact chain look broken.
 */
import * as z from 'zod/mini';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { StoredStateError } from '../ports/errors.js';
import { ItemTable, retryOnConflict, type ItemBackend, type ItemKey, type WriteCondition, type WriteOperation } from '../ports/store.js';
import { DEFAULT_LIMITS, type Limits } from './directory.js';
import { envelopeSignatureProblem } from './envelope.js';
import { AuditAnchor, EnvelopeSchema, type Envelope } from './messages.js';
import { recordParser } from './party-state.js';

/**
 * An anchor as stored: the party's signed message that carried the head, and nothing else
 * (party, seq and hash are in it, under the party's signature; copies would only make the
 * item larger: a share's anchor would exceed 1 KB, two write units instead of one). Records
 * of earlier releases (at `legacyAnchorKey`) also copied `party`, `seq` and `hash` beside it:
 * still read, and the copies ignored.
 */
export const StoredAnchor = z.strictObject({
  envelope: EnvelopeSchema,
  party: z.optional(z.string()),
  seq: z.optional(z.number().check(z.int(), z.nonnegative())),
  hash: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
});
export type StoredAnchor = z.infer<typeof StoredAnchor>;

/** The newest head held for a party, as read: its sender, sequence number and hash, taken from its signed envelope. */
export interface AnchorRecord {
  readonly party: string;
  readonly seq: number;
  readonly hash: string;
  /** The party's signed message that carried this head. */
  readonly envelope: Envelope;
}

/** A stored anchor as read (a StoredStateError if its envelope carries no head: only one that does is ever stored). */
export function anchorRecord({ envelope }: StoredAnchor): AnchorRecord {
  const anchor = anchorOf(envelope);
  if (anchor === undefined) throw new StoredStateError('stored audit anchor is not valid: its envelope carries no audit head');
  return { party: envelope.from, seq: anchor.seq, hash: anchor.hash, envelope };
}

/**
 * Where a party's anchor is kept: the compact form (the envelope alone) under its own sort
 * key. The item at `legacyAnchorKey` is never written again: releases before this one read
 * that item with a strict schema that requires the copied fields, so a compact record there
 * would fail every one of that party's messages after a rollback. Left alone, it keeps
 * serving a rolled-back release (which goes on advancing it, and never reads this one).
 */
export const anchorKey = (party: string): ItemKey => ({ pk: `anchor#${party}`, sk: 'head' });

/** The anchor item of releases before `anchorKey` (the envelope with party, seq and hash copied beside it): read, never written. */
export const legacyAnchorKey = (party: string): ItemKey => ({ pk: `anchor#${party}`, sk: 'audit' });

/** Both anchor items of a party, for reading ahead in one round trip (coordinator-prefetch.ts). */
export const anchorKeys = (party: string): ItemKey[] => [anchorKey(party), legacyAnchorKey(party)];

/** The audit head a party's message carries, if it has a well-formed one. */
export function anchorOf(envelope: Envelope): AuditAnchor | undefined {
  const body = envelope.body;
  if (typeof body !== 'object' || body === null || !('audit' in body)) return undefined;
  const parsed = AuditAnchor.safeParse(body.audit);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The coordinator's store of the newest anchor per party (no TTL: anchors are the history).
 * A party may have two items: the one this release writes (`anchorKey`) and the one an
 * earlier release wrote (`legacyAnchorKey`), which that release advances again after a
 * rollback. The newer of the two, by the signed head's seq, is the party's anchor.
 */
export class AuditAnchors {
  readonly #table: ItemTable<StoredAnchor>;
  readonly #backend: ItemBackend;
  readonly #nowSeconds: () => number;

  constructor(backend: ItemBackend, nowSeconds: () => number) {
    this.#table = new ItemTable(backend, recordParser(StoredAnchor, 'audit anchor'), nowSeconds);
    this.#backend = backend;
    this.#nowSeconds = nowSeconds;
  }

  /** The put that keeps `envelope` as the anchor: the envelope alone, at `anchorKey`. */
  #put(envelope: Envelope, version: number, condition: WriteCondition): WriteOperation {
    return this.#table.putOperation(anchorKey(envelope.from), { envelope }, version, condition);
  }

  /** Both items as read: this release's (with its version, for the conditional write) and the earlier release's. */
  async #held(party: string): Promise<{ current?: { record: AnchorRecord; version: number }; legacy?: AnchorRecord }> {
    const [current, legacy] = await Promise.all([this.#table.get(anchorKey(party)), this.#table.get(legacyAnchorKey(party))]);
    return {
      ...(current === undefined ? {} : { current: { record: anchorRecord(current.value), version: current.version } }),
      ...(legacy === undefined ? {} : { legacy: anchorRecord(legacy.value) }),
    };
  }

  /**
   * The write that would keep `envelope`'s audit head (none if either held one is as new), for
   * a caller that commits it together with its own state change and retries on a failed
   * condition, re-reading through this method. The condition is on this release's item only:
   * an earlier release advancing its own item meanwhile is harmless, readers take the newer.
   */
  async recordOperations(envelope: Envelope): Promise<WriteOperation[]> {
    const anchor = anchorOf(envelope);
    if (anchor === undefined || anchor.seq === 0) return [];
    const { current, legacy } = await this.#held(envelope.from);
    if (Math.max(current?.record.seq ?? 0, legacy?.seq ?? 0) >= anchor.seq) return [];
    if (current === undefined) return [this.#put(envelope, 1, { kind: 'absent' })];
    return [this.#put(envelope, current.version + 1, { kind: 'version', version: current.version })];
  }

  /** Keeps `envelope`'s audit head if it is newer than the one held (call only after authenticating it). */
  async record(envelope: Envelope): Promise<void> {
    const anchor = anchorOf(envelope);
    if (anchor === undefined || anchor.seq === 0) return;
    // Two deliveries may race to advance the anchor: the loser re-reads and stops if the
    // winner's head is at least as new.
    await retryOnConflict(async () => {
      const operations = await this.recordOperations(envelope);
      if (operations.length > 0) await this.#backend.write(operations, this.#nowSeconds());
    });
  }

  /** The party's anchor: the newer of its two items by the signed head's seq (this release's on a tie). */
  async latest(party: string): Promise<AnchorRecord | undefined> {
    const { current, legacy } = await this.#held(party);
    if (current === undefined || legacy === undefined) return current?.record ?? legacy;
    return legacy.seq > current.record.seq ? legacy : current.record;
  }
}

/**
 * The anchor as the party itself signed it, or undefined when the stored record is not
 * backed by a valid signature of that party (then it proves nothing either way).
 *
 * An anchor carried by a delegated-key envelope counts when the party's identity key
 * certified that key for a window covering the envelope's timestamp: it is checked long
 * after the certificate expired, so not against the clock (README "Secrets in memory").
 */
export function verifiedAnchor(
  record: AnchorRecord,
  party: string,
  partyKey: IdentityPublicKey,
  limits: Pick<Limits, 'maxClockSkewMs' | 'delegatedKeyLifetimeMs'> = DEFAULT_LIMITS,
): AuditAnchor | undefined {
  const { envelope } = record;
  if (envelope.from !== party) return undefined;
  if (envelopeSignatureProblem(envelope, partyKey, 'party', { limits }) !== undefined) return undefined;
  const anchor = anchorOf(envelope);
  if (anchor === undefined || anchor.seq !== record.seq || anchor.hash !== record.hash) return undefined;
  return anchor;
}
