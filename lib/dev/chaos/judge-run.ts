/**
 * The end of a chaos run, the same on both paths (local cluster, AWS adapters): check every
 * invariant against what the sessions saw and what the stores hold, and make the report.
 */
import type { ItemBackend } from '../../ports/store.js';
import type { FaultKind, FaultPlan } from './fault-plan.js';
import { checkNonces, checkSessions, checkShares, type SessionSeen, type ShareSnapshot } from './invariants.js';
import type { ChaosReport, DeadLetterCount } from './report.js';
import { percentile } from '../percentile.js';

export interface RunEvidence {
  readonly mode: ChaosReport['mode'];
  readonly seed: string;
  readonly concurrency: number;
  readonly durationMs: number;
  /** The setup keygens, then the measured sessions. */
  readonly setupSeen: readonly SessionSeen[];
  readonly main: readonly SessionSeen[];
  /** Results that did not authenticate, and delayed sends the harness failed to enqueue. */
  readonly unreadableResults: number;
  readonly deliveryErrors: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  readonly partyStores: ReadonlyMap<string, ItemBackend>;
  readonly coordinatorStore: ItemBackend | undefined;
  /** Every party's shares before the run. */
  readonly sharesBefore: ShareSnapshot;
  readonly deadLetters: readonly DeadLetterCount[];
  readonly sweptStalled: number;
  readonly plan: FaultPlan;
}

export async function judgeRun(evidence: RunEvidence): Promise<ChaosReport> {
  const seen = [...evidence.setupSeen, ...evidence.main];
  const violations: string[] = [];
  const counts = checkSessions(seen, violations);
  if (evidence.unreadableResults > 0) violations.push(`${evidence.unreadableResults} results did not authenticate`);
  if (evidence.deliveryErrors > 0) violations.push(`${evidence.deliveryErrors} delayed messages could not be enqueued (harness fault)`);
  const nonceViolations = await checkNonces(evidence.partyStores, evidence.coordinatorStore, violations);
  const sharesLost = await checkShares(evidence.sharesBefore, evidence.partyStores, seen, violations);
  const signatures = evidence.main.filter((s) => s.kind === 'sign' && s.results[0]?.ok === true).length;
  const latencies = evidence.main.flatMap((s) => (s.latencyMs !== undefined ? [s.latencyMs] : []));
  return {
    mode: evidence.mode,
    seed: evidence.seed,
    concurrency: evidence.concurrency,
    durationMs: Math.round(evidence.durationMs),
    signaturesPerSecond: Number((signatures / (evidence.durationMs / 1000)).toFixed(2)),
    sessions: counts,
    latencyMs: { p50: Math.round(percentile(latencies, 0.5)), p99: Math.round(percentile(latencies, 0.99)) },
    nonceViolations,
    sharesLost,
    deadLettered: evidence.deadLetters.reduce((sum, d) => sum + d.count, 0),
    deadLetters: evidence.deadLetters,
    faults: { ...evidence.faults },
    sweptStalled: evidence.sweptStalled,
    plan: evidence.plan,
    violations,
    ok: violations.length === 0,
  };
}
