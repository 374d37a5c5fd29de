/**
 * A chaos run on the embedded cluster: five parties, a 2-of-3 and a 3-of-5 signing key, the
 * fault plan on every queue (through the cluster's intercept, handler-wrapper and clock
 * hooks), then every invariant checked from the results and the stores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../ports/clock.js';
import type { Destination } from '../../ports/transport.js';
import { DEFAULT_LIMITS } from '../../protocol/directory.js';
import { COORDINATOR } from '../../protocol/messages.js';
import { LocalCluster } from '../cluster.js';
import type { LocalQueue } from '../../adapters/local/queue.js';
import { FaultInjector } from './fault-injector.js';
import { makeFaultPlan, type FaultPlan } from './fault-plan.js';
import { snapshotShares } from './invariants.js';
import { judgeRun } from './judge-run.js';
import { CHAOS_PARTIES as PARTIES, runPhases } from './phases.js';
import type { ChaosReport, DeadLetterCount } from './report.js';
import { ResultBook, resultSeen } from './sessions.js';

export interface ChaosOptions {
  readonly signatures: number;
  readonly keygens: number;
  readonly seed: string;
  readonly concurrency: number;
  /** How long one session may take before it counts as timed out. @default 120000 */
  readonly sessionTimeoutMs?: number;
  /** Scales the per-message fault rates. @default 1 */
  readonly intensity?: number;
  /** @default 4000 / 600 */
  readonly partyDownPeriodMs?: number;
  readonly partyDownWindowMs?: number;
  readonly log?: (line: string) => void;
  /** Told the plan before anything runs (the CLI prints it). */
  readonly onPlan?: (plan: FaultPlan) => void;
}

const INITIATOR = 'cli';
export async function runLocalChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.sessionTimeoutMs ?? 120_000;
  const plan = makeFaultPlan({
    seed: options.seed,
    parties: PARTIES,
    nodes: [...PARTIES, COORDINATOR, INITIATOR],
    limits: DEFAULT_LIMITS,
    ...(options.intensity !== undefined ? { intensity: options.intensity } : {}),
    ...(options.partyDownPeriodMs !== undefined ? { partyDownPeriodMs: options.partyDownPeriodMs } : {}),
    ...(options.partyDownWindowMs !== undefined ? { partyDownWindowMs: options.partyDownWindowMs } : {}),
  });
  options.onPlan?.(plan);
  const injector = new FaultInjector(plan, { crashingSenders: new Set([...PARTIES, COORDINATOR]), parties: new Set(PARTIES) });
  // The last failure of each body still failing, so a dead-lettered message can say why.
  const lastFailure = new Map<string, string>();
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-chaos-'));
  const cluster = await LocalCluster.open({
    dataDir,
    parties: PARTIES.length,
    initiator: INITIATOR,
    intercept: injector.intercept,
    clockFor: (node) => injector.clockFor(node, systemClock),
    wrapHandler: (node, handler) => {
      const faulty = injector.wrapHandler(node, handler);
      return async (body, context) => {
        try {
          await faulty(body, context);
          lastFailure.delete(body);
        } catch (error) {
          lastFailure.set(body, error instanceof Error ? ('code' in error ? `${String(error.code)}: ${error.message}` : error.name) : 'non-error');
          throw error;
        }
      };
    },
    visibilityTimeoutMs: 250,
    maxReceiveCount: 10,
  });
  const wired = cluster.initiators.get(INITIATOR);
  if (wired === undefined) throw new Error('chaos initiator not wired');
  const queueOf = (destination: Destination): LocalQueue | undefined =>
    destination.kind === 'coordinator'
      ? cluster.inboxes.get(COORDINATOR)?.queue
      : destination.kind === 'party'
        ? cluster.inboxes.get(destination.id)?.queue
        : cluster.initiators.get(destination.id)?.results;
  injector.attach(async (destination, body) => {
    const queue = queueOf(destination);
    if (queue === undefined) throw new Error('no queue for a delayed message');
    queue.send(body);
  });

  const book = new ResultBook();
  let collecting = true;
  const collector = (async () => {
    while (collecting) {
      const batch = wired.results.receive(10);
      for (const message of batch) {
        wired.results.delete(message.receiptHandle);
        try {
          const result = cluster.initiator.openResult(message.body);
          book.add(result.body.requestId, resultSeen(result));
        } catch {
          book.unreadable += 1;
        }
      }
      if (batch.length === 0) await sleep(5);
    }
  })();
  // The scheduled sweep of a deployment: sessions open for the session timeout are failed
  // and their initiators told, as the coordinator's schedule does in AWS.
  let sweptStalled = 0;
  let sweeping = false; // one sweep at a time, as a scheduled function with concurrency 1
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    cluster.coordinator.expireStalled(timeoutMs).then(
      (stalled) => {
        sweptStalled += stalled.length;
        sweeping = false;
      },
      () => {
        sweeping = false;
      },
    );
  }, 1_000);

  const quiet = async () => {
    await injector.flush();
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const busy = [...cluster.inboxes.values()].some((inbox) => {
        const { visible, inFlight } = inbox.queue.stats();
        return visible + inFlight > 0;
      });
      if (!busy && injector.pending === 0 && wired.results.stats().visible + wired.results.stats().inFlight === 0) return;
      await sleep(20);
    }
  };

  // Clients wait past the sweep, so that a swept session is seen failing with its typed error.
  const waitMs = timeoutMs + 30_000;
  const started = performance.now();
  try {
    cluster.serve();
    const { setupSeen, main, sharesBefore, durationMs } = await runPhases({
      initiator: cluster.initiator,
      options,
      book,
      waitMs,
      started,
      log,
      quiet,
      injector,
      snapshotShares: () => snapshotShares(partyStores(cluster)),
    });
    return await judgeRun({
      mode: 'local',
      seed: options.seed,
      concurrency: options.concurrency,
      durationMs,
      setupSeen,
      main,
      unreadableResults: book.unreadable,
      deliveryErrors: injector.deliveryErrors,
      faults: injector.counts,
      partyStores: partyStores(cluster),
      coordinatorStore: cluster.stores.get(COORDINATOR),
      sharesBefore,
      deadLetters: deadLettersOf(cluster, lastFailure),
      sweptStalled,
      plan,
    });
  } finally {
    collecting = false;
    clearInterval(sweeper);
    await collector;
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function partyStores(cluster: LocalCluster) {
  return new Map([...cluster.stores].filter(([node]) => node !== COORDINATOR));
}

function deadLettersOf(cluster: LocalCluster, lastFailure: ReadonlyMap<string, string>): DeadLetterCount[] {
  const counts = new Map<string, DeadLetterCount>();
  for (const [node, inbox] of cluster.inboxes) {
    for (const body of inbox.deadLetters.peekAll()) {
      let type = 'unparseable';
      try {
        const parsed = JSON.parse(body) as { type?: unknown };
        if (typeof parsed.type === 'string') type = parsed.type;
      } catch {
        // reported as unparseable
      }
      const why = lastFailure.get(body) ?? 'unknown';
      const key = `${node}|${type}|${why}`;
      const existing = counts.get(key);
      counts.set(key, { queue: `${node}-dlq`, type, why, count: (existing?.count ?? 0) + 1 });
    }
  }
  return [...counts.values()];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
