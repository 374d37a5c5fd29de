/**
 * `npm run load`: SDK signing at 1, 10, 100 and 1,000 requests in flight on the embedded
 * cluster, then at 1, 10 and 100 on the AWS adapters against the emulator (moto; skip with
 * --no-aws). Prints a table, then (with --json) one JSON line; exit 1 if anything was lost,
 * duplicated or does not verify.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadViolations, runLocalLoad, type LoadRow } from './load-run.js';

function levels(value: string): number[] {
  const list = value.split(',').map(Number);
  if (list.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new InvalidArgumentError('a comma-separated list of positive integers');
  return list;
}

// The handlers' CloudWatch metrics (EMF lines on stdout) would bury the report; the harness counts for itself.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const program = new Command('load')
  .description('concurrent signing through the SDK: throughput, latency, failures; nothing lost or duplicated')
  .option('--local <levels>', 'in-flight levels on the embedded cluster', levels, [1, 10, 100, 1000])
  .option('--aws-levels <levels>', 'in-flight levels on the emulator', levels, [1, 10, 100])
  .option('--no-aws', 'skip the emulator')
  .option('--no-local', 'skip the embedded cluster')
  .option('--min-requests <n>', 'requests per level (at least the level)', (v) => Number(v), 20)
  .option('--timeout <ms>', 'SDK timeout per request', (v) => Number(v), 300_000)
  .option('--threads <mode>', "local cluster: 'workers' (each party and the coordinator on its own thread) or 'single'", (v) => {
    if (v !== 'workers' && v !== 'single') throw new InvalidArgumentError("'workers' or 'single'");
    return v;
  }, 'workers')
  .option('--json', 'print the rows as one JSON object on the last line');
program.parse();
const options = program.opts<{ local: number[] | false; awsLevels: number[]; aws: boolean; minRequests: number; timeout: number; threads: 'workers' | 'single'; json?: boolean }>();
const log = (line: string) => process.stderr.write(`${line}\n`);

const rows: LoadRow[] = options.local === false ? [] : await runLocalLoad({ levels: options.local, minRequests: options.minRequests, timeoutMs: options.timeout, threads: options.threads, log });
if (options.aws) {
  const { runAwsLoad } = await import('./aws-run.js');
  rows.push(...(await runAwsLoad({ levels: options.awsLevels, minRequests: options.minRequests, timeoutMs: options.timeout, log })));
}
console.table(rows.map(({ failuresByCode, ...row }) => ({ ...row, failuresByCode: JSON.stringify(failuresByCode) })));
const violations = loadViolations(rows);
for (const violation of violations) log(`VIOLATION ${violation}`);
if (options.json === true) console.log(JSON.stringify({ rows, violations, ok: violations.length === 0 }));
process.exitCode = violations.length === 0 ? 0 : 1;
