/**
 * `npm run bench -- --aws`: what one signature and one keygen cost through the AWS path, on
 * the emulator (moto). The real Lambda handlers run from SQS events (SqsEventSourceRunner),
 * every AWS call they make is counted by SDK middleware (lib/dev/aws-call-meter.ts), and the
 * list-price cost is computed from the counts with the prices below. Next to it, in the
 * same run, a single-key baseline: one KMS `Sign` behind the same kind of intake queue,
 * runner and handler stack. Latencies on a shared machine against an emulator are noisy:
 * read the ratio to the baseline, not the absolute numbers.
 *
 * Signatures, with nonce pools (one-round signing, lib/protocol/messages.ts): the first
 * after keygen finds the pools empty and runs two rounds (its own column: the fallback), and
 * has the coordinator ask every party for a batch; the later ones run one round. Refill work (`pool.refill`,
 * `pool.batch`) is counted by message type, apart from the signature it was drained in, and
 * reported per batch; the headline figures are per signature AMORTISED: a steady signature
 * plus refill per batch × threshold / batchSize. Without pools every column shows two rounds.
 *
 * Env: FROSTLINE_BENCH_AWS_SIGNATURES (steady signatures after the first, default 5),
 * FROSTLINE_BENCH_AWS_DELEGATED=0 (no delegated keys), FROSTLINE_EMULATOR_ENDPOINT (reuse a
 * running moto instead of starting one).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../lib/adapters/aws/clients.js';
import { KmsKeyVault } from '../lib/adapters/aws/kms-key-vault.js';
import { SqsTransport } from '../lib/adapters/aws/sqs-transport.js';
import { Initiator } from '../lib/client/initiator.js';
import { AwsCallMeter, type NodeUsage, UNTYPED_MESSAGE, type OperationCounts, scaleUsage, sumCounts, sumUsage } from '../lib/dev/aws-call-meter.js';
import { DEV_REGION, DevDeployment } from '../lib/dev/dev-deployment.js';
import { startEmulator } from '../lib/dev/emulator.js';
import { percentile } from '../lib/dev/percentile.js';
import { createIdentityKey, createQueueWithDeadLetters } from '../lib/dev/provision.js';
import { SqsEventSourceRunner } from '../lib/dev/sqs-event-source-runner.js';
import { createInboxHandler } from '../lib/lambda/inbox-handler.js';
import { METRICS_NAMESPACE } from '../lib/lambda/observability.js';
import { systemClock } from '../lib/ports/clock.js';
import { IdentityAlgorithm } from '../lib/ports/key-vault.js';
import { bytesToHex, utf8ToBytes } from '../lib/protocol/encoding.js';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL } from '../lib/protocol/directory.js';
import { MessageType } from '../lib/protocol/messages.js';

/** The bench's key: 2-of-3. A signature takes one pool nonce from each of its `BENCH_THRESHOLD` signers. */
export const BENCH_THRESHOLD = 2;

/**
 * List prices, US East (N. Virginia), USD, as published on 2026-12-02:
 * - KMS (https://aws.amazon.com/kms/pricing/): $0.03 per 10,000 symmetric requests
 *   (GenerateDataKey, Decrypt, Encrypt); $0.15 per 10,000 asymmetric requests other than
 *   RSA 2048 (Sign with ECC_NIST_P256 or ECC_NIST_EDWARDS25519; GetPublicKey alike).
 * - DynamoDB on demand (https://aws.amazon.com/dynamodb/pricing/on-demand/): $0.625 per
 *   million write request units, $0.125 per million read request units. A strongly
 *   consistent read of up to 4 KB is 1 RRU, a write of up to 1 KB is 1 WRU, transactional
 *   reads and writes cost twice that.
 * - SQS (https://aws.amazon.com/sqs/pricing/): standard queue, $0.40 per million requests
 *   (64 KB each). Charged here: each send, plus one receive and one delete per message
 *   (the event-source mapping batches, so this is an upper bound; idle polls are not
 *   per-signature).
 * - Lambda (https://aws.amazon.com/lambda/pricing/): $0.20 per million requests, x86
 *   $0.0000166667 per GB-second; one request per message (batch size 1, an upper bound),
 *   GB-s from the measured handling time at the configured memory (party 1,024 MB, coordinator
 *   512 MB: cdk/party-stack.ts, cdk/constructs/queue-handler.ts). Emulator handling times are
 *   longer than Lambda's (moto is slower than AWS), so this term is an upper bound too.
 * Free tiers are ignored.
 */
export const PRICES = {
  kmsSymmetricPerRequest: 0.03 / 10_000,
  kmsAsymmetricPerRequest: 0.15 / 10_000,
  dynamoWritePerUnit: 0.625 / 1e6,
  dynamoReadPerUnit: 0.125 / 1e6,
  sqsPerRequest: 0.4 / 1e6,
  lambdaPerRequest: 0.2 / 1e6,
  lambdaPerGbSecond: 0.0000166667,
  partyMemoryGb: 1,
  coordinatorMemoryGb: 0.5,
} as const;

const ASYMMETRIC_KMS = new Set(['Sign', 'Verify', 'GetPublicKey']);

export interface CostBreakdown {
  readonly kms: number;
  readonly dynamodb: number;
  readonly sqs: number;
  readonly lambda: number;
  readonly total: number;
}

function memoryGb(node: string): number {
  return /^p\d+$/.test(node) ? PRICES.partyMemoryGb : PRICES.coordinatorMemoryGb;
}

/**
 * List price of the usage of one run, from its counts. `handlingTime: false` leaves out the
 * one term priced from a measured time (Lambda GB-seconds): what a test can assert.
 */
export function costOf(nodes: ReadonlyMap<string, NodeUsage>, options: { handlingTime?: boolean } = {}): CostBreakdown {
  const timed = options.handlingTime ?? true;
  let kms = 0;
  let dynamodb = 0;
  let sqs = 0;
  let lambda = 0;
  for (const [node, usage] of nodes) {
    for (const [op, n] of Object.entries(usage.calls.kms)) kms += n * (ASYMMETRIC_KMS.has(op) ? PRICES.kmsAsymmetricPerRequest : PRICES.kmsSymmetricPerRequest);
    dynamodb += usage.readRequestUnits * PRICES.dynamoReadPerUnit + usage.writeRequestUnits * PRICES.dynamoWritePerUnit;
    const sends = usage.calls.sqs.SendMessage ?? 0;
    sqs += (sumCounts(usage.calls.sqs) + 2 * sends) * PRICES.sqsPerRequest;
    lambda += usage.invocations * PRICES.lambdaPerRequest + (timed ? (usage.handlerMs / 1000) * memoryGb(node) * PRICES.lambdaPerGbSecond : 0);
  }
  return { kms, dynamodb, sqs, lambda, total: kms + dynamodb + sqs + lambda };
}

/** What one operation (a signature, a keygen) took: hops, calls by service and operation, units, nodes. */
export interface RunUsage {
  readonly hops: number;
  readonly latencyMs: number;
  readonly nodes: ReadonlyMap<string, NodeUsage>;
  /** Handling time by message type handled (refill work excluded): where the latency goes. */
  readonly handling?: ReadonlyMap<string, { readonly invocations: number; readonly handlerMs: number }>;
}

export interface UsageSummary {
  readonly hops: number;
  readonly calls: { kms: number; dynamodb: number; sqs: number };
  readonly operations: { kms: OperationCounts; dynamodb: OperationCounts; sqs: OperationCounts };
  readonly perNode: Record<string, { kms: OperationCounts; dynamodb: OperationCounts; sqs: OperationCounts }>;
  readonly requestUnits: { read: number; write: number };
  readonly lambdaInvocations: number;
  readonly costUsd: CostBreakdown;
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function meanCounts(runs: readonly OperationCounts[]): OperationCounts {
  const ops = new Set(runs.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...ops].sort().map((op) => [op, round(mean(runs.map((r) => r[op] ?? 0)))]));
}

/** The mean over runs of everything counted. */
export function summarize(runs: readonly RunUsage[]): UsageSummary {
  const totals = runs.map((run) => sumUsage(run.nodes.values()));
  const nodeNames = [...new Set(runs.flatMap((r) => [...r.nodes.keys()]))].sort();
  const perNode = Object.fromEntries(
    nodeNames.map((node) => {
      const of = (service: 'kms' | 'dynamodb' | 'sqs') => meanCounts(runs.map((r) => r.nodes.get(node)?.calls[service] ?? {}));
      return [node, { kms: of('kms'), dynamodb: of('dynamodb'), sqs: of('sqs') }];
    }),
  );
  const costs = runs.map((r) => costOf(r.nodes));
  const meanCost = (k: keyof CostBreakdown) => mean(costs.map((c) => c[k]));
  const operations = {
    kms: meanCounts(totals.map((t) => t.calls.kms)),
    dynamodb: meanCounts(totals.map((t) => t.calls.dynamodb)),
    sqs: meanCounts(totals.map((t) => t.calls.sqs)),
  };
  return {
    hops: round(mean(runs.map((r) => r.hops))),
    calls: { kms: round(sumCounts(operations.kms)), dynamodb: round(sumCounts(operations.dynamodb)), sqs: round(operations.sqs.SendMessage ?? 0) },
    operations,
    perNode,
    requestUnits: { read: round(mean(totals.map((t) => t.readRequestUnits))), write: round(mean(totals.map((t) => t.writeRequestUnits))) },
    lambdaInvocations: round(mean(totals.map((t) => t.invocations))),
    costUsd: { kms: meanCost('kms'), dynamodb: meanCost('dynamodb'), sqs: meanCost('sqs'), lambda: meanCost('lambda'), total: meanCost('total') },
  };
}

/** Long-polls a result queue until `match` accepts a body; deletes what it read. */
async function awaitResult(sqs: SQSClient, queueUrl: string, match: (body: string) => boolean, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const messages = output.Messages ?? [];
    if (messages.length === 0) continue;
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    const found = messages.find((m) => match(m.Body ?? ''));
    if (found !== undefined) return found.Body ?? '';
  }
  throw new Error(`no result on ${queueUrl} within ${timeoutMs} ms`);
}

function snapshot(meter: AwsCallMeter): Map<string, NodeUsage> {
  return new Map([...meter.nodes].map(([node, usage]) => [node, structuredClone(usage)]));
}

/**
 * Nonce-pool refills (one-round signing): the coordinator's `pool.refill`, a party's
 * handling of it (its batch sent back included) and the coordinator's intake of the
 * `pool.batch`. Drained during whichever signature asked for it, paid for by the next
 * `batchSize` nonces of that party: counted apart (`AwsMeasurement.refill`).
 */
export const REFILL_WORK: ReadonlySet<string> = new Set([MessageType.poolRefill, MessageType.poolBatch]);

/** What the meter counted since its last reset, split into the operation's own work and refill work. */
function split(meter: AwsCallMeter): { own: Map<string, NodeUsage>; refill: Map<string, NodeUsage>; batches: number } {
  const own = new Map<string, NodeUsage[]>();
  const refill = new Map<string, NodeUsage[]>();
  let batches = 0;
  for (const [work, nodes] of meter.byWork) {
    const into = REFILL_WORK.has(work) ? refill : own;
    for (const [node, usage] of nodes) into.set(node, [...(into.get(node) ?? []), usage]);
    // One batch per `pool.batch` the coordinator handled (redeliveries aside, which a drained run has none of).
    if (work === MessageType.poolBatch) for (const usage of nodes.values()) batches += usage.invocations;
  }
  const summed = (byNode: Map<string, NodeUsage[]>) => new Map([...byNode].map(([node, usages]) => [node, sumUsage(usages)]));
  return { own: summed(own), refill: summed(refill), batches };
}

/** Invocations and handling time per message type handled, summed over nodes, refill work left out. */
function handlingByType(meter: AwsCallMeter): Map<string, { invocations: number; handlerMs: number }> {
  const byType = new Map<string, { invocations: number; handlerMs: number }>();
  for (const [work, nodes] of meter.byWork) {
    if (REFILL_WORK.has(work)) continue;
    const usage = sumUsage(nodes.values());
    if (usage.invocations > 0) byType.set(work, { invocations: usage.invocations, handlerMs: usage.handlerMs });
  }
  return byType;
}

/**
 * Mean handling time of one message of each type over `runs` (ms, rounded), and how many
 * of each one run handles: with the latency, what is left for queues and polling.
 */
export function handlingTimes(runs: readonly RunUsage[]): Record<string, { perRun: number; meanMs: number }> {
  const totals = new Map<string, { invocations: number; handlerMs: number }>();
  for (const run of runs) {
    for (const [type, h] of run.handling ?? []) {
      const total = totals.get(type) ?? { invocations: 0, handlerMs: 0 };
      totals.set(type, { invocations: total.invocations + h.invocations, handlerMs: total.handlerMs + h.handlerMs });
    }
  }
  return Object.fromEntries(
    [...totals].map(([type, t]) => [type, { perRun: round(t.invocations / Math.max(1, runs.length)), meanMs: Math.round(t.handlerMs / Math.max(1, t.invocations)) }]),
  );
}

/** Usage of several runs added up per node. */
function addNodes(...all: readonly ReadonlyMap<string, NodeUsage>[]): Map<string, NodeUsage> {
  const names = [...new Set(all.flatMap((nodes) => [...nodes.keys()]))].sort();
  return new Map(names.map((node) => [node, sumUsage(all.flatMap((nodes) => nodes.get(node) ?? []))]));
}

function scaleNodes(nodes: ReadonlyMap<string, NodeUsage>, factor: number): Map<string, NodeUsage> {
  return new Map([...nodes].map(([node, usage]) => [node, scaleUsage(usage, factor)]));
}

/** The refill work of a measurement: everything counted towards REFILL_WORK, and how many batches it made. */
export interface RefillUsage {
  readonly nodes: ReadonlyMap<string, NodeUsage>;
  readonly batches: number;
}

export interface AwsMeasurement {
  readonly keygen: RunUsage;
  /** The first signature after keygen (pools empty: two rounds), its refill work excluded. */
  readonly firstSignature: RunUsage;
  /** The signatures after it (pools filled: one round), refill work excluded. */
  readonly signatures: readonly RunUsage[];
  /** The refill work of all signature runs together. */
  readonly refill: RefillUsage;
  readonly baseline: readonly RunUsage[];
}

/**
 * The mean steady signature plus its share of the refills: a batch of `batchSize` nonces of
 * one party serves `batchSize` signatures that party signs, and each signature takes one
 * nonce from each of its `threshold` signers, so a signature costs `threshold / batchSize`
 * batches. Hops and latency are the steady signature's (refills are off the request path).
 */
export function amortised(steady: readonly RunUsage[], refill: RefillUsage, threshold: number, batchSize: number): RunUsage {
  const mean = scaleNodes(addNodes(...steady.map((run) => run.nodes)), steady.length === 0 ? 0 : 1 / steady.length);
  const perBatch = refill.batches === 0 ? new Map<string, NodeUsage>() : scaleNodes(refill.nodes, 1 / refill.batches);
  return {
    hops: steady.length === 0 ? Number.NaN : steady.reduce((sum, run) => sum + run.hops, 0) / steady.length,
    latencyMs: steady.length === 0 ? Number.NaN : steady.reduce((sum, run) => sum + run.latencyMs, 0) / steady.length,
    nodes: addNodes(mean, scaleNodes(perBatch, threshold / batchSize)),
  };
}

/**
 * Keygen; the first 2-of-3 signature after it (nonce pools empty: two rounds, and every
 * party asked for a batch); `signatures` more (one round once pools are filled); then as
 * many single-key signatures. One at a time, each drained before the next so that its
 * counts include all the work it caused (a two-round signature's thrown-away third
 * commitment too); refill work is split off by message type (REFILL_WORK).
 */
export async function measureAwsPath(options: {
  endpoint: string;
  signatures: number;
  log?: (line: string) => void;
  /** Delegated message-signing keys (the AWS wiring's default). @default true */
  delegatedKeys?: boolean;
}): Promise<AwsMeasurement> {
  const { endpoint } = options;
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'; // no EMF lines on stdout
  const log = options.log ?? (() => undefined);
  const keyDir = await mkdtemp(join(tmpdir(), 'frostline-bench-aws-'));
  // The coordinator's `pool.refill` is sent while it handles a `sign.request`: refill work all the same.
  const meter = new AwsCallMeter({ sendsCountAs: [MessageType.poolRefill] });
  const dev = await DevDeployment.create({
    endpoint,
    parties: ['p1', 'p2', 'p3'],
    keyDir,
    ...(options.delegatedKeys !== undefined ? { delegatedKeys: options.delegatedKeys } : {}),
    hooks: { configureClients: (node, clients) => meter.instrument(node, clients), processor: (node, processor) => meter.wrap(node, processor) },
  });
  const runners: SqsEventSourceRunner[] = [];
  try {
    const app = dev.initiator('app');
    // The initiator's client is counted too (as `initiator`): its request is one of the SQS sends.
    const initiatorClients = createAwsClients({ endpoint, region: DEV_REGION, accountId: app.accountId });
    meter.instrument('initiator', initiatorClients);
    const initiatorSqs = initiatorClients.sqs;
    const initiator = new Initiator({
      id: app.id,
      vault: app.vault,
      transport: new SqsTransport(initiatorSqs, () => dev.coordinator.requestQueueUrl),
      clock: systemClock,
      directory: dev.directory,
    });
    const resultSqs = dev.coordinator.account.clients.sqs;
    const refills: RefillUsage[] = [];
    const run = async (request: () => Promise<string>): Promise<RunUsage> => {
      await dev.drain();
      meter.reset();
      const started = performance.now();
      const session = await request();
      const body = await awaitResult(resultSqs, app.resultQueueUrl, (raw) => initiator.openResult(raw).session === session);
      const latencyMs = performance.now() - started;
      const result = initiator.openResult(body);
      if (!result.body.ok) throw new Error(`${result.type} failed: ${result.body.error?.message ?? 'no reason'}`);
      await dev.drain();
      const { own, refill, batches } = split(meter);
      refills.push({ nodes: refill, batches });
      return { hops: meter.depthOf(body) ?? Number.NaN, latencyMs, nodes: own, handling: handlingByType(meter) };
    };
    const sign = (i: number) => run(() => initiator.requestSignature({ keyId: 'bench', message: utf8ToBytes(`aws bench message ${i}`) }));

    log('aws bench: keygen 2-of-3...');
    const keygen = await run(() => initiator.requestKeygen({ keyId: 'bench', threshold: BENCH_THRESHOLD, parties: ['p1', 'p2', 'p3'] }));
    refills.length = 0; // a keygen asks for no refill; only signatures' count
    log('aws bench: first signature (nonce pools empty: two rounds)...');
    const firstSignature = await sign(0);
    const signatures: RunUsage[] = [];
    for (let i = 1; i <= options.signatures; i++) {
      log(`aws bench: signature ${i}/${options.signatures} after the first...`);
      signatures.push(await sign(i));
    }
    const refill: RefillUsage = { nodes: addNodes(...refills.map((r) => r.nodes)), batches: refills.reduce((sum, r) => sum + r.batches, 0) };

    // The baseline: one KMS Sign per request, behind the same queue settings, runner and handler stack.
    const account = dev.coordinator.account;
    const suffix = account.tableName.slice(-6);
    const [requests, results, key] = await Promise.all([
      createQueueWithDeadLetters(account.clients.sqs, `bench-single-key-requests-${suffix}`),
      createQueueWithDeadLetters(account.clients.sqs, `bench-single-key-results-${suffix}`),
      createIdentityKey(account.clients.kms, IdentityAlgorithm.ed25519, 'frostline bench single key', endpoint),
    ]);
    const clients = createAwsClients({ endpoint, region: DEV_REGION, accountId: account.accountId });
    meter.instrument('baseline', clients);
    const signer = new KmsKeyVault({ client: clients.kms, masterKeyId: account.masterKeyId, identityKeyId: key.keyId, identityAlgorithm: key.algorithm });
    const processor = meter.wrap('baseline', {
      async handle(raw) {
        const request = JSON.parse(raw) as { id: string; message: string };
        const signature = await signer.signIdentity(Buffer.from(request.message, 'hex'));
        await clients.sqs.send(new SendMessageCommand({ QueueUrl: results.url, MessageBody: JSON.stringify({ id: request.id, signature: bytesToHex(signature) }) }));
        return { status: 'processed', type: 'single-key.sign', session: request.id };
      },
    });
    const handler = createInboxHandler({
      processor,
      logger: new Logger({ serviceName: 'single-key', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'single-key' }),
    });
    const runner = new SqsEventSourceRunner({ sqs: account.clients.sqs, queueUrl: requests.url, handler, region: DEV_REGION, retryVisibilitySeconds: 0 });
    runners.push(runner);
    runner.start();
    const baseline: RunUsage[] = [];
    for (let i = 0; i < options.signatures; i++) {
      log(`aws bench: single-key signature ${i + 1}/${options.signatures}...`);
      meter.reset();
      const id = `single-${i}`;
      const body = JSON.stringify({ id, message: bytesToHex(utf8ToBytes(`aws bench message ${i}`)) });
      const started = performance.now();
      await initiatorSqs.send(new SendMessageCommand({ QueueUrl: requests.url, MessageBody: body }));
      const result = await awaitResult(account.clients.sqs, results.url, (raw) => raw.includes(`"id":"${id}"`));
      baseline.push({ hops: meter.depthOf(result) ?? Number.NaN, latencyMs: performance.now() - started, nodes: snapshot(meter), handling: handlingByType(meter) });
    }
    return { keygen, firstSignature, signatures, refill, baseline };
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
    await dev.close();
    await rm(keyDir, { recursive: true, force: true });
  }
}

function latency(runs: readonly RunUsage[]): { p50: number; p99: number } {
  const times = runs.map((r) => r.latencyMs).sort((a, b) => a - b);
  return { p50: Math.round(percentile(times, 0.5)), p99: Math.round(percentile(times, 0.99)) };
}

const perMillion = (usd: number) => round(usd * 1e6, 2);
const describeOps = (ops: OperationCounts) => Object.entries(ops).map(([op, n]) => `${n} ${op}`).join(', ');

function withoutHops(summary: UsageSummary): Omit<UsageSummary, 'hops'> {
  const { hops: _hops, ...rest } = summary;
  return rest;
}

/** The figures a bench run reports, from a measurement (also what the call-count test asserts). */
export function awsFigures(measured: AwsMeasurement, batchSize = DEFAULT_NONCE_POOL.batchSize) {
  const steady = summarize(measured.signatures);
  const twoRound = summarize([measured.firstSignature]);
  const perBatchNodes = measured.refill.batches === 0 ? new Map<string, NodeUsage>() : scaleNodes(measured.refill.nodes, 1 / measured.refill.batches);
  // Hops do not apply: a refill is off the request path.
  const refill = summarize([{ hops: Number.NaN, latencyMs: Number.NaN, nodes: perBatchNodes }]);
  const amortisedRun = amortised(measured.signatures, measured.refill, BENCH_THRESHOLD, batchSize);
  const signature = summarize([amortisedRun]);
  const single = summarize(measured.baseline);
  return { steady, twoRound, refill, signature, single, batchesPerSignature: BENCH_THRESHOLD / batchSize };
}

/** Runs the measurement, prints the table (stderr-free), returns the JSON object. */
export async function runAwsBench(options: { endpoint?: string; signatures?: number; delegatedKeys?: boolean } = {}): Promise<Record<string, unknown>> {
  const signatures = options.signatures ?? Number(process.env.FROSTLINE_BENCH_AWS_SIGNATURES ?? 5);
  // FROSTLINE_BENCH_AWS_DELEGATED=0 measures the plain path: every envelope a KMS Sign.
  const delegatedKeys = options.delegatedKeys ?? process.env.FROSTLINE_BENCH_AWS_DELEGATED !== '0';
  let endpoint = options.endpoint ?? process.env.FROSTLINE_EMULATOR_ENDPOINT;
  let stop: (() => Promise<void>) | undefined;
  if (endpoint === undefined || endpoint === '') {
    const emulator = await startEmulator({ log: (line) => process.stderr.write(`${line}\n`) });
    endpoint = emulator.endpoint;
    stop = () => emulator.stop();
  }
  try {
    const measured = await measureAwsPath({ endpoint, signatures, delegatedKeys, log: (line) => process.stderr.write(`${line}\n`) });
    const batchSize = DEFAULT_NONCE_POOL.batchSize;
    // With delegated keys, KMS Sign calls during signing are certificates: one per node on its
    // first signature (a cold container), then one per node every half certificate lifetime.
    const signsPerRun = [measured.firstSignature, ...measured.signatures].map((run) => callsOf(run).kms.Sign ?? 0);
    const { steady, twoRound, refill, signature, single, batchesPerSignature } = awsFigures(measured, batchSize);
    const keygen = summarize([measured.keygen]);
    const singleKeySignUsd = PRICES.kmsAsymmetricPerRequest;
    const amortisedNodes = amortised(measured.signatures, measured.refill, BENCH_THRESHOLD, batchSize).nodes;
    const steadyLatency = latency(measured.signatures);
    const twoRoundLatencyMs = Math.round(measured.firstSignature.latencyMs);
    const singleLatency = latency(measured.baseline);
    const output = {
      emulator: 'moto',
      signatures,
      delegatedKeys: { enabled: delegatedKeys, kmsSignPerSignature: signsPerRun },
      prices: PRICES,
      // Per signature, amortised: a steady signature plus its share of the refills (threshold / batchSize batches).
      signature: {
        ...signature,
        latencyMs: steadyLatency,
        costPerMillionUsd: perMillion(signature.costUsd.total),
        // What users weigh us against: one KMS Sign per signature.
        costRatioToSingleKey: round(signature.costUsd.total / singleKeySignUsd),
        // The same without Lambda duration (the one term priced from a measured time): what the counts alone cost.
        costRatioToSingleKeyFromCounts: round(costOf(amortisedNodes, { handlingTime: false }).total / singleKeySignUsd),
        // Against the whole single-key path (its queues and Lambda too).
        costRatioToSingleKeyPath: round(signature.costUsd.total / single.costUsd.total),
        latencyRatioToSingleKey: round(steadyLatency.p50 / singleLatency.p50),
        // Per message type handled in a steady signature: how many, and the mean time each took.
        handling: handlingTimes(measured.signatures),
        amortisation: { threshold: BENCH_THRESHOLD, batchSize, batchesPerSignature },
        // The signatures after the first, refill work excluded (one round once pools are filled).
        steady: { ...steady, latencyMs: steadyLatency, costPerMillionUsd: perMillion(steady.costUsd.total) },
        // The first signature after keygen: pools empty, two rounds (the fallback), delegated-key certificates included.
        twoRound: {
          ...twoRound,
          latencyMs: twoRoundLatencyMs,
          costPerMillionUsd: perMillion(twoRound.costUsd.total),
          costRatioToSingleKey: round(twoRound.costUsd.total / singleKeySignUsd),
          latencyRatioToSingleKey: round(twoRoundLatencyMs / singleLatency.p50),
        },
      },
      // One batch of `batchSize` nonces for one party: pool.refill sent, handled, pool.batch taken in.
      refill: { ...withoutHops(refill), batches: measured.refill.batches, batchSize, costPerMillionUsd: perMillion(refill.costUsd.total) },
      keygen: { ...keygen, latencyMs: Math.round(measured.keygen.latencyMs), costPerMillionUsd: perMillion(keygen.costUsd.total) },
      singleKey: { ...single, latencyMs: singleLatency, costPerMillionUsd: perMillion(single.costUsd.total), kmsSignPerMillionUsd: perMillion(singleKeySignUsd) },
    };
    const noBatches = measured.refill.batches === 0;
    console.log(
      `AWS path on the emulator (moto), 2-of-3: the first signature after keygen, then the mean of ${signatures} more; latencies are noisy (shared machine, emulator)`,
    );
    const columns = {
      first: 'pool empty: two rounds',
      steady: 'steady',
      refill: 'refill per batch',
      amortised: 'amortised per signature',
      keygen: 'keygen',
      single: 'single-key',
    } as const;
    const row = (of: (s: UsageSummary) => string | number) => ({
      [columns.first]: of(twoRound),
      [columns.steady]: of(steady),
      [columns.refill]: noBatches ? '-' : of(refill),
      [columns.amortised]: of(signature),
      [columns.keygen]: of(keygen),
      [columns.single]: of(single),
    });
    console.table({
      'queue hops, request → result': { ...row((s) => s.hops), [columns.refill]: '-' },
      'KMS calls': row((s) => s.calls.kms),
      'DynamoDB calls': row((s) => s.calls.dynamodb),
      'DynamoDB RRU / WRU': row((s) => `${s.requestUnits.read} / ${s.requestUnits.write}`),
      'SQS sends': row((s) => s.calls.sqs),
      'Lambda invocations': row((s) => s.lambdaInvocations),
      'USD per million': row((s) => perMillion(s.costUsd.total)),
      'latency p50 / p99 ms': {
        [columns.first]: String(twoRoundLatencyMs),
        [columns.steady]: `${steadyLatency.p50} / ${steadyLatency.p99}`,
        [columns.refill]: '-',
        [columns.amortised]: `${steadyLatency.p50} / ${steadyLatency.p99}`,
        [columns.keygen]: String(Math.round(measured.keygen.latencyMs)),
        [columns.single]: `${singleLatency.p50} / ${singleLatency.p99}`,
      },
    });
    console.log(
      noBatches
        ? 'no nonce-pool refill happened (pools off or not built): every signature ran two rounds, amortised = steady'
        : `amortised = steady + refill per batch × ${BENCH_THRESHOLD} / ${batchSize} (each signature takes one nonce from each of its ${BENCH_THRESHOLD} signers; a batch holds ${batchSize} of one party's); ${measured.refill.batches} batches measured`,
    );
    console.log(
      delegatedKeys
        ? `delegated message keys: KMS Sign per signature in order ${signsPerRun.join(', ')} (certificates: one per node when cold, renewed every half lifetime, ${DEFAULT_LIMITS.delegatedKeyLifetimeMs ?? 0} ms)`
        : 'delegated message keys off: every envelope is a KMS Sign',
    );
    console.log(`two rounds:    KMS ${describeOps(twoRound.operations.kms)}; DynamoDB ${describeOps(twoRound.operations.dynamodb)}; SQS ${describeOps(twoRound.operations.sqs)}`);
    console.log(`steady:        KMS ${describeOps(steady.operations.kms)}; DynamoDB ${describeOps(steady.operations.dynamodb)}; SQS ${describeOps(steady.operations.sqs)}`);
    if (!noBatches) console.log(`per batch:     KMS ${describeOps(refill.operations.kms)}; DynamoDB ${describeOps(refill.operations.dynamodb)}; SQS ${describeOps(refill.operations.sqs)}`);
    console.log(`per keygen:    KMS ${describeOps(keygen.operations.kms)}; DynamoDB ${describeOps(keygen.operations.dynamodb)}; SQS ${describeOps(keygen.operations.sqs)}`);
    const c = signature.costUsd;
    console.log(
      `cost per million signatures (amortised): $${perMillion(c.total)} (KMS $${perMillion(c.kms)}, DynamoDB $${perMillion(c.dynamodb)}, SQS $${perMillion(c.sqs)}, Lambda $${perMillion(c.lambda)}) = ${output.signature.costRatioToSingleKey}× one KMS Sign ($${perMillion(singleKeySignUsd)} per million; ${output.signature.costRatioToSingleKeyFromCounts}× without Lambda duration), ${output.signature.costRatioToSingleKeyPath}× the single-key path ($${output.singleKey.costPerMillionUsd}); two rounds: $${output.signature.twoRound.costPerMillionUsd} = ${output.signature.twoRound.costRatioToSingleKey}×`,
    );
    console.log(
      `latency p50: ${steadyLatency.p50} ms vs single-key ${singleLatency.p50} ms = ${output.signature.latencyRatioToSingleKey}×; two rounds (first signature, cold): ${twoRoundLatencyMs} ms = ${output.signature.twoRound.latencyRatioToSingleKey}×`,
    );
    const handled = Object.entries(output.signature.handling).map(([type, h]) => `${type} ${h.meanMs} ms${h.perRun !== 1 ? ` (×${h.perRun})` : ''}`);
    console.log(`handling per message, steady (mean; the rest of the latency is queues and polling): ${handled.join(', ')}; single key ${handlingTimes(measured.baseline)[UNTYPED_MESSAGE]?.meanMs ?? '?'} ms`);
    console.log(
      'prices (USD, us-east-1 list, free tiers ignored): KMS $0.03/10k symmetric, $0.15/10k asymmetric Sign (aws.amazon.com/kms/pricing); DynamoDB on demand $0.625/M WRU, $0.125/M RRU, transactions 2× (aws.amazon.com/dynamodb/pricing/on-demand); SQS standard $0.40/M requests, send+receive+delete per message (aws.amazon.com/sqs/pricing); Lambda $0.20/M requests + $0.0000166667/GB-s, party 1024 MB, coordinator 512 MB (aws.amazon.com/lambda/pricing)',
    );
    return output;
  } finally {
    await stop?.();
  }
}

/** One run's calls by service and operation, summed over nodes, and its hops: what the call-count test pins. */
export function callsOf(run: RunUsage): { hops: number; kms: OperationCounts; dynamodb: OperationCounts; sqs: OperationCounts } {
  const s = summarize([run]);
  return { hops: run.hops, ...s.operations };
}
