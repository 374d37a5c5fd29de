/** The summary of a chaos run: one JSON object (for `--json` and CI) and a table for people. */
import type { FaultKind, FaultPlan } from './fault-plan.js';
import type { SessionCounts } from './invariants.js';

export interface DeadLetterCount {
  readonly queue: string;
  readonly type: string;
  readonly count: number;
  /** The last failure of the message before it was dead-lettered. */
  readonly why: string;
}

export interface ChaosReport {
  readonly mode: 'local' | 'aws';
  readonly seed: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly signaturesPerSecond: number;
  readonly sessions: SessionCounts;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  readonly nonceViolations: number;
  readonly sharesLost: number;
  readonly deadLettered: number;
  readonly deadLetters: readonly DeadLetterCount[];
  /** Faults actually injected, by kind. */
  readonly faults: Readonly<Record<FaultKind, number>>;
  /** Sessions the stalled-session sweep ended (they count as typed failures). */
  readonly sweptStalled: number;
  readonly plan: FaultPlan;
  /** Every invariant broken, one line each; empty when the run passes. */
  readonly violations: readonly string[];
  readonly ok: boolean;
}

/** The invariants and their values, one row each, as printed by `npm run chaos`. */
export function reportTable(report: ChaosReport): Array<{ invariant: string; value: number | string; required: string; holds: boolean }> {
  const s = report.sessions;
  return [
    { invariant: 'sessions', value: s.total, required: '', holds: true },
    { invariant: 'completed', value: s.completed, required: '', holds: true },
    {
      invariant: 'failed with a typed error',
      value: `${s.failedTyped}${Object.keys(s.failedByCode).length > 0 ? ` (${Object.entries(s.failedByCode).map(([c, n]) => `${c}: ${n}`).join(', ')})` : ''}`,
      required: '',
      holds: true,
    },
    { invariant: 'timed out', value: s.timedOut, required: '0', holds: s.timedOut === 0 },
    { invariant: 'signatures that do not verify', value: s.invalidSignatures, required: '0', holds: s.invalidSignatures === 0 },
    { invariant: 'nonce reused or consumed twice', value: report.nonceViolations, required: '0', holds: report.nonceViolations === 0 },
    { invariant: 'shares lost', value: report.sharesLost, required: '0', holds: report.sharesLost === 0 },
    { invariant: 'duplicate results for one request id', value: s.duplicateResults, required: '0', holds: s.duplicateResults === 0 },
    { invariant: 'outcomes redelivered (same content)', value: s.redelivered, required: 'reported', holds: true },
    { invariant: "sessions swept as stalled ('timeout')", value: report.sweptStalled, required: 'reported', holds: true },
    {
      invariant: 'dead-lettered messages',
      value: `${report.deadLettered}${report.deadLetters.length > 0 ? ` (${report.deadLetters.map((d) => `${d.queue} ${d.type} ×${d.count}: ${d.why}`).join('; ')})` : ''}`,
      required: 'reported',
      holds: true,
    },
  ];
}

/** The counts only: the last line of `--json` output. */
export function reportJson(report: ChaosReport): string {
  return JSON.stringify(report);
}
