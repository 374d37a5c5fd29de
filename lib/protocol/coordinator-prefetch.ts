/**
 * The items the coordinator is about to read for a message, fetched in one round trip
 * (MessageReads.prefetch, DynamoDB BatchGetItem). Only hints: every step still reads,
 * checks and conditionally writes as before. Unchecked body fields are used only if they
 * have the shape of what they name, so a hostile value can neither make the batch read
 * fail nor turn a refusal into a redelivery.
 */
import type { ItemKey } from '../ports/store.js';
import { anchorKey } from './audit-anchors.js';
import { coordinatorKeys } from './coordinator-state.js';
import { MessageType, NAME_PATTERN, type Envelope } from './messages.js';
import { field } from './party-prefetch.js';
import { seenKey } from './replay-guard.js';

/** First reads of any message: the sender's audit anchor (party messages), the replay mark, the session, and a requested key. */
export function coordinatorPrefetch(envelope: Envelope, fromParty: boolean): ItemKey[] {
  const keys = [seenKey(envelope.id), coordinatorKeys.session(envelope.session)];
  if (fromParty) keys.unshift(anchorKey(envelope.from));
  const keyId = field(envelope.body, 'keyId');
  if (!fromParty && typeof keyId === 'string' && NAME_PATTERN.test(keyId)) keys.push(coordinatorKeys.key(keyId));
  return keys;
}

/** Once a signing session is read: its key and, for a commitment, who used that commitment before. */
export function signingPrefetch(keyId: string, envelope: Envelope): ItemKey[] {
  const keys = [coordinatorKeys.key(keyId)];
  const hiding = field(field(envelope.body, 'commitment'), 'hiding');
  if (envelope.type === MessageType.signCommitment && typeof hiding === 'string' && /^[0-9a-f]{64}$/.test(hiding)) {
    keys.push(coordinatorKeys.commitment(keyId, hiding));
  }
  return keys;
}
