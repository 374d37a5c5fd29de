/**
 * Each party's audit trail: one record per keygen or signing decision (approved or
 * refused), each chained to the previous one by hash, plus a head item naming the last
 * record. Editing a record breaks its hash; deleting one breaks the sequence or the next
 * record's link; deleting the newest ones disagrees with the head. Appends are one
 * transaction (record, head, and a per-decision marker so a redelivery does not record the
 * same decision twice).
 */
import * as z from 'zod/mini';
import { ItemTable, retryOnConflict, type ItemBackend, type ItemKey, type WriteOperation } from '../ports/store.js';
import { hashCanonical } from './encoding.js';
import type { AuditAnchor } from './messages.js';
import { recordParser } from './party-state.js';
import { Hex32 } from './schema-atoms.js';

export const GENESIS_HASH = '0'.repeat(64);

export const AuditRecord = z.strictObject({
  seq: z.number().check(z.int(), z.positive()),
  prev: Hex32,
  party: z.string(),
  kind: z.enum(['keygen', 'sign', 'reshare']),
  session: z.string(),
  requestId: z.string(),
  initiator: z.string(),
  keyId: z.string(),
  /** SHA-256 of the message to sign (sign decisions); the message itself is not kept. */
  messageSha256: z.optional(Hex32),
  /** The derivation path of a signing request, when it has one. */
  path: z.optional(z.string()),
  /** The taproot option of a secp256k1-tr signing request (its script-tree merkle root, if any). */
  taproot: z.optional(z.strictObject({ merkleRoot: z.optional(z.string()) })),
  decision: z.enum(['approved', 'refused']),
  code: z.optional(z.string()),
  reason: z.optional(z.string()),
  at: z.number().check(z.int()),
  hash: Hex32,
});
export type AuditRecord = z.infer<typeof AuditRecord>;
export type AuditEntry = Omit<AuditRecord, 'seq' | 'prev' | 'hash' | 'party'>;

const AuditHead = z.strictObject({ seq: z.number().check(z.int(), z.nonnegative()), hash: Hex32 });
const AuditMark = z.strictObject({ seq: z.number().check(z.int(), z.positive()) });

export const auditKeys = {
  head: (): ItemKey => ({ pk: 'audit', sk: 'head' }),
  // Zero-padded so that sort-key order is sequence order.
  record: (seq: number): ItemKey => ({ pk: 'audit', sk: `rec#${String(seq).padStart(12, '0')}` }),
  mark: (decisionId: string): ItemKey => ({ pk: `auditmark#${decisionId}`, sk: 'mark' }),
};

export function auditRecordHash(record: Omit<AuditRecord, 'hash'>): string {
  return hashCanonical(record);
}

export class AuditLog {
  readonly #backend: ItemBackend;
  readonly #heads: ItemTable<z.infer<typeof AuditHead>>;
  readonly #records: ItemTable<AuditRecord>;
  readonly #marks: ItemTable<z.infer<typeof AuditMark>>;
  readonly #nowSeconds: () => number;

  constructor(backend: ItemBackend, readonly party: string, nowSeconds: () => number) {
    this.#backend = backend;
    this.#nowSeconds = nowSeconds;
    this.#heads = new ItemTable(backend, recordParser(AuditHead, 'audit head'), nowSeconds);
    this.#records = new ItemTable(backend, recordParser(AuditRecord, 'audit record'), nowSeconds);
    this.#marks = new ItemTable(backend, recordParser(AuditMark, 'audit mark'), nowSeconds);
  }

  /** Appends `entry` once per `decisionId` (a redelivered decision is not recorded again). */
  async append(decisionId: string, entry: AuditEntry): Promise<void> {
    await retryOnConflict(async () => {
      const operations = await this.appendOperations(decisionId, entry);
      // A lost race (another append, or the same decision) fails a condition: retry re-reads.
      if (operations.length > 0) await this.#backend.write(operations, this.#nowSeconds());
    });
  }

  /** Whether `decisionId` is in the trail already (its mark: one read, prefetched by the steps that check it). */
  async decided(decisionId: string): Promise<boolean> {
    return (await this.#marks.get(auditKeys.mark(decisionId))) !== undefined;
  }

  /**
   * The writes that append `entry` (none if `decisionId` is recorded already), for a caller
   * that commits them in one transaction with the state change the decision allows. The
   * caller retries on a failed condition, re-reading through this method.
   */
  async appendOperations(decisionId: string, entry: AuditEntry): Promise<WriteOperation[]> {
    if ((await this.#marks.get(auditKeys.mark(decisionId))) !== undefined) return [];
    const head = await this.#heads.get(auditKeys.head());
    const seq = (head?.value.seq ?? 0) + 1;
    const unhashed = { ...entry, seq, prev: head?.value.hash ?? GENESIS_HASH, party: this.party };
    const record: AuditRecord = { ...unhashed, hash: auditRecordHash(unhashed) };
    return [
      this.#records.putOperation(auditKeys.record(seq), record, 1, { kind: 'absent' }),
      head === undefined
        ? this.#heads.putOperation(auditKeys.head(), { seq, hash: record.hash }, 1, { kind: 'absent' })
        : this.#heads.putOperation(auditKeys.head(), { seq, hash: record.hash }, head.version + 1, { kind: 'version', version: head.version }),
      this.#marks.putOperation(auditKeys.mark(decisionId), { seq }, 1, { kind: 'absent' }),
    ];
  }

  /** The newest record's sequence number and hash (genesis when the chain is empty). */
  async head(): Promise<{ seq: number; hash: string }> {
    const head = await this.#heads.get(auditKeys.head());
    return head === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: head.value.seq, hash: head.value.hash };
  }

  /** The raw chain as stored (unvalidated), for verification. */
  async readChain(): Promise<{ head: unknown; records: unknown[] }> {
    const head = await this.#backend.get(auditKeys.head());
    const records = await this.#backend.query('audit', 'rec#');
    return { head: head?.data, records: records.map((item) => item.data) };
  }
}

export type ChainVerdict =
  | { readonly ok: true; readonly records: number; /** The newest signed anchor checked (0: none). */ readonly anchoredAt?: number }
  | { readonly ok: false; readonly records: number; readonly brokenAt: number; readonly reason: string };

/**
 * Checks every link; reports the first record (by position, 1-based) where the chain breaks.
 * `anchors` are heads the party signed in protocol messages (kept outside its table): each
 * must still be in the chain, with the same hash, or the chain was rewritten or rolled back.
 */
export function verifyAuditChain(chain: { head: unknown; records: readonly unknown[] }, anchors: readonly AuditAnchor[] = []): ChainVerdict {
  let prev = GENESIS_HASH;
  let position = 0;
  const hashes: string[] = [];
  for (const raw of chain.records) {
    position++;
    const parsed = AuditRecord.safeParse(raw);
    if (!parsed.success) return { ok: false, records: chain.records.length, brokenAt: position, reason: 'record is malformed' };
    const { hash, ...rest } = parsed.data;
    if (rest.seq !== position) {
      return { ok: false, records: chain.records.length, brokenAt: position, reason: `expected record ${position}, found ${rest.seq} (a record was deleted)` };
    }
    if (rest.prev !== prev) return { ok: false, records: chain.records.length, brokenAt: position, reason: 'link to the previous record is broken' };
    if (auditRecordHash(rest) !== hash) return { ok: false, records: chain.records.length, brokenAt: position, reason: 'record content does not match its hash (edited)' };
    prev = hash;
    hashes.push(hash);
  }
  const head = AuditHead.safeParse(chain.head ?? { seq: 0, hash: GENESIS_HASH });
  if (!head.success || head.data.seq !== position || head.data.hash !== prev) {
    return { ok: false, records: chain.records.length, brokenAt: position + 1, reason: 'head names records that are missing (the newest were deleted) or was altered' };
  }
  for (const anchor of [...anchors].sort((a, b) => a.seq - b.seq)) {
    if (anchor.seq === 0) continue;
    if (anchor.seq > position) {
      return {
        ok: false,
        records: position,
        brokenAt: position + 1,
        reason: `the party signed head ${anchor.seq} in a protocol message, the chain has ${position} records (rolled back or truncated)`,
      };
    }
    if (hashes[anchor.seq - 1] !== anchor.hash) {
      return { ok: false, records: position, brokenAt: anchor.seq, reason: `record ${anchor.seq} differs from the head the party signed in a protocol message (rewritten)` };
    }
  }
  return anchors.length === 0 ? { ok: true, records: position } : { ok: true, records: position, anchoredAt: Math.max(0, ...anchors.map((a) => a.seq)) };
}
