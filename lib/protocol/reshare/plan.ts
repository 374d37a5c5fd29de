/**
 * The plan of a refresh or reshare: who deals, who receives, at which threshold. Derived
 * from the initiator's signed request and the key's current (attested) party set by every
 * party and by the coordinator alike, with the same shape rules, so nothing the coordinator
 * adds chooses it.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import type { LifecycleRequest } from '../requests.js';

export interface ResharePlan {
  readonly mode: 'refresh' | 'reshare';
  readonly keyId: string;
  /** The current parties (sorted) and threshold. */
  readonly current: readonly string[];
  readonly currentThreshold: number;
  /** The new threshold and parties (sorted); refresh: the current ones. */
  readonly threshold: number;
  readonly parties: readonly string[];
  /** Q: the current parties that deal (sorted). */
  readonly dealers: readonly string[];
  /** Q ∪ P′ (sorted): those whose round 1 the session waits for. */
  readonly participants: readonly string[];
}

const sorted = (list: readonly string[]) => [...list].sort();

export function planOf(
  request: LifecycleRequest,
  current: { readonly parties: readonly string[]; readonly threshold: number; readonly epoch?: number | undefined },
): ResharePlan {
  const base = { keyId: request.body.keyId, current: sorted(current.parties), currentThreshold: current.threshold };
  const planned = request.body.epoch;
  if (planned !== undefined && planned !== (current.epoch ?? 0)) {
    throw new RefusedError(RefusalCode.staleEpoch, `the request was planned against epoch ${planned} of key "${base.keyId}", which is at epoch ${current.epoch ?? 0}`);
  }
  if (request.mode === 'refresh') {
    return { ...base, mode: 'refresh', threshold: current.threshold, parties: base.current, dealers: base.current, participants: base.current };
  }
  const { parties, threshold, dealers } = request.body;
  if (new Set(parties).size !== parties.length) throw new RefusedError(RefusalCode.malformed, 'parties contains a duplicate');
  if (threshold < 2 || threshold > parties.length) throw new RefusedError(RefusalCode.malformed, `threshold ${threshold} must be between 2 and ${parties.length}`);
  const q = dealers ?? current.parties;
  if (new Set(q).size !== q.length) throw new RefusedError(RefusalCode.malformed, 'dealers contains a duplicate');
  for (const dealer of q) {
    if (!current.parties.includes(dealer)) throw new RefusedError(RefusalCode.malformed, `dealer "${dealer}" is not a current party of key "${base.keyId}"`);
  }
  if (q.length < current.threshold) {
    throw new RefusedError(RefusalCode.malformed, `${q.length} dealers cannot reshare a key of threshold ${current.threshold}`);
  }
  return {
    ...base,
    mode: 'reshare',
    threshold,
    parties: sorted(parties),
    dealers: sorted(q),
    participants: sorted([...new Set([...q, ...parties])]),
  };
}
