/** What a party keeps between invocations, and under which table keys. */
import { z } from 'zod';
import type { ItemBackend, ItemKey } from '../ports/store.js';
import { ItemTable } from '../ports/store.js';
import { NonceCommitment, PublicPackage, Round1Package } from './messages.js';
import { SealedBlob } from './sealed-item.js';

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

export const KeyShareRecord = z.strictObject({
  keyId: z.string(),
  session: z.string(),
  suite: z.string(),
  threshold: z.number().int(),
  parties: z.array(z.string()),
  identifier: hex32,
  /** The signing share, envelope-encrypted. */
  share: SealedBlob,
  publicPackage: PublicPackage,
  publicPackageHash: hex32,
  groupKey: hex32,
  /** `pending` until every party has confirmed the same public package. */
  status: z.enum(['pending', 'active']),
  createdAt: z.number(),
});
export type KeyShareRecord = z.infer<typeof KeyShareRecord>;

export const DkgStateRecord = z.strictObject({
  keyId: z.string(),
  threshold: z.number().int(),
  parties: z.array(z.string()),
  step: z.union([z.literal(1), z.literal(2)]),
  ownPackage: Round1Package,
  ephemeralKey: hex32,
  /** Ephemeral X25519 secret (32 bytes) || polynomial coefficients (threshold × 32 bytes). */
  secret: SealedBlob,
  /** Hash of the round-1 transcript used in round 2; round 3 must present the same one. */
  round1Hash: hex32.optional(),
  /** The round-2 output, kept so that a redelivered round-2 message gets the same answer. */
  sharesOutput: z.record(z.string(), z.strictObject({ iv: z.string(), ct: z.string() })).optional(),
});
export type DkgStateRecord = z.infer<typeof DkgStateRecord>;

export const NonceRecord = z.strictObject({
  keyId: z.string(),
  attempt: z.number().int(),
  requestFingerprint: hex32,
  commitment: NonceCommitment,
  /** hiding || binding nonce scalars, envelope-encrypted. */
  nonces: SealedBlob,
});
export type NonceRecord = z.infer<typeof NonceRecord>;

/** Written in the same transaction that deletes the nonce: proof of what it was spent on. */
export const ConsumedNonceRecord = z.strictObject({
  /** The request the nonce was committed for (and so spent on). */
  requestFingerprint: hex32,
  packageHash: hex32,
  share: hex32,
});
export type ConsumedNonceRecord = z.infer<typeof ConsumedNonceRecord>;

export const partyKeys = {
  keyShare: (keyId: string): ItemKey => ({ pk: `key#${keyId}`, sk: 'share' }),
  dkgState: (session: string): ItemKey => ({ pk: `dkg#${session}`, sk: 'state' }),
  nonce: (session: string, attempt: number): ItemKey => ({ pk: `nonce#${session}#${attempt}`, sk: 'nonce' }),
  consumed: (session: string, attempt: number): ItemKey => ({ pk: `nonce#${session}#${attempt}`, sk: 'consumed' }),
};

function parser<T>(schema: z.ZodType<T>, what: string): (data: unknown) => T {
  return (data) => {
    const parsed = schema.safeParse(data);
    // A stored item that does not parse was corrupted or written by something else.
    if (!parsed.success) throw new Error(`stored ${what} is not valid: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    return parsed.data;
  };
}

export class PartyTables {
  readonly keyShares: ItemTable<KeyShareRecord>;
  readonly dkgStates: ItemTable<DkgStateRecord>;
  readonly nonces: ItemTable<NonceRecord>;
  readonly consumed: ItemTable<ConsumedNonceRecord>;

  constructor(readonly backend: ItemBackend, nowSeconds: () => number) {
    this.keyShares = new ItemTable(backend, parser(KeyShareRecord, 'key share'), nowSeconds);
    this.dkgStates = new ItemTable(backend, parser(DkgStateRecord, 'DKG state'), nowSeconds);
    this.nonces = new ItemTable(backend, parser(NonceRecord, 'nonce'), nowSeconds);
    this.consumed = new ItemTable(backend, parser(ConsumedNonceRecord, 'consumed nonce'), nowSeconds);
  }
}

export { parser as recordParser };
