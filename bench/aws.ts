/**
 * `npm run bench -- --aws`: what one signature and one keygen cost through the AWS path, on
 * the emulator (moto). The real Lambda handlers run from SQS events (SqsEventSourceRunner),
 * every AWS call they make is counted by SDK middleware (lib/dev/aws-call-meter.ts), and the
 * list-price cost is computed from the counts with the prices below. Next to it, in the
 * same run, a single-key baseline: one KMS `Sign` behind the same kind of intake queue,
 * runner and handler stack. Latencies on a shared machine against an emulator are noisy:
 * read the ratio to the baseline, not the absolute numbers.
 *
 * Env: FROSTLINE_BENCH_AWS_SIGNATURES (default 5), FROSTLINE_EMULATOR_ENDPOINT (reuse a
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
import { AwsCallMeter, type NodeUsage, type OperationCounts, sumCounts, sumUsage } from '../lib/dev/aws-call-meter.js';
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
import { DEFAULT_LIMITS } from '../lib/protocol/directory.js';

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

/** List price of the usage of one run, from its counts. */
export function costOf(nodes: ReadonlyMap<string, NodeUsage>): CostBreakdown {
  let kms = 0;
  let dynamodb = 0;
  let sqs = 0;
  let lambda = 0;
  for (const [node, usage] of nodes) {
    for (const [op, n] of Object.entries(usage.calls.kms)) kms += n * (ASYMMETRIC_KMS.has(op) ? PRICES.kmsAsymmetricPerRequest : PRICES.kmsSymmetricPerRequest);
    dynamodb += usage.readRequestUnits * PRICES.dynamoReadPerUnit + usage.writeRequestUnits * PRICES.dynamoWritePerUnit;
    const sends = usage.calls.sqs.SendMessage ?? 0;
    sqs += (sumCounts(usage.calls.sqs) + 2 * sends) * PRICES.sqsPerRequest;
    lambda += usage.invocations * PRICES.lambdaPerRequest + (usage.handlerMs / 1000) * memoryGb(node) * PRICES.lambdaPerGbSecond;
  }
  return { kms, dynamodb, sqs, lambda, total: kms + dynamodb + sqs + lambda };
}

/** What one operation (a signature, a keygen) took: hops, calls by service and operation, units, nodes. */
export interface RunUsage {
  readonly hops: number;
  readonly latencyMs: number;
  readonly nodes: ReadonlyMap<string, NodeUsage>;
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

export interface AwsMeasurement {
  readonly keygen: RunUsage;
  readonly signatures: readonly RunUsage[];
  readonly baseline: readonly RunUsage[];
}

/**
 * Keygen, then `signatures` 2-of-3 signatures, then as many single-key signatures, one at a
 * time; each drained before the next so that its counts include all the work it caused
 * (the third party's thrown-away commitment too).
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
  const meter = new AwsCallMeter();
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
      return { hops: meter.depthOf(body) ?? Number.NaN, latencyMs, nodes: snapshot(meter) };
    };

    log('aws bench: keygen 2-of-3...');
    const keygen = await run(() => initiator.requestKeygen({ keyId: 'bench', threshold: 2, parties: ['p1', 'p2', 'p3'] }));
    const signatures: RunUsage[] = [];
    for (let i = 0; i < options.signatures; i++) {
      log(`aws bench: signature ${i + 1}/${options.signatures}...`);
      signatures.push(await run(() => initiator.requestSignature({ keyId: 'bench', message: utf8ToBytes(`aws bench message ${i}`) })));
    }

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
      baseline.push({ hops: meter.depthOf(result) ?? Number.NaN, latencyMs: performance.now() - started, nodes: snapshot(meter) });
    }
    return { keygen, signatures, baseline };
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
    // With delegated keys, KMS Sign calls during signing are certificates: one per node on its
    // first signature (a cold container), then one per node every half certificate lifetime.
    const signsPerRun = measured.signatures.map((run) => callsOf(run).kms.Sign ?? 0);
    const signature = summarize(measured.signatures);
    const keygen = summarize([measured.keygen]);
    const single = summarize(measured.baseline);
    const singleKeySignUsd = PRICES.kmsAsymmetricPerRequest;
    const signLatency = latency(measured.signatures);
    const singleLatency = latency(measured.baseline);
    const output = {
      emulator: 'moto',
      signatures,
      delegatedKeys: { enabled: delegatedKeys, kmsSignPerSignature: signsPerRun },
      prices: PRICES,
      signature: {
        ...signature,
        latencyMs: signLatency,
        costPerMillionUsd: perMillion(signature.costUsd.total),
        // What users weigh us against: one KMS Sign per signature.
        costRatioToSingleKey: round(signature.costUsd.total / singleKeySignUsd),
        // Against the whole single-key path (its queues and Lambda too).
        costRatioToSingleKeyPath: round(signature.costUsd.total / single.costUsd.total),
        latencyRatioToSingleKey: round(signLatency.p50 / singleLatency.p50),
      },
      keygen: { ...keygen, latencyMs: Math.round(measured.keygen.latencyMs), costPerMillionUsd: perMillion(keygen.costUsd.total) },
      singleKey: { ...single, latencyMs: singleLatency, costPerMillionUsd: perMillion(single.costUsd.total), kmsSignPerMillionUsd: perMillion(singleKeySignUsd) },
    };
    console.log(`AWS path on the emulator (moto), 2-of-3, mean of ${signatures} signatures; latencies are noisy (shared machine, emulator)`);
    console.table({
      'queue hops, request → result': { signature: signature.hops, keygen: keygen.hops, 'single-key': single.hops },
      'KMS calls': { signature: signature.calls.kms, keygen: keygen.calls.kms, 'single-key': single.calls.kms },
      'DynamoDB calls': { signature: signature.calls.dynamodb, keygen: keygen.calls.dynamodb, 'single-key': single.calls.dynamodb },
      'DynamoDB RRU / WRU': {
        signature: `${signature.requestUnits.read} / ${signature.requestUnits.write}`,
        keygen: `${keygen.requestUnits.read} / ${keygen.requestUnits.write}`,
        'single-key': `${single.requestUnits.read} / ${single.requestUnits.write}`,
      },
      'SQS sends': { signature: signature.calls.sqs, keygen: keygen.calls.sqs, 'single-key': single.calls.sqs },
      'Lambda invocations': { signature: signature.lambdaInvocations, keygen: keygen.lambdaInvocations, 'single-key': single.lambdaInvocations },
      'USD per million': { signature: perMillion(signature.costUsd.total), keygen: perMillion(keygen.costUsd.total), 'single-key': perMillion(single.costUsd.total) },
      'latency p50 / p99 ms': {
        signature: `${signLatency.p50} / ${signLatency.p99}`,
        keygen: String(Math.round(measured.keygen.latencyMs)),
        'single-key': `${singleLatency.p50} / ${singleLatency.p99}`,
      },
    });
    console.log(
      delegatedKeys
        ? `delegated message keys: KMS Sign per signature in order ${signsPerRun.join(', ')} (certificates: one per node when cold, renewed every half lifetime, ${DEFAULT_LIMITS.delegatedKeyLifetimeMs ?? 0} ms)`
        : 'delegated message keys off: every envelope is a KMS Sign',
    );
    console.log(`per signature: KMS ${describeOps(signature.operations.kms)}; DynamoDB ${describeOps(signature.operations.dynamodb)}; SQS ${describeOps(signature.operations.sqs)}`);
    console.log(`per keygen:    KMS ${describeOps(keygen.operations.kms)}; DynamoDB ${describeOps(keygen.operations.dynamodb)}; SQS ${describeOps(keygen.operations.sqs)}`);
    const c = signature.costUsd;
    console.log(
      `cost per million signatures: $${perMillion(c.total)} (KMS $${perMillion(c.kms)}, DynamoDB $${perMillion(c.dynamodb)}, SQS $${perMillion(c.sqs)}, Lambda $${perMillion(c.lambda)}) = ${output.signature.costRatioToSingleKey}× one KMS Sign ($${perMillion(singleKeySignUsd)} per million), ${output.signature.costRatioToSingleKeyPath}× the single-key path ($${output.singleKey.costPerMillionUsd})`,
    );
    console.log(`latency p50: ${signLatency.p50} ms vs single-key ${singleLatency.p50} ms = ${output.signature.latencyRatioToSingleKey}×`);
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
