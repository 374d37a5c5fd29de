/**
 * Counts every AWS call the handlers of a development deployment make, per node, service
 * and operation, with the DynamoDB request units and SQS requests they would be billed
 * for, and measures queue hops: how many messages, one after another, lie between a
 * request and a result. `npm run bench -- --aws` (bench/aws.ts) and the call-count test
 * (test/integration/aws-call-counts.test.ts) use it through `DevDeploymentHooks`.
 *
 * Hops: a message sent while a handler handles a message of depth d has depth d + 1; a
 * message sent outside any handler (the initiator's request) has depth 1. Depths are kept
 * by message body (every frostline body is a unique signed envelope), so the result's
 * depth is the number of sequential queue hops from request to result.
 *
 * Work: every call, invocation and handling time is also counted towards the envelope type
 * of the message being handled when it was made (`byWork`), so that work one operation
 * caused but another one pays for can be told apart: a nonce-pool refill (`pool.refill`,
 * `pool.batch`) drained during a signature is not that signature's cost. A send of a type
 * given in `sendsCountAs` counts towards the type it sends instead (the coordinator's
 * `pool.refill`, sent while it handles a `sign.request`, is refill work). Calls made outside
 * any handler (the initiator's request) count towards `OUTSIDE_HANDLERS`.
 *
 * Counted at the SDK's `initialize` step: one count per call, retries included in it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsClients } from '../adapters/aws/clients.js';
import type { InboxProcessor } from '../lambda/inbox-handler.js';
import { peekEnvelope } from '../lambda/envelope-peek.js';

export type AwsService = 'kms' | 'dynamodb' | 'sqs';

/** Calls by operation (`Sign`, `GetItem`, ...). */
export type OperationCounts = Record<string, number>;

export interface NodeUsage {
  readonly calls: Record<AwsService, OperationCounts>;
  /** DynamoDB read and write request units (on demand), from item sizes. */
  readRequestUnits: number;
  writeRequestUnits: number;
  /** Messages handled (Lambda invocations at batch size 1) and their handling time. */
  invocations: number;
  handlerMs: number;
}

type AttributeValue = Record<string, unknown>;

/** An item's size as DynamoDB bills it: attribute names plus values (approximate for numbers). */
export function itemSize(item: unknown): number {
  if (typeof item !== 'object' || item === null) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item as Record<string, unknown>)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const v = value as AttributeValue;
  if (typeof v.S === 'string') return Buffer.byteLength(v.S);
  if (typeof v.N === 'string') return Math.ceil(v.N.length / 2) + 1;
  if (v.B instanceof Uint8Array) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (Array.isArray(v.L)) return 3 + v.L.reduce((sum: number, x) => sum + 1 + valueSize(x), 0);
  if (typeof v.M === 'object' && v.M !== null) return 3 + itemSize(v.M) + Object.keys(v.M).length;
  if (Array.isArray(v.SS)) return v.SS.reduce((sum: number, x) => sum + Buffer.byteLength(String(x)), 0);
  return 0;
}

const units = (bytes: number, per: number) => Math.max(1, Math.ceil(bytes / per));
const readUnits = (item: unknown, consistent: boolean) => units(itemSize(item), 4096) * (consistent ? 1 : 0.5);
const writeUnits = (item: unknown) => units(itemSize(item), 1024);

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** Request units of one DynamoDB call, from its input and output. */
export function dynamoUnits(operation: string, input: Record<string, unknown>, output: Record<string, unknown>): { read: number; write: number } {
  const consistent = input.ConsistentRead === true;
  switch (operation) {
    case 'GetItem':
      return { read: readUnits(output.Item, consistent), write: 0 };
    case 'BatchGetItem': {
      let read = 0;
      for (const [table, items] of Object.entries(record(output.Responses))) {
        const tableConsistent = record(record(input.RequestItems)[table]).ConsistentRead === true;
        const found = Array.isArray(items) ? items : [];
        const asked = record(record(input.RequestItems)[table]).Keys;
        const misses = (Array.isArray(asked) ? asked.length : found.length) - found.length;
        read += found.reduce((sum: number, item) => sum + readUnits(item, tableConsistent), 0) + Math.max(0, misses) * (tableConsistent ? 1 : 0.5);
      }
      return { read, write: 0 };
    }
    case 'Query':
    case 'Scan': {
      const items = Array.isArray(output.Items) ? output.Items : [];
      const bytes = items.reduce((sum: number, item) => sum + itemSize(item), 0);
      return { read: units(bytes, 4096) * (consistent ? 1 : 0.5), write: 0 };
    }
    case 'PutItem':
      return { read: 0, write: writeUnits(input.Item) };
    case 'UpdateItem':
    case 'DeleteItem':
      return { read: 0, write: 1 };
    case 'TransactWriteItems': {
      const items = Array.isArray(input.TransactItems) ? input.TransactItems : [];
      const write = items.reduce((sum: number, entry) => sum + 2 * writeUnits(record(record(entry).Put).Item), 0);
      return { read: 0, write };
    }
    case 'TransactGetItems': {
      const responses = Array.isArray(output.Responses) ? output.Responses : [];
      return { read: responses.reduce((sum: number, r) => sum + 2 * readUnits(record(r).Item, true), 0), write: 0 };
    }
    default:
      return { read: 0, write: 0 };
  }
}

interface HopContext {
  readonly depth: number;
  /** The work the handled message's calls count towards: its envelope type. */
  readonly work: string;
}

/** The work of calls made outside any handler (the initiator's request, a test's own calls). */
export const OUTSIDE_HANDLERS = '(outside handlers)';
/** The work of a handled message that is not a frostline envelope (a baseline's own request). */
export const UNTYPED_MESSAGE = '(untyped message)';

export interface AwsCallMeterOptions {
  /** Envelope types whose SQS sends count towards the type sent, not the handler's work. */
  readonly sendsCountAs?: Iterable<string>;
}

export class AwsCallMeter {
  readonly #context = new AsyncLocalStorage<HopContext>();
  readonly #depths = new Map<string, number>();
  readonly #sendsCountAs: ReadonlySet<string>;
  #usage = new Map<string, NodeUsage>();
  #byWork = new Map<string, Map<string, NodeUsage>>();

  constructor(options: AwsCallMeterOptions = {}) {
    this.#sendsCountAs = new Set(options.sendsCountAs ?? []);
  }

  /** Usage so far, per node (`coordinator` holds intake and inbox, which share clients). */
  get nodes(): ReadonlyMap<string, NodeUsage> {
    return this.#usage;
  }

  /** The same usage split by work (the handled envelope type, see the module comment), then by node. */
  get byWork(): ReadonlyMap<string, ReadonlyMap<string, NodeUsage>> {
    return this.#byWork;
  }

  /** Forgets the counts (not the hop depths) — e.g. between keygen and signing. */
  reset(): void {
    this.#usage = new Map();
    this.#byWork = new Map();
  }

  /** The depth of a message body seen being sent, i.e. the hops that led to it. */
  depthOf(body: string): number | undefined {
    return this.#depths.get(body);
  }

  #of(node: string): NodeUsage {
    return usageIn(this.#usage, node);
  }

  /** The node's usage and its usage for `work`: everything counted goes into both. */
  #both(node: string, work: string): [NodeUsage, NodeUsage] {
    let nodes = this.#byWork.get(work);
    if (nodes === undefined) {
      nodes = new Map();
      this.#byWork.set(work, nodes);
    }
    return [this.#of(node), usageIn(nodes, node)];
  }

  /** Adds the counting middleware to a node's handler clients (a `configureClients` hook). */
  instrument(node: string, clients: AwsClients): void {
    const add = (service: AwsService, client: { middlewareStack: { add: (...args: never[]) => void } }) => {
      const middleware = (next: (args: { input: object }) => Promise<{ output: object }>, context: { commandName?: string }) =>
        async (args: { input: object }) => {
          const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
          const input = record(args.input);
          const hop = this.#context.getStore();
          let work = hop?.work ?? OUTSIDE_HANDLERS;
          if (service === 'sqs' && operation === 'SendMessage' && typeof input.MessageBody === 'string') {
            this.#depths.set(input.MessageBody, (hop?.depth ?? 0) + 1);
            const sent = peekEnvelope(input.MessageBody).type;
            if (sent !== undefined && this.#sendsCountAs.has(sent)) work = sent;
          }
          const usages = this.#both(node, work);
          for (const usage of usages) usage.calls[service][operation] = (usage.calls[service][operation] ?? 0) + 1;
          const result = await next(args);
          if (service === 'dynamodb') {
            const billed = dynamoUnits(operation, input, record(result.output));
            for (const usage of usages) {
              usage.readRequestUnits += billed.read;
              usage.writeRequestUnits += billed.write;
            }
          }
          return result;
        };
      (client.middlewareStack.add as unknown as (m: typeof middleware, o: object) => void)(middleware, { step: 'initialize', name: 'frostlineCallMeter' });
    };
    add('kms', clients.kms as never);
    add('dynamodb', clients.dynamodb as never);
    add('sqs', clients.sqs as never);
  }

  /** Wraps a node's processor: hop depth for what it sends, its work, invocation count and time (a `processor` hook). */
  wrap(node: string, processor: InboxProcessor): InboxProcessor {
    return {
      handle: async (raw) => {
        const depth = this.#depths.get(raw) ?? 1;
        // The routing type only (envelope-peek returns nothing unvalidated beyond a known type name).
        const work = peekEnvelope(raw).type ?? UNTYPED_MESSAGE;
        const started = performance.now();
        try {
          return await this.#context.run({ depth, work }, () => processor.handle(raw));
        } finally {
          const elapsed = performance.now() - started;
          for (const usage of this.#both(node, work)) {
            usage.invocations++;
            usage.handlerMs += elapsed;
          }
        }
      },
    };
  }
}

function usageIn(nodes: Map<string, NodeUsage>, node: string): NodeUsage {
  let usage = nodes.get(node);
  if (usage === undefined) {
    usage = emptyUsage();
    nodes.set(node, usage);
  }
  return usage;
}

export function sumCounts(counts: OperationCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Nothing counted yet. */
export function emptyUsage(): NodeUsage {
  return { calls: { kms: {}, dynamodb: {}, sqs: {} }, readRequestUnits: 0, writeRequestUnits: 0, invocations: 0, handlerMs: 0 };
}

/** Several nodes' usage added up. */
export function sumUsage(usages: Iterable<NodeUsage>): NodeUsage {
  const sum = emptyUsage();
  for (const usage of usages) {
    for (const service of ['kms', 'dynamodb', 'sqs'] as const) {
      for (const [op, n] of Object.entries(usage.calls[service])) sum.calls[service][op] = (sum.calls[service][op] ?? 0) + n;
    }
    sum.readRequestUnits += usage.readRequestUnits;
    sum.writeRequestUnits += usage.writeRequestUnits;
    sum.invocations += usage.invocations;
    sum.handlerMs += usage.handlerMs;
  }
  return sum;
}

/** `usage` times `factor` (a share of it: a batch's refill spread over the signatures it serves). */
export function scaleUsage(usage: NodeUsage, factor: number): NodeUsage {
  const scaled = emptyUsage();
  for (const service of ['kms', 'dynamodb', 'sqs'] as const) {
    for (const [op, n] of Object.entries(usage.calls[service])) scaled.calls[service][op] = n * factor;
  }
  scaled.readRequestUnits = usage.readRequestUnits * factor;
  scaled.writeRequestUnits = usage.writeRequestUnits * factor;
  scaled.invocations = usage.invocations * factor;
  scaled.handlerMs = usage.handlerMs * factor;
  return scaled;
}
