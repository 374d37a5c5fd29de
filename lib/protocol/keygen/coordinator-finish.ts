/**
 * The end of a keygen, coordinator side: the key exists only if every party attested the same
 * public package, and its record carries all n attestations as the evidence applications
 * check. Pure: the record is written by coordinator.ts with the session, only if absent.
 */
import { RefusalCode, StoredStateError } from '../../ports/errors.js';
import type { KeygenSession, KeyRecord } from '../coordinator-state.js';
import { required, type TransitionContext } from '../coordinator-step.js';
import { deriveSessionId, parseBody } from '../envelope.js';
import { MessageType, type DkgDoneBody } from '../messages.js';

/** Called with every party's `dkg.done` collected: done if they agree, failed if not. */
export function finishKeygen(session: KeygenSession): KeygenSession {
  const hashes = new Set(Object.values(session.done).map((e) => parseBody(e, MessageType.dkgDone).publicPackageHash));
  if (hashes.size !== 1) {
    return { ...session, phase: 'failed', error: { code: 'dkg-mismatch', message: 'parties finished with different public packages' } };
  }
  return { ...session, phase: 'done', publicKey: firstDone(session).groupKey };
}

export function keyRecord(session: KeygenSession, context: Pick<TransitionContext, 'suite' | 'now'>): KeyRecord {
  const done = firstDone(session);
  return {
    keyId: session.keyId,
    suite: context.suite.id,
    threshold: session.threshold,
    parties: session.parties,
    publicKey: done.groupKey,
    publicPackage: done.publicPackage,
    publicPackageHash: done.publicPackageHash,
    attestations: session.parties.map((p) => required(session.done, p, 'dkg.done')),
    createdBy: session.initiator,
    session: deriveSessionId(session.initiator, session.requestId),
    createdAt: context.now,
  };
}

/**
 * Another keygen for the same key id finished first (both were admitted while neither had):
 * this one fails instead of retrying a write that can never succeed.
 */
export function keyCreatedMeanwhile(session: KeygenSession): KeygenSession {
  return { ...session, phase: 'failed', error: { code: RefusalCode.conflict, message: `key "${session.keyId}" was created by another keygen meanwhile` } };
}

/** All `dkg.done` agree once finished; the first party's stands for them. */
function firstDone(session: KeygenSession): DkgDoneBody {
  const [first] = session.parties;
  if (first === undefined) throw new StoredStateError('stored keygen session has no parties');
  return parseBody(required(session.done, first, 'dkg.done'), MessageType.dkgDone);
}
