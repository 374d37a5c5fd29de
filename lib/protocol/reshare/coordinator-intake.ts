/**
 * Refresh/reshare intake, coordinator side: a checked `refresh.request` or `reshare.request`
 * for a known key becomes a session in round 1, fixing the epoch it starts from and that
 * epoch's attestations. The coordinator checks only what it needs to run the session; every
 * party checks the request, its policy and the attestations again for itself.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { KeyRecord, ReshareSession } from '../coordinator-state.js';
import { sessionBase } from '../coordinator-step.js';
import type { Directory } from '../directory.js';
import type { Envelope } from '../messages.js';
import type { LifecycleRequest } from '../requests.js';
import { planOf } from './plan.js';

export function newReshareSession(request: Envelope, lifecycle: LifecycleRequest, key: KeyRecord | undefined, intake: { directory: Directory; now: number }): ReshareSession {
  const { body } = lifecycle;
  if (key === undefined) throw new RefusedError(RefusalCode.unknownKey, `no key "${body.keyId}"`);
  const plan = planOf(lifecycle, key);
  for (const party of [...plan.parties, ...plan.dealers]) {
    if (!Object.hasOwn(intake.directory.parties, party)) throw new RefusedError(RefusalCode.unknownSender, `unknown party "${party}"`);
  }
  return {
    ...sessionBase(request, body.requestId, body.keyId, intake.now),
    kind: 'reshare',
    mode: plan.mode,
    phase: 'round1',
    fromEpoch: key.epoch ?? 0,
    current: [...plan.current],
    attestations: key.attestations,
    threshold: plan.threshold,
    parties: [...plan.parties],
    dealers: [...plan.dealers],
    round1: {},
    dealings: {},
    done: {},
  };
}

/** Q ∪ P′ of a session. */
export function participantsOfSession(session: Pick<ReshareSession, 'dealers' | 'parties'>): string[] {
  return [...new Set([...session.dealers, ...session.parties])].sort();
}

/** Every party told of the session: the current ones and the new ones. */
export function everyoneOf(session: Pick<ReshareSession, 'current' | 'parties'>): string[] {
  return [...new Set([...session.current, ...session.parties])].sort();
}
