/**
 * What a signing session's phase sends, coordinator side: `sign.commit` to every eligible
 * party, the signing package (the signers' own signed commitments, relayed unchanged) to
 * the signers, and the result to the initiator. Derived from the stored session alone, and
 * for a one-round attempt from the signers' signed pool batches its commitments come from.
 */
import { StoredStateError } from '../../ports/errors.js';
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import { required } from '../coordinator-step.js';
import { toInitiator, toParty, type Outgoing } from '../coordinator-outbox.js';
import { deriveSessionId } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';
import { requestMessage, sessionSigningKey } from './coordinator-aggregate.js';
import { requiredSuite } from '../suites.js';
import { eligible } from './coordinator-attempt.js';

/**
 * `key`: the signing key; needed in the commit phase (who is eligible) and when done (the
 * result). `batches`: for a one-round attempt (`pooled`), each signer's stored `pool.batch`.
 */
export function signOutbox(session: SignSession, key: KeyRecord | undefined, batches?: Readonly<Record<string, Envelope>>): Outgoing[] {
  const sessionId = deriveSessionId(session.initiator, session.requestId);
  const { request, attempt } = session;
  switch (session.phase) {
    case 'commit':
      if (key === undefined) throw new StoredStateError(`key record "${session.keyId}" missing for a signing session`);
      return eligible(session, key).map((p) =>
        toParty(p, sessionId, MessageType.signCommit, { request, attempt, ...(session.epoch !== undefined && session.epoch > 0 ? { epoch: session.epoch } : {}) }),
      );
    case 'sign': {
      if (session.pooled !== undefined) return pooledPackages(session, sessionId, batches);
      const commitments = session.signers.map((p) => required(session.commitments, p, 'sign.commitment'));
      return session.signers.map((p) => toParty(p, sessionId, MessageType.signPackage, { request, attempt, commitments }));
    }
    case 'done':
    case 'failed':
      return [signResult(session, false, key)];
  }
}

/**
 * One round: each signer gets every signer's pooled commitment as its party's own signed
 * batch and the entry's index, so it checks each against its signer's identity key itself.
 */
function pooledPackages(session: SignSession, sessionId: string, batches: Readonly<Record<string, Envelope>> | undefined): Outgoing[] {
  const pooled = session.pooled ?? {};
  const commitments = session.signers.map((p) => {
    const batch = batches !== undefined && Object.hasOwn(batches, p) ? batches[p] : undefined;
    if (batch === undefined) throw new StoredStateError(`no pool batch of signer "${p}" for a one-round package`);
    return { batch, index: required(pooled, p, 'pooled commitment').index };
  });
  const { request, attempt } = session;
  const epoch = session.epoch !== undefined && session.epoch > 0 ? { epoch: session.epoch } : {};
  return session.signers.map((p) => toParty(p, sessionId, MessageType.signPooled, { request, attempt, ...epoch, commitments }));
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
