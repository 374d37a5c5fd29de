/**
 * The invariants a chaos or load run must keep, checked from what the run received and from
 * the nodes' own stores (never from logs):
 * - every session ends: completed, or failed with a typed error; none times out;
 * - every signature verifies with node:crypto (OpenSSL) under the key its keygen produced;
 * - no nonce is used twice: each consumed-nonce record was written once, no nonce survives
 *   its consumption, and no commitment appears in two sessions or attempts;
 * - no share is lost: every party still holds every key share it had, unchanged, and every
 *   party of every completed keygen holds an active share of that key;
 * - one request id gets one result: redelivered results agree, at most one is not marked duplicate.
 */
import type { ItemBackend, StoredItem } from '../../ports/store.js';
import { Session } from '../../protocol/coordinator-state.js';
import { ConsumedNonceRecord, KeyShareRecord, NonceRecord } from '../../protocol/party-state.js';
import { SignCommitmentBody } from '../../protocol/messages.js';
import { verifyEd25519WithOpenSSL } from '../../protocol/suite.js';

/** The signature checked by OpenSSL (node:crypto), as the signer checks before release; hex as results carry it. */
export function verifiesWithNodeCrypto(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  return verifyEd25519WithOpenSSL(Buffer.from(publicKeyHex, 'hex'), message, Buffer.from(signatureHex, 'hex'));
}

/** What one result said, reduced to what the invariants compare. */
export interface ResultSeen {
  readonly ok: boolean;
  readonly duplicate: boolean;
  readonly errorCode?: string | undefined;
  readonly signature?: string | undefined;
  readonly publicKey?: string | undefined;
}

export interface SessionSeen {
  readonly requestId: string;
  readonly kind: 'sign' | 'keygen';
  readonly keyId: string;
  /** Sign sessions: what was asked to be signed, and the group key its keygen produced. */
  readonly message?: Uint8Array;
  readonly expectedPublicKey?: string;
  /** Keygen sessions: the parties that must end up holding a share. */
  readonly parties?: readonly string[];
  /** Every result received for this request id, in arrival order. */
  readonly results: readonly ResultSeen[];
  readonly latencyMs?: number;
}

export interface SessionCounts {
  readonly total: number;
  readonly completed: number;
  readonly failedTyped: number;
  readonly failedByCode: Readonly<Record<string, number>>;
  readonly timedOut: number;
  readonly invalidSignatures: number;
  readonly duplicateResults: number;
  /** Extra deliveries of an outcome already received (same content): at-least-once, not a violation. */
  readonly redelivered: number;
}

export function checkSessions(sessions: readonly SessionSeen[], violations: string[]): SessionCounts {
  let completed = 0;
  let failedTyped = 0;
  let timedOut = 0;
  let invalidSignatures = 0;
  let duplicateResults = 0;
  let redelivered = 0;
  const failedByCode: Record<string, number> = {};
  for (const session of sessions) {
    const first = session.results[0];
    if (first === undefined) {
      timedOut += 1;
      violations.push(`timed out: ${session.kind} ${session.requestId}`);
      continue;
    }
    // At-least-once delivery may hand the same outcome over again (a retried handler sends
    // it again; a repeated request gets it marked duplicate): that is redelivery. Two
    // outcomes that differ — another signature, success and failure — are two results.
    const disagree = session.results.some(
      (r) => r.ok !== first.ok || r.signature !== first.signature || r.publicKey !== first.publicKey || r.errorCode !== first.errorCode,
    );
    redelivered += session.results.length - 1;
    if (disagree) {
      duplicateResults += 1;
      violations.push(`duplicate results: ${session.requestId} got ${session.results.length} results that disagree`);
    }
    if (!first.ok) {
      const code = first.errorCode ?? 'untyped';
      failedByCode[code] = (failedByCode[code] ?? 0) + 1;
      if (first.errorCode === undefined || first.errorCode === '') violations.push(`untyped failure: ${session.requestId}`);
      else failedTyped += 1;
      continue;
    }
    if (session.kind === 'sign') {
      const valid =
        first.signature !== undefined &&
        session.message !== undefined &&
        session.expectedPublicKey !== undefined &&
        verifiesWithNodeCrypto(session.expectedPublicKey, session.message, first.signature);
      if (!valid) {
        invalidSignatures += 1;
        violations.push(`signature does not verify: ${session.requestId}`);
        continue;
      }
    }
    completed += 1;
  }
  return { total: sessions.length, completed, failedTyped, failedByCode, timedOut, invalidSignatures, duplicateResults, redelivered };
}

/**
 * Nonce use, from the stores. A party's `nonce#<session>#<attempt>` partition holds the
 * sealed nonce until it signs, then (in one transaction) only a `consumed` record. So:
 * a consumed record with version > 1 was written twice (the nonce consumed twice); a nonce
 * beside its consumed record survived its use; the same commitment (hiding point) in two
 * places means one nonce committed to twice. Commitments are read from the parties' live
 * nonces and from every sign session the coordinator stored.
 */
export async function checkNonces(parties: ReadonlyMap<string, ItemBackend>, coordinator: ItemBackend | undefined, violations: string[]): Promise<number> {
  const before = violations.length;
  const uses = new Map<string, Set<string>>(); // hiding → where it was committed
  const use = (hiding: string, where: string) => uses.set(hiding, (uses.get(hiding) ?? new Set()).add(where));
  for (const [party, store] of parties) {
    const byPartition = new Map<string, StoredItem[]>();
    for (const item of await store.scanPrefix('nonce#')) byPartition.set(item.pk, [...(byPartition.get(item.pk) ?? []), item]);
    const shares = new Map<string, string>();
    for (const [pk, items] of byPartition) {
      const nonce = items.find((i) => i.sk === 'nonce');
      const consumed = items.find((i) => i.sk === 'consumed');
      const slot = pk.slice('nonce#'.length); // <session>#<attempt>
      if (consumed !== undefined) {
        if (consumed.version !== 1) violations.push(`nonce consumed twice: ${party} ${slot} (consumed record version ${consumed.version})`);
        const parsed = ConsumedNonceRecord.safeParse(consumed.data);
        if (!parsed.success) violations.push(`consumed-nonce record unreadable: ${party} ${slot}`);
        else {
          const other = shares.get(parsed.data.share);
          if (other !== undefined) violations.push(`one signature share recorded for two nonces: ${party} ${other} and ${slot}`);
          shares.set(parsed.data.share, slot);
        }
        if (nonce !== undefined) violations.push(`nonce kept after it was consumed: ${party} ${slot}`);
      }
      if (nonce !== undefined) {
        const parsed = NonceRecord.safeParse(nonce.data);
        if (parsed.success) use(parsed.data.commitment.hiding, `${party}/${slot}`);
      }
    }
  }
  if (coordinator !== undefined) {
    for (const item of await coordinator.scanPrefix('session#')) {
      const parsed = Session.safeParse(item.data);
      if (!parsed.success || parsed.data.kind !== 'sign') continue;
      const session = item.pk.slice('session#'.length);
      for (const [party, envelope] of Object.entries(parsed.data.commitments)) {
        const body = SignCommitmentBody.safeParse(envelope.body);
        if (body.success) use(body.data.commitment.hiding, `${party}/${session}#${body.data.attempt}`);
      }
    }
  }
  for (const [hiding, places] of uses) {
    if (places.size > 1) violations.push(`nonce reused: commitment ${hiding.slice(0, 16)}… in ${[...places].sort().join(', ')}`);
  }
  return violations.length - before;
}

/** Every party's active key shares: key id → the stored record (as JSON, compared whole). */
export type ShareSnapshot = Map<string, Map<string, string>>;

export async function snapshotShares(parties: ReadonlyMap<string, ItemBackend>): Promise<ShareSnapshot> {
  const snapshot: ShareSnapshot = new Map();
  for (const [party, store] of parties) {
    const shares = new Map<string, string>();
    for (const item of await store.scanPrefix('key#')) if (item.sk === 'share') shares.set(item.pk.slice('key#'.length), JSON.stringify(item.data));
    snapshot.set(party, shares);
  }
  return snapshot;
}

/**
 * Shares lost: a share held before the run and gone or changed after, or a completed
 * keygen whose party holds no active share of the key under the group key it reported.
 */
export async function checkShares(
  before: ShareSnapshot,
  parties: ReadonlyMap<string, ItemBackend>,
  keygens: readonly SessionSeen[],
  violations: string[],
): Promise<number> {
  const start = violations.length;
  const after = await snapshotShares(parties);
  for (const [party, shares] of before) {
    for (const [keyId, record] of shares) {
      const now = after.get(party)?.get(keyId);
      if (now === undefined) violations.push(`share lost: ${party} no longer holds ${keyId}`);
      else if (now !== record) violations.push(`share changed: ${party} ${keyId}`);
    }
  }
  for (const keygen of keygens) {
    const result = keygen.results[0];
    if (keygen.kind !== 'keygen' || result === undefined || !result.ok) continue;
    for (const party of keygen.parties ?? []) {
      const raw = after.get(party)?.get(keygen.keyId);
      const share = raw === undefined ? undefined : KeyShareRecord.safeParse(JSON.parse(raw));
      if (share === undefined || !share.success || share.data.status !== 'active' || share.data.groupKey !== result.publicKey) {
        violations.push(`share lost: ${party} holds no active share of ${keygen.keyId} (keygen ${keygen.requestId} completed)`);
      }
    }
  }
  return violations.length - start;
}
