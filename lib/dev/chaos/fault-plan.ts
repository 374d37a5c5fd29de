/**
 * The fault plan of a chaos run: which faults, how often, and which node is down when.
 * Everything is derived from the seed, so the same seed gives the same plan and the same
 * sequence of per-message decisions (thread interleavings may still differ between runs).
 */
import type { Limits } from '../../protocol/directory.js';
import { rngFor } from './rng.js';

export const FAULT_KINDS = [
  'drop',
  'duplicate',
  'reorder',
  'delay',
  'crashBeforeAck',
  'crashAfterWrite',
  'partyDown',
  'clockSkew',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FAULT_MEANING: Record<FaultKind, string> = {
  drop: 'a received message is lost before its handler runs; the queue redelivers it after the visibility timeout',
  duplicate: 'a sent message is enqueued twice',
  reorder: 'a sent message is held back and enqueued after the next message to the same queue',
  delay: 'a sent message is enqueued only after a random delay',
  crashBeforeAck: 'the handler finishes (store written, messages sent) but crashes before the message is deleted: it is redelivered',
  crashAfterWrite: 'a send fails after the handler wrote its store: the handler crashes and the message is redelivered',
  partyDown: 'one party fails every delivery for a window (never more than one party at a time, so t stay up)',
  clockSkew: 'each node runs on its own clock, offset within the allowed skew',
};

export interface FaultPlan {
  readonly seed: string;
  /** Per-message probabilities. */
  readonly rates: Readonly<Record<Exclude<FaultKind, 'partyDown' | 'clockSkew'>, number>>;
  readonly delayMs: { readonly min: number; readonly max: number };
  /** Every `periodMs` one party (chosen by the seed) is down for `windowMs` at a seeded offset. */
  readonly partyDown: { readonly periodMs: number; readonly windowMs: number; readonly parties: readonly string[] };
  /** Each node's clock offset (ms); pairwise differences stay below `maxClockSkewMs`. */
  readonly clockSkewMs: Readonly<Record<string, number>>;
}

export interface PlanOptions {
  readonly seed: string;
  readonly parties: readonly string[];
  /** Every node that runs a clock (parties, coordinator, initiators). */
  readonly nodes: readonly string[];
  readonly limits: Pick<Limits, 'maxClockSkewMs'>;
  /** Scales every per-message rate (1 = the default plan, 0 = no message faults). */
  readonly intensity?: number;
  readonly partyDownPeriodMs?: number;
  readonly partyDownWindowMs?: number;
}

export function makeFaultPlan(options: PlanOptions): FaultPlan {
  const intensity = options.intensity ?? 1;
  const skewRng = rngFor(options.seed, 'clock-skew');
  // Offsets within ±(skew/2 - margin): any two nodes differ by less than the allowed skew.
  const bound = Math.max(0, options.limits.maxClockSkewMs / 2 - 5_000);
  const clockSkewMs: Record<string, number> = {};
  for (const node of options.nodes) clockSkewMs[node] = Math.round((skewRng.next() * 2 - 1) * bound);
  return {
    seed: options.seed,
    rates: {
      drop: 0.03 * intensity,
      duplicate: 0.03 * intensity,
      reorder: 0.03 * intensity,
      delay: 0.03 * intensity,
      crashBeforeAck: 0.03 * intensity,
      crashAfterWrite: 0.02 * intensity,
    },
    delayMs: { min: 20, max: 400 },
    partyDown: { periodMs: options.partyDownPeriodMs ?? 4_000, windowMs: options.partyDownWindowMs ?? 600, parties: [...options.parties] },
    clockSkewMs,
  };
}

/** The party down at `elapsedMs` into the run, if any (a pure function of the plan). */
export function partyDownAt(plan: FaultPlan, elapsedMs: number): string | undefined {
  const { periodMs, windowMs, parties } = plan.partyDown;
  if (parties.length === 0 || windowMs <= 0 || elapsedMs < 0) return undefined;
  const period = Math.floor(elapsedMs / periodMs);
  const rng = rngFor(plan.seed, `party-down/${period}`);
  const party = rng.pick(parties);
  const start = rng.int(0, Math.max(0, periodMs - windowMs));
  const offset = elapsedMs - period * periodMs;
  return offset >= start && offset < start + windowMs ? party : undefined;
}

/** The plan as printed at the start of a run (no secrets: the seed is a test seed). */
export function describePlan(plan: FaultPlan): string {
  const rates = Object.entries(plan.rates)
    .map(([kind, rate]) => `${kind} ${(rate * 100).toFixed(1)}%`)
    .join(', ');
  const skews = Object.entries(plan.clockSkewMs)
    .map(([node, ms]) => `${node} ${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)}s`)
    .join(', ');
  return [
    `seed: ${plan.seed}`,
    `per-message faults: ${rates}; delay ${plan.delayMs.min}-${plan.delayMs.max} ms`,
    `party down: one of ${plan.partyDown.parties.join(', ')} for ${plan.partyDown.windowMs} ms in every ${plan.partyDown.periodMs} ms`,
    `clock skew: ${skews}`,
  ].join('\n');
}
