/**
 * Signing intake, coordinator side: a `sign.request` for a known key becomes a session
 * collecting commitments for attempt 1, or, when the key's nonce pools hold a commitment of
 * enough parties, a one-round session whose signers and commitments are fixed at once
 * (coordinator-pool.ts claims them). The coordinator does not judge the request: each
 * party checks it (initiator, policy, approvals) before it commits or spends a nonce.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import { sessionBase } from '../coordinator-step.js';
import type { Envelope, NonceCommitment, SignRequestBody } from '../messages.js';
import { requiredSuite } from '../suites.js';
import { derivationOf } from './signing-key.js';

/** The key a request names, or unknown-key. */
export function requestedKey(body: Pick<SignRequestBody, 'keyId'>, key: KeyRecord | undefined): KeyRecord {
  if (key === undefined) throw new RefusedError(RefusalCode.unknownKey, `no key "${body.keyId}"`);
  return key;
}

export function newSignSession(request: Envelope, body: SignRequestBody, stored: KeyRecord | undefined, now: number): SignSession {
  const key = requestedKey(body, stored);
  // A message the key's suite cannot sign (BIP340 keys sign 32-byte digests) fails here, not at every party.
  const messageBytes = requiredSuite(key.suite).messageBytes;
  if (messageBytes !== undefined && body.message.length !== 2 * messageBytes) {
    throw new RefusedError(RefusalCode.malformed, `key "${body.keyId}" signs ${messageBytes}-byte messages, got ${body.message.length / 2} bytes`);
  }
  // A path that cannot be derived (malformed, hardened, a suite without a scheme) is refused
  // here with the parties' own reasons, instead of failing every attempt later.
  derivationOf(key, body);
  return {
    ...sessionBase(request, body.requestId, body.keyId, now),
    kind: 'sign',
    phase: 'commit',
    attempt: 1,
    excluded: [],
    commitments: {},
    signers: [],
    shares: {},
    ...(key.epoch !== undefined && key.epoch > 0 ? { epoch: key.epoch } : {}),
  };
}

/** One signer's claimed pool entry: which batch and entry, and the commitment it holds. */
export interface PooledEntry {
  readonly party: string;
  readonly batchId: string;
  readonly index: number;
  readonly commitment: NonceCommitment;
}

/**
 * The fresh session as a one-round attempt 1: the claimed entries' parties are its signers,
 * their commitments fixed. The claim itself is the pool cursor's write (RFC 9591 §7.3: the
 * cursor hands each entry out once; see coordinator-requests.ts startSign).
 */
export function pooledSignSession(session: SignSession, entries: readonly PooledEntry[]): SignSession {
  const pooled = Object.fromEntries(entries.map((e) => [e.party, { batchId: e.batchId, index: e.index, commitment: e.commitment }]));
  return { ...session, phase: 'sign', signers: entries.map((e) => e.party).sort(), pooled };
}
