/**
 * `npm run load`: concurrent signing through the SDK (FrostlineClient), `inFlight` requests
 * at a time, on the embedded cluster and on the AWS adapters against the emulator.
 * Per level: signatures per second, p50/p99 latency, failures, and the two things that
 * must never happen: a request with no result (lost) or a result for a request id twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrostlineClient } from '../../client/client.js';
import { RequestTimeoutError } from '../../client/errors.js';
import { FrostlineError } from '../../ports/errors.js';
import { utf8ToBytes } from '../../protocol/encoding.js';
import { LocalCluster } from '../cluster.js';
import type { Coordinator } from '../../protocol/coordinator.js';
import { deriveSessionId } from '../../protocol/envelope.js';
import { verifiesWithNodeCrypto } from './invariants.js';
import { pool } from './sessions.js';
import { percentile } from '../percentile.js';

export interface LoadRow {
  readonly target: 'local' | 'aws';
  readonly inFlight: number;
  readonly requests: number;
  readonly seconds: number;
  readonly signaturesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failures: number;
  readonly failuresByCode: Readonly<Record<string, number>>;
  /** Requests the SDK gave up on (`--timeout`): failures, counted in `failures` too. */
  readonly timedOut: number;
  /** Timed-out requests the coordinator has no session for at all, after the level settles. Must be 0. */
  readonly lost: number;
  /** Timed-out requests whose session exists but had not finished when the level ended (late, not lost). */
  readonly unfinished: number;
  /** Results marked duplicate, or request ids answered twice, though none was repeated. Must be 0. */
  readonly duplicated: number;
  /** Signatures node:crypto rejects. Must be 0. */
  readonly invalid: number;
}

export interface LoadOptions {
  readonly levels: readonly number[];
  /** Requests per level: at least this many, and at least the level. @default 20 */
  readonly minRequests?: number;
  /** Per-request SDK timeout. @default 300000 */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
  /** After each level: how long to let outstanding sessions land before counting them. @default 60000 */
  readonly settleMs?: number;
  /** The local cluster's thread mode (LocalClusterOptions.threads; `npm run load` uses 'workers'). @default 'single' */
  readonly threads?: 'single' | 'workers';
}

/** What the harness may ask the deployment about a request after its level. */
export interface LoadProbe {
  /** Waits (at most `ms`) for every queue to empty. */
  settle(ms: number): Promise<void>;
  /** The coordinator's stored session for the request: absent, still open, or finished. */
  sessionState(requestId: string): Promise<'absent' | 'open' | 'finished'>;
}

/** One level: `requests` signatures, `inFlight` at a time, through one SDK client. */
export async function loadLevel(
  target: LoadRow['target'],
  client: FrostlineClient,
  key: { keyId: string; publicKey: string },
  inFlight: number,
  requests: number,
  timeoutMs: number,
  probe: LoadProbe,
  settleMs: number,
): Promise<LoadRow> {
  const latencies: number[] = [];
  const failuresByCode: Record<string, number> = {};
  const answered = new Map<string, number>();
  const timedOutIds: string[] = [];
  let duplicated = 0;
  let invalid = 0;
  const run = `${Date.now().toString(36)}-${inFlight}`;
  const started = performance.now();
  await pool(
    Array.from({ length: requests }, (_, i) => i),
    inFlight,
    async (i) => {
      const requestId = `load-${run}-${i}`;
      const message = utf8ToBytes(`load ${run} ${i}`);
      const t0 = performance.now();
      try {
        const result = await client.sign({ keyId: key.keyId, message, requestId, timeoutMs });
        latencies.push(performance.now() - t0);
        answered.set(result.requestId, (answered.get(result.requestId) ?? 0) + 1);
        if (result.duplicate || result.requestId !== requestId) duplicated += 1;
        if (!verifiesWithNodeCrypto(key.publicKey, message, result.signatureHex)) invalid += 1;
      } catch (error) {
        if (error instanceof RequestTimeoutError) timedOutIds.push(requestId);
        const code = error instanceof FrostlineError ? error.code : 'untyped';
        failuresByCode[code] = (failuresByCode[code] ?? 0) + 1;
      }
    },
  );
  const seconds = (performance.now() - started) / 1000;
  // A timeout is the SDK giving up, not the system losing the request: look it up.
  if (timedOutIds.length > 0) await probe.settle(settleMs);
  let lost = 0;
  let unfinished = 0;
  for (const requestId of timedOutIds) {
    const state = await probe.sessionState(requestId);
    if (state === 'absent') lost += 1;
    else if (state === 'open') unfinished += 1;
  }
  duplicated += [...answered.values()].filter((n) => n > 1).length;
  return {
    target,
    inFlight,
    requests,
    seconds: Number(seconds.toFixed(1)),
    signaturesPerSecond: Number((latencies.length / seconds).toFixed(2)),
    p50Ms: Math.round(percentile(latencies, 0.5)),
    p99Ms: Math.round(percentile(latencies, 0.99)),
    failures: Object.values(failuresByCode).reduce((a, b) => a + b, 0),
    failuresByCode,
    timedOut: timedOutIds.length,
    lost,
    unfinished,
    duplicated,
    invalid,
  };
}

/** Load on the embedded cluster: three parties, one 2-of-3 key, each level in turn. */
export async function runLocalLoad(options: LoadOptions): Promise<LoadRow[]> {
  const log = options.log ?? (() => undefined);
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-load-'));
  const cluster = await LocalCluster.open({ dataDir, parties: 3, threads: options.threads ?? 'single' });
  try {
    const keygen = await cluster.keygen({ keyId: 'load', threshold: 2 });
    if (!keygen.ok || keygen.publicKey === undefined) throw new FrostlineError('load-setup', `keygen failed: ${keygen.error?.code ?? 'unknown'}`);
    cluster.serve();
    const client = cluster.client(undefined, { timeoutMs: options.timeoutMs ?? 300_000 });
    const probe: LoadProbe = {
      async settle(ms) {
        const deadline = performance.now() + ms;
        const busy = () => [...cluster.inboxes.values()].some((inbox) => inbox.queue.stats().visible + inbox.queue.stats().inFlight > 0);
        while (busy() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      },
      sessionState: (requestId) => sessionState({ getSession: (session) => cluster.getSession(session) }, cluster.initiator.id, requestId),
    };
    const rows: LoadRow[] = [];
    for (const level of options.levels) {
      const requests = Math.max(level, options.minRequests ?? 20);
      log(`local: ${requests} signatures, ${level} in flight`);
      rows.push(await loadLevel('local', client, { keyId: 'load', publicKey: keygen.publicKey }, level, requests, options.timeoutMs ?? 300_000, probe, options.settleMs ?? 60_000));
    }
    return rows;
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Where a request stands at the coordinator (its session id derives from initiator and request id). */
export async function sessionState(coordinator: Pick<Coordinator, 'getSession'>, initiatorId: string, requestId: string): Promise<'absent' | 'open' | 'finished'> {
  const session = await coordinator.getSession(deriveSessionId(initiatorId, requestId));
  if (session === undefined) return 'absent';
  return session.phase === 'done' || session.phase === 'failed' ? 'finished' : 'open';
}

/** A row breaks an invariant when anything was lost, duplicated or does not verify. */
export function loadViolations(rows: readonly LoadRow[]): string[] {
  return rows.flatMap((row) =>
    [
      row.lost > 0 ? `${row.target} ${row.inFlight} in flight: ${row.lost} requests lost` : '',
      row.duplicated > 0 ? `${row.target} ${row.inFlight} in flight: ${row.duplicated} duplicated results` : '',
      row.invalid > 0 ? `${row.target} ${row.inFlight} in flight: ${row.invalid} signatures do not verify` : '',
    ].filter((line) => line !== ''),
  );
}
