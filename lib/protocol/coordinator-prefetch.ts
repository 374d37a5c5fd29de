/**
 * The items the coordinator is about to read for a message, fetched in one round trip
 * (MessageReads.prefetch, DynamoDB BatchGetItem). Only hints: every step still reads,
 * checks and conditionally writes as before. Unchecked body fields are used only if they
 * have the shape of what they name, so a hostile value can neither make the batch read
 * fail nor turn a refusal into a redelivery.
 */
import type { ItemKey } from '../ports/store.js';
import { anchorKeys } from './audit-anchors.js';
import { coordinatorKeys } from './coordinator-state.js';
import { MessageType, NAME_PATTERN, type Envelope } from './messages.js';
import { field } from './party-prefetch.js';
import { seenKey } from './replay-guard.js';
import { coordinatorMarksReplays } from './replay-exemptions.js';

/**
 * First reads of any message: the sender's audit anchor (party messages; both its items,
 * this release's and an earlier release's: audit-anchors.ts), the replay mark (unless the
 * type keeps none: replay-exemptions.ts), the session, and a requested key; with pools on
 * (`pools`), a sign request's pool cursor.
 * A `pool.batch` has no session: its key, the key's cursor and the batch item instead.
 */
export function coordinatorPrefetch(envelope: Envelope, fromParty: boolean, pools = false): ItemKey[] {
  const keyId = field(envelope.body, 'keyId');
  const validKeyId = typeof keyId === 'string' && NAME_PATTERN.test(keyId) ? keyId : undefined;
  if (fromParty && envelope.type === MessageType.poolBatch) {
    const keys = [...anchorKeys(envelope.from), seenKey(envelope.id)];
    if (validKeyId !== undefined) keys.push(coordinatorKeys.key(validKeyId), coordinatorKeys.poolCursor(validKeyId), coordinatorKeys.poolBatch(validKeyId, envelope.from, envelope.session));
    return keys;
  }
  const keys = [...(coordinatorMarksReplays(envelope.type) ? [seenKey(envelope.id)] : []), coordinatorKeys.session(envelope.session)];
  if (fromParty) keys.unshift(...anchorKeys(envelope.from));
  if (!fromParty && validKeyId !== undefined) {
    keys.push(coordinatorKeys.key(validKeyId));
    if (pools && envelope.type === MessageType.signRequest) keys.push(coordinatorKeys.poolCursor(validKeyId));
  }
  return keys;
}

/** Once a signing session is read: its key and, for a commitment, who used that commitment before. */
export function signingPrefetch(keyId: string, envelope: Envelope): ItemKey[] {
  const keys = [coordinatorKeys.key(keyId)];
  const hiding = field(field(envelope.body, 'commitment'), 'hiding');
  if (envelope.type === MessageType.signCommitment && typeof hiding === 'string' && /^[0-9a-f]{64}$/.test(hiding)) {
    keys.push(coordinatorKeys.commitment(keyId, envelope.from, hiding));
  }
  return keys;
}
