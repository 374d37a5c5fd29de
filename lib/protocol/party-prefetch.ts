/**
 * The items a party's keygen and signing steps are about to read for a message, fetched in one round
 * trip before the step runs (MessageReads.prefetch, DynamoDB BatchGetItem). Only hints:
 * each step still reads, checks and conditionally writes exactly as before; a wrong or
 * missing hint costs a read, never a check. Unverified fields (the key id inside the
 * relayed request, a pooled entry's batch id and index) are used only if well-formed (plain
 * names, hex ids, small indexes), so a hostile value can neither
 * make the batch read fail nor turn a refusal into a redelivery.
 */
import type { ItemKey } from '../ports/store.js';
import { auditKeys } from './audit.js';
import { decisionIdOf } from './party-audit.js';
import { MAX_POOL_BATCH, MessageType, NAME_PATTERN, type Envelope } from './messages.js';
import { partyKeys } from './party-state.js';
import { seenKey } from './replay-guard.js';

/** A field of an unverified body, or undefined: read-ahead hints only, never a decision. */
export function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && name in value ? (value as Record<string, unknown>)[name] : undefined;
}

/** The key id the relayed initiator request names, if it is a plain name. */
function requestedKeyId(body: unknown): string | undefined {
  return plainName(field(field(field(body, 'request'), 'body'), 'keyId'));
}

/** A plain name, or undefined. */
function plainName(value: unknown): string | undefined {
  return typeof value === 'string' && NAME_PATTERN.test(value) ? value : undefined;
}

/** A batch id (an envelope session: 32 hex digits), or undefined. */
function batchIdOf(value: unknown): string | undefined {
  return typeof value === 'string' && /^[0-9a-f]{32}$/.test(value) ? value : undefined;
}

/**
 * This party's own pool slot in a `sign.pooled` body: the entry whose relayed batch is from
 * `self`, if its batch id and index are well-formed (unverified: a hint only).
 */
function ownPoolSlot(body: unknown, self: string): { batchId: string; index: number } | undefined {
  const entries = field(body, 'commitments');
  if (!Array.isArray(entries)) return undefined;
  for (const entry of entries as unknown[]) {
    const batch = field(entry, 'batch');
    if (field(batch, 'from') !== self) continue;
    const batchId = batchIdOf(field(batch, 'session'));
    const index = field(entry, 'index');
    if (batchId === undefined || typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0 || index >= MAX_POOL_BATCH) return undefined;
    return { batchId, index };
  }
  return undefined;
}

/** What handling `envelope` reads first: its replay mark, then its step's items. */
export function partyPrefetch(envelope: Envelope): ItemKey[] {
  const keys = [seenKey(envelope.id)];
  const { session, body } = envelope;
  if (envelope.type === MessageType.poolRefill) {
    const refillKey = plainName(field(body, 'keyId'));
    const batchId = batchIdOf(session);
    if (refillKey !== undefined && batchId !== undefined) keys.push(partyKeys.keyShare(refillKey), partyKeys.poolBatch(refillKey, batchId), partyKeys.poolRefill(refillKey), auditKeys.head());
    return keys;
  }
  const keyId = requestedKeyId(body);
  if (keyId === undefined) return keys;
  if (KEYGEN_STEPS.has(envelope.type)) {
    keys.push(partyKeys.keyShare(keyId), partyKeys.pendingShare(keyId, session));
    // Confirmation reads only the shares; every other keygen step reads the session's marker and round state too.
    if (envelope.type !== MessageType.dkgConfirm) keys.push(partyKeys.dkgSession(session), partyKeys.dkgState(session), auditKeys.head());
    if (envelope.type === MessageType.dkgStart) keys.push(auditKeys.mark(`keygen#${session}#approved`));
    return keys;
  }
  const attempt = field(body, 'attempt');
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 0) return keys;
  if (envelope.type === MessageType.signCommit) {
    keys.push(partyKeys.keyShare(keyId), ...signApprovalMark(session, body), auditKeys.head(), partyKeys.nonce(session, attempt), partyKeys.consumed(session, attempt));
  } else if (envelope.type === MessageType.signPackage) {
    keys.push(partyKeys.keyShare(keyId), partyKeys.consumed(session, attempt), partyKeys.nonce(session, attempt), auditKeys.head());
  } else if (envelope.type === MessageType.signPooled) {
    keys.push(partyKeys.keyShare(keyId), ...signApprovalMark(session, body), auditKeys.head());
    const own = ownPoolSlot(body, envelope.to);
    // One item, unused or spent (party-state.ts PoolNonceItem).
    if (own !== undefined) keys.push(partyKeys.poolNonce(keyId, own.batchId, own.index));
  }
  return keys;
}

/** The keygen steps, each of which reads the key's shares for the session first (keygen/party-session.ts). */
const KEYGEN_STEPS: ReadonlySet<string> = new Set([MessageType.dkgStart, MessageType.dkgRound2, MessageType.dkgRound3, MessageType.dkgConfirm, MessageType.dkgAbort]);

/** The approval mark of the relayed request (decisionIdOf), if the relayed request has an envelope's shape. */
function signApprovalMark(session: string, body: unknown): ItemKey[] {
  const request = field(body, 'request');
  const type = field(request, 'type');
  const from = field(request, 'from');
  if (typeof type !== 'string' || typeof from !== 'string' || field(request, 'body') === undefined) return [];
  try {
    return [auditKeys.mark(`${decisionIdOf('sign', session, { type, from, body: field(request, 'body') } as Pick<Envelope, 'type' | 'from' | 'body'>)}#approved`)];
  } catch {
    return []; // not canonicalisable: the step refuses it anyway
  }
}
