/**
 * `npm run chaos`: thousands of sessions under a seeded fault plan, every invariant checked.
 * Prints the plan and seed first, then progress, a table and (with --json) one JSON line last.
 * Exit code 1 when an invariant fails.
 *
 *   npm run chaos -- --signatures 1000 --keygens 50 --seed 1 --concurrency 20 --json
 */
import { Command, InvalidArgumentError } from 'commander';
import { describePlan, FAULT_MEANING } from './fault-plan.js';
import { runLocalChaos } from './local-run.js';
import { reportJson, reportTable, type ChaosReport } from './report.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

// The handlers' CloudWatch metrics (EMF lines on stdout) would bury the report; the harness counts for itself.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const program = new Command('chaos')
  .description('chaos run: sessions under a seeded fault plan, invariants checked from the stores')
  .option('--signatures <n>', 'signing sessions', positiveInt, 1000)
  .option('--keygens <n>', 'keygen sessions (the first two make the 2-of-3 and 3-of-5 signing keys)', positiveInt, 50)
  .option('--seed <seed>', 'seed of the fault plan and session order', `${Date.now()}`)
  .option('--concurrency <n>', 'sessions in flight', positiveInt, 20)
  .option('--timeout <ms>', 'per-session timeout', positiveInt, 120_000)
  .option('--aws', 'run on the AWS adapters against the emulator (moto) instead of the local cluster')
  .option('--json', 'print the summary as one JSON object on the last line');

program.parse();
const options = program.opts<{ signatures: number; keygens: number; seed: string; concurrency: number; timeout: number; aws?: boolean; json?: boolean }>();
const log = (line: string) => process.stderr.write(`${line}\n`);

let report: ChaosReport;
if (options.aws === true) {
  const { runAwsChaos } = await import('./aws-run.js');
  report = await runAwsChaos({ ...options, sessionTimeoutMs: options.timeout, log: (line) => log(line), onPlan: (plan) => log(describePlan(plan)) });
} else {
  report = await runLocalChaos({ ...options, sessionTimeoutMs: options.timeout, log, onPlan: (plan) => log(describePlan(plan)) });
}

log(`faults: ${Object.keys(FAULT_MEANING).join(', ')}; injected: ${Object.entries(report.faults).map(([k, n]) => `${k} ${n}`).join(', ')}`);
log(`${report.sessions.total} sessions in ${(report.durationMs / 1000).toFixed(1)} s (${report.signaturesPerSecond} signatures/s, p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, concurrency ${report.concurrency}, seed ${report.seed})`);
console.table(reportTable(report));
for (const violation of report.violations.slice(0, 50)) log(`VIOLATION ${violation}`);
if (options.json === true) console.log(reportJson(report));
process.exitCode = report.ok ? 0 : 1;
