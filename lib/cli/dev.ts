/**
 * `frostline dev up`: a development deployment on an AWS API emulator, run from one
 * terminal. Provisions every party and the coordinator in emulated accounts of their own,
 * writes the deployment file that `frostline keygen|sign|key|audit --deployment FILE` use
 * from another terminal, then runs the handlers (what Lambda's event-source mappings do)
 * until SIGINT or SIGTERM, reporting what they handled.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, parse, relative, resolve } from 'node:path';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { DevDeployment, type DevDeploymentStats, type DevLogLevel } from '../dev/dev-deployment.js';
import { type RunningEmulator, startEmulator } from '../dev/emulator.js';
import { ConfigError } from '../ports/errors.js';
import { PartyPolicySchema } from '../protocol/config-schemas.js';
import type { PartyPolicy } from '../protocol/requests.js';
import { pinsFileFor } from './deployment-commands.js';
import { checkPolicyAgainstDeployment, firstCommands } from './dev-inputs.js';
import { timed } from './output.js';

/**
 * Where `dev up` writes by default: a directory of its own, which it creates with a
 * `.gitignore` of `*`, so that the deployment file and the local private keys are never
 * committed by accident.
 */
export const DEFAULT_DEV_OUT = join('.frostline-dev', 'deployment.json');

export interface DevUpOptions {
  /** An emulator that is already running; @default start the project's pinned moto */
  readonly endpoint?: string;
  /** Parties p1..pN. */
  readonly parties: number;
  readonly initiators: readonly string[];
  readonly approvers: readonly string[];
  /** A JSON `PartyPolicy` file for every party. @default each initiator may run keygen and use every key */
  readonly policyFile?: string;
  /** Where the deployment file goes; the local keys go next to it, in `<name>.keys/`. @default DEFAULT_DEV_OUT */
  readonly out?: string;
  /** Replace the deployment file of an earlier run (its local keys are reused, its pinned group keys dropped). @default false */
  readonly force?: boolean;
  /** Handlers' Powertools log level (JSON lines on stdout). @default 'SILENT' */
  readonly logLevel?: DevLogLevel;
  /** How often activity is reported (only when something changed). @default 5000 */
  readonly reportEveryMs?: number;
  /** Stops the deployment (besides SIGINT/SIGTERM); for running it in process. */
  readonly signal?: AbortSignal;
  /** Called once the deployment file is written and the handlers run. */
  readonly onReady?: (deployment: DevDeployment, file: string) => void;
  /** Progress lines. @default stderr */
  readonly log?: (line: string) => void;
  /** Told the deployment file's path once it is ready. @default the path alone on stdout, for scripts */
  readonly announce?: (file: string) => void;
}

/** `frostline-dev.json` keeps its keys in `frostline-dev.keys/` beside it. */
export function keyDirFor(deploymentFile: string): string {
  const { dir, name } = parse(resolve(deploymentFile));
  return join(dir, `${name}.keys`);
}

/** Checked before the emulator starts: the policy, and that nothing of an earlier run is overwritten without --force. */
interface DevUpPlan {
  readonly file: string;
  readonly keyDir: string;
  readonly policy: PartyPolicy | undefined;
}

async function plan(options: DevUpOptions): Promise<DevUpPlan> {
  if (options.initiators.length === 0) throw new ConfigError('at least one initiator is needed');
  const file = resolve(options.out ?? DEFAULT_DEV_OUT);
  const keyDir = keyDirFor(file);
  const policy = options.policyFile !== undefined ? await readPolicy(options.policyFile) : undefined;
  if (options.policyFile !== undefined) checkPolicyAgainstDeployment({ ...options, policy }, options.policyFile);
  if (options.force !== true) {
    const earlier = [
      [file, 'the deployment file of an earlier `dev up` is'],
      [keyDir, 'the local keys of an earlier `dev up` are'],
    ] as const;
    for (const [path, what] of earlier) {
      if (existsSync(path)) throw new ConfigError(`${what} at ${path}: --force replaces the file (its keys are reused), or choose another --out`);
    }
  }
  return { file, keyDir, policy };
}

/**
 * Creates the deployment file's directory. A directory `dev up` creates gets a `.gitignore`
 * of `*`: it will hold private keys. An existing one is left as it is.
 */
async function prepareDirectory(file: string, force: boolean): Promise<void> {
  const created = await mkdir(dirname(file), { recursive: true });
  if (created !== undefined) await writeFile(join(created, '.gitignore'), '# written by `frostline dev up`: local private keys, never commit them\n*\n');
  // The group keys pinned against the old deployment would refuse the new deployment's keys.
  if (force) await rm(pinsFileFor({ deployment: file }), { force: true });
}

/** The path as a user would type it: relative when it is under the working directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.length > 0 && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export async function runDevUp(options: DevUpOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Everything that can be checked is checked before the emulator starts (it takes seconds to a minute).
  const { file, keyDir, policy } = await plan(options);
  await prepareDirectory(file, options.force === true);
  // EMF metric lines mean something to CloudWatch only; here they would bury the output.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  let emulator: RunningEmulator | undefined;
  let endpoint = options.endpoint;
  if (endpoint === undefined) {
    log('dev: starting the moto AWS emulator (the first run installs it into .venv/, which takes a minute)');
    emulator = await startEmulator({ log });
    endpoint = emulator.endpoint;
  }
  try {
    const parties = Array.from({ length: options.parties }, (_, i) => `p${i + 1}`);
    log(`dev: provisioning ${parties.length} parties, the coordinator and ${options.initiators.length} initiator(s) on ${endpoint}`);
    const [deployment, ms] = await timed(() =>
      DevDeployment.create({
        endpoint,
        parties,
        initiators: options.initiators,
        approvers: options.approvers,
        keyDir,
        policy,
        logLevel: options.logLevel,
        // A message id and reason only: bodies hold signed requests and sealed shares.
        onFailure: (node, failure) => log(`dev: ${node}: message ${failure.messageId} failed on receive ${failure.receiveCount} (${failure.reason}); left for redelivery`),
      }),
    );
    try {
      describe(deployment, log, ms);
      await deployment.writeFile(file);
      log(`dev: deployment file ${file}`);
      log(`dev: local keys in ${keyDir} (initiators: ${options.initiators.join(', ')}${options.approvers.length > 0 ? `; approvers: ${options.approvers.join(', ')}` : ''})`);
      log(`dev: ${firstCommands({ initiators: options.initiators, approvers: options.approvers, policy, file: shown(file) })}`);
      log(`dev: running the handlers; Ctrl-C stops${emulator !== undefined ? ' them and the emulator (its state is lost)' : ''}`);
      // e.g. FILE=$(frostline dev up ... | head -n 1)
      (options.announce ?? ((path: string) => process.stdout.write(`${path}\n`)))(file);
      options.onReady?.(deployment, file);
      await runUntilStopped(deployment, log, options.reportEveryMs ?? 5000, options.signal);
      log('dev: stopping the handlers');
    } finally {
      await deployment.close();
    }
  } finally {
    if (emulator !== undefined) {
      log('dev: stopping the emulator');
      await emulator.stop();
    }
  }
}

function describe(deployment: DevDeployment, log: (line: string) => void, ms: number): void {
  log(`dev: provisioned in ${ms} ms (identity keys: ${deployment.coordinator.account.identityAlgorithm})`);
  log(`dev:   coordinator  account ${deployment.coordinator.account.accountId}  request queue ${deployment.coordinator.requestQueueUrl}`);
  for (const [id, party] of deployment.parties) log(`dev:   ${id.padEnd(11)}  account ${party.account.accountId}  table ${party.account.tableName}`);
  for (const [id, initiator] of deployment.initiators) log(`dev:   initiator ${id}  result queue ${initiator.resultQueueUrl}`);
}

/** Parsed and checked by `DevDeployment.create` (PartyPolicySchema); here it only has to be JSON. */
async function readPolicy(path: string): Promise<PartyPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the policy file ${path}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`the policy file ${path} is not valid JSON`);
  }
  const result = PartyPolicySchema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigError(`the policy file ${path} is not a party policy (${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')})`);
  }
  return result.data;
}

function summary(deployment: DevDeployment, stats: DevDeploymentStats): string {
  const { total, nodes } = stats;
  const order = [...deployment.parties.keys(), 'coordinator', 'intake'];
  const perNode = order
    .flatMap((node) => {
      const c = nodes[node];
      return c === undefined ? [] : [`${node} ${c.processed}/${c.refused}/${c.failed}`];
    })
    .join(', ');
  return `processed ${total.processed}, refused ${total.refused}, failed ${total.failed}  (per node processed/refused/failed: ${perNode})`;
}

/** Waits for SIGINT, SIGTERM or the abort signal, reporting activity whenever it changed. */
async function runUntilStopped(deployment: DevDeployment, log: (line: string) => void, everyMs: number, signal: AbortSignal | undefined): Promise<void> {
  let last = summary(deployment, deployment.stats());
  const timer = setInterval(() => {
    const now = summary(deployment, deployment.stats());
    if (now === last) return;
    last = now;
    log(`dev: ${new Date().toISOString().slice(11, 19)} ${now}`);
  }, everyMs);
  try {
    await new Promise<void>((resolvePromise) => {
      const stop = () => {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        signal?.removeEventListener('abort', stop);
        resolvePromise();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (signal?.aborted === true) stop();
      else signal?.addEventListener('abort', stop, { once: true });
    });
  } finally {
    clearInterval(timer);
  }
}
