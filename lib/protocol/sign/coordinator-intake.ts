/**
 * Signing intake, coordinator side: a `sign.request` for a known key becomes a session
 * collecting commitments for attempt 1. The coordinator does not judge the request: each
 * party checks it (initiator, policy, approvals) before it commits a nonce.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import { sessionBase } from '../coordinator-step.js';
import type { Envelope, SignRequestBody } from '../messages.js';
import { requiredSuite } from '../suites.js';
import { derivationOf } from './signing-key.js';

export function newSignSession(request: Envelope, body: SignRequestBody, key: KeyRecord | undefined, now: number): SignSession {
  if (key === undefined) throw new RefusedError(RefusalCode.unknownKey, `no key "${body.keyId}"`);
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
