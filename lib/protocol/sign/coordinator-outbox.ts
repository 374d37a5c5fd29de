/**
 * What a signing session's phase sends, coordinator side: `sign.commit` to every eligible
 * party, the signing package (the signers' own signed commitments, relayed unchanged) to
 * the signers, and the result to the initiator. Derived from the stored session alone.
 */
import { StoredStateError } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import { required } from '../coordinator-step.js';
import { toInitiator, toParty, type Outgoing } from '../coordinator-outbox.js';
import { deriveSessionId } from '../envelope.js';
import { MessageType } from '../messages.js';
import { requestMessage, sessionSigningKey } from './coordinator-aggregate.js';
import { requiredSuite } from '../suites.js';
import { eligible } from './coordinator-attempt.js';

/** `key`: the signing key; needed in the commit phase (who is eligible) and when done (the result). */
export function signOutbox(session: SignSession, key: KeyRecord | undefined): Outgoing[] {
  const sessionId = deriveSessionId(session.initiator, session.requestId);
  const { request, attempt } = session;
  switch (session.phase) {
    case 'commit':
      if (key === undefined) throw new StoredStateError(`key record "${session.keyId}" missing for a signing session`);
      return eligible(session, key).map((p) =>
        toParty(p, sessionId, MessageType.signCommit, { request, attempt, ...(session.epoch !== undefined && session.epoch > 0 ? { epoch: session.epoch } : {}) }),
      );
    case 'sign': {
      const commitments = session.signers.map((p) => required(session.commitments, p, 'sign.commitment'));
      return session.signers.map((p) => toParty(p, sessionId, MessageType.signPackage, { request, attempt, commitments }));
    }
    case 'done':
    case 'failed':
      return [signResult(session, false, key)];
  }
}

/** The signing result: the signature and who made it, or why it failed. `duplicate`: an answer to a repeated request. */
export function signResult(session: SignSession, duplicate: boolean, key: KeyRecord | undefined): Outgoing {
  const fields = { requestId: session.requestId, keyId: session.keyId, duplicate };
  if (session.phase === 'done' && session.signature !== undefined && key !== undefined) {
    return toInitiator(session.request, MessageType.signResult, {
      ...fields,
      signature: session.signature,
      ...childKeyFields(session, key),
      message: requestMessage(session),
      signers: session.signers,
      ok: true,
    });
  }
  return toInitiator(session.request, MessageType.signResult, { ...fields, error: session.error ?? { code: 'failed', message: 'signing failed' }, ok: false });
}

/** The result names the key the signature verifies under: the child key, with its path, for a request with a path. */
function childKeyFields(session: SignSession, key: KeyRecord): { publicKey: string; path?: string } {
  const { publicKey, path } = sessionSigningKey(session, key, requiredSuite(key.suite));
  return path === undefined ? { publicKey } : { publicKey, path };
}
