/**
 * The embedded default: a whole frostline deployment in one process. Each party gets its
 * own vault directory, its own SQLite store and its own inbox, exactly as if it were in its
 * own AWS account; the coordinator and the initiator likewise. Queues are in memory (a run
 * finishes its sessions before it returns); vaults and stores persist in the data directory,
 * so keys made by one invocation sign in the next.
 */
import type { TaprootOption } from '../protocol/derivation/key.js';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { systemClock, type Clock } from '../ports/clock.js';
import { ConfigError, FrostlineError } from '../ports/errors.js';
import type { IdentityPublicKey, KeyVault } from '../ports/key-vault.js';
import type { ItemBackend } from '../ports/store.js';
import type { Destination, Transport } from '../ports/transport.js';
import { FrostlineClient } from '../client/client.js';
import type { KeyPins } from '../client/key-pins.js';
import { Initiator, type InitiatorResult, type LifecycleOptions } from '../client/initiator.js';
import { Coordinator } from '../protocol/coordinator.js';
import { DirectorySchema, PartyPolicySchema } from '../protocol/config-schemas.js';
import { DEFAULT_DELEGATED_KEY_LIFETIME_MS, DEFAULT_LIMITS, type Directory, type Limits } from '../protocol/directory.js';
import { withDelegation } from '../protocol/delegation.js';
import { silentLogger, type Logger } from '../protocol/logger.js';
import type { Session } from '../protocol/coordinator-state.js';
import { COORDINATOR, type KeygenResultBody, type ReshareResultBody, type SignResultBody } from '../protocol/messages.js';
import { Party, type HandleOutcome } from '../protocol/party.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type PartyPolicy } from '../protocol/requests.js';
import type { SecretScopeObserver } from '../protocol/secret-scope.js';
import type { Suite } from '../protocol/suite.js';
import type { Approval } from '../protocol/approvals.js';
import { DeliveryLoop, drainAll, LocalEventSource, type MessageHandler } from '../adapters/local/event-source.js';
import { FileKeyVault } from '../adapters/local/file-key-vault.js';
import { LocalQueue } from '../adapters/local/queue.js';
import { LocalResultInbox } from '../adapters/local/result-inbox.js';
import { SqliteItemBackend } from '../adapters/local/sqlite-backend.js';
import { LocalTransport } from '../adapters/local/transport.js';
import { peekEnvelope } from '../lambda/envelope-peek.js';
import { defaultWorkerEntry, NodeThread } from './node-thread.js';
import { storeSynchronous, type NodeWorkerData } from './node-worker-protocol.js';

/** `cluster.json`: the pinned public keys and the shared local policy. Public data only. */
const ClusterFile = z.strictObject({
  version: z.literal(1),
  ...DirectorySchema.shape,
  policy: PartyPolicySchema,
});
type ClusterFile = z.infer<typeof ClusterFile>;

/** Sees every message before it is enqueued; returns what to enqueue instead (tests: tamper, drop, duplicate). */
export type Interceptor = (message: { from: string; destination: Destination; body: string }) => string[] | Promise<string[]>;

export interface LocalClusterOptions {
  readonly dataDir: string;
  /** Make sure at least this many parties (p1..pN) exist. */
  readonly parties?: number;
  /**
   * Make sure these parties exist too (a reshare to a party the cluster lacks): each new one
   * gets its own vault and identity key, pinned in cluster.json and so in every party's and
   * the coordinator's directory.
   */
  readonly partyIds?: readonly string[];
  /** The primary initiator (the CLI's). @default 'cli' */
  readonly initiator?: string;
  /** More initiators, each with its own key and result queue. Granted every key only when the cluster is created. */
  readonly initiators?: readonly string[];
  /** Approvers (for approval quorums), each with its own key, pinned in the directory. */
  readonly approvers?: readonly string[];
  readonly clock?: Clock;
  /** A node's own clock (chaos runs: skew within `maxClockSkewMs`); queues keep `clock`. */
  readonly clockFor?: (node: string) => Clock | undefined;
  /** @default 250 — short, because a local run waits for redeliveries in real time. */
  readonly visibilityTimeoutMs?: number;
  /** @default 5 */
  readonly maxReceiveCount?: number;
  readonly limits?: Limits;
  readonly logger?: Logger;
  /** Overrides every party's policy (tests of refusals). */
  readonly policy?: PartyPolicy;
  /** Test hook: a party's own policy instead of the shared one. */
  readonly policyFor?: (party: string, policy: PartyPolicy) => PartyPolicy | undefined;
  /** Test hook: a party's own directory instead of the cluster's (e.g. one that lacks a party the others know). */
  readonly directoryFor?: (party: string, directory: Directory) => Directory | undefined;
  readonly onSecretsWiped?: SecretScopeObserver;
  /** Test hook: a node's ciphersuite (a misbehaving implementation, to test blame; one per node, to count its point checks). `COORDINATOR` names the coordinator. */
  readonly suiteFor?: (party: string) => Suite | undefined;
  readonly intercept?: Interceptor;
  /** Wraps a node's inbox handler (tests: crash once, go offline). */
  readonly wrapHandler?: (node: string, handler: MessageHandler) => MessageHandler;
  /** @default 120000 */
  readonly drainTimeoutMs?: number;
  /**
   * Handlers each inbox (every party's and the coordinator's) runs at once, like a Lambda's
   * concurrency: deliveries to different inboxes always run concurrently, and up to this
   * many to one inbox. 1 handles each inbox's messages one after another. `'serial'` is
   * one message at a time in the whole cluster, inboxes in turn: arrival order is then
   * reproducible, for tests whose expectations depend on it (who commits first signs).
   * @default DEFAULT_DELIVERY_CONCURRENCY (8)
   */
  readonly deliveryConcurrency?: number | 'serial';
  /**
   * `'single'`: every node on this thread (tests: hooks and intercepts see everything).
   * `'workers'`: each party and the coordinator on its own worker thread, owning its own
   * vault and store, so their curve arithmetic and SQLite commits (fsync) use every core;
   * envelopes cross as the same strings the queues carry, and the queues stay here. The
   * in-process hooks (`clock`, `clockFor`, `suiteFor`, `intercept`, `onSecretsWiped`,
   * `logger`) cannot reach a worker and are refused; `parties` is empty, `stores` holds no
   * node's store and `coordinator` throws.
   * @default 'single'
   */
  readonly threads?: 'single' | 'workers';
  /** The worker script (threads: 'workers'). @default dist/lib/dev/node-worker.js beside this module */
  readonly workerEntry?: URL;
  /**
   * Parties and the coordinator sign the per-signature envelopes with a delegated key
   * certified by their vault's identity key (lib/protocol/delegation.ts), as the AWS wiring
   * does by default. Single thread only.
   * @default false
   */
  readonly delegatedKeys?: boolean;
}

/** Enough to keep one process's CPU busy while handlers wait on their stores; more only adds interleaving. */
export const DEFAULT_DELIVERY_CONCURRENCY = 8;

export interface NodeOutcome {
  readonly node: string;
  readonly outcome: HandleOutcome;
}

interface Inbox {
  readonly queue: LocalQueue;
  readonly deadLetters: LocalQueue;
}

/**
 * A node this process saw fail: its store or vault would not open, or its handler threw
 * (an infrastructure failure, not a protocol refusal). The coordinator cannot tell a broken
 * party from a slow one, so whoever runs the parties must say it. `reason` is an error
 * message of ours (they never carry secrets), never a cause's text.
 */
export interface UnhealthyParty {
  readonly party: string;
  readonly reason: string;
  /** Deliveries to it that failed in this process (each is redelivered until dead-lettered). */
  readonly failedDeliveries: number;
  /** Messages its inbox gave up on (the local dead-letter queue). */
  readonly deadLettered: number;
}

/** What the cluster observed about one node's health (open failures and failed deliveries). */
class HealthLog {
  readonly #reasons = new Map<string, { reason: string; failures: number }>();

  unavailable(node: string, reason: string): void {
    this.#reasons.set(node, { reason: `unavailable: ${reason}`, failures: 0 });
  }

  failed(node: string, error: unknown): void {
    const entry = this.#reasons.get(node);
    if (entry !== undefined) {
      entry.failures += 1;
      return;
    }
    this.#reasons.set(node, { reason: `handler failed: ${oneLine(error)}`, failures: 1 });
  }

  report(deadLettered: (node: string) => number): UnhealthyParty[] {
    return [...this.#reasons].map(([party, { reason, failures }]) => ({ party, reason, failedDeliveries: failures, deadLettered: deadLettered(party) }));
  }
}

function oneLine(error: unknown): string {
  const text = error instanceof FrostlineError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').trim();
}

export class LocalCluster {
  readonly parties = new Map<string, Party>();
  readonly vaults = new Map<string, FileKeyVault>();
  readonly inboxes = new Map<string, Inbox>();
  /** Every handled message's outcome, in order (refusals included): what tests and the CLI inspect. */
  readonly outcomes: NodeOutcome[] = [];
  readonly initiator: Initiator;
  readonly initiators: Map<string, { initiator: Initiator; results: LocalQueue; transport: Transport }>;
  readonly #coordinator: Coordinator | undefined;
  readonly directory: Directory;
  /** 'workers': each node's thread (closed by `close`). */
  readonly #threads: NodeThread[];
  readonly #coordinatorThread: NodeThread | undefined;
  readonly threads: 'single' | 'workers';
  readonly #stores: SqliteItemBackend[];
  /** Each node's store, by node id (chaos runs read the parties' nonce and share records). */
  readonly stores = new Map<string, ItemBackend>();
  readonly #sources: LocalEventSource[];
  readonly #results: LocalQueue;
  readonly #clock: Clock;
  readonly #drainTimeoutMs: number;
  readonly #health: HealthLog;
  readonly #serial: boolean;
  #serving: { loop: DeliveryLoop; done: Promise<void> } | undefined;

  private constructor(parts: {
    parties: Map<string, Party>;
    vaults: Map<string, FileKeyVault>;
    inboxes: Map<string, Inbox>;
    initiators: Map<string, { initiator: Initiator; results: LocalQueue; transport: Transport }>;
    initiator: Initiator;
    coordinator: Coordinator | undefined;
    threads: NodeThread[];
    coordinatorThread: NodeThread | undefined;
    directory: Directory;
    stores: SqliteItemBackend[];
    sources: LocalEventSource[];
    results: LocalQueue;
    clock: Clock;
    drainTimeoutMs: number;
    serial: boolean;
    outcomes: NodeOutcome[];
    health: HealthLog;
  }) {
    this.parties = parts.parties;
    this.vaults = parts.vaults;
    this.inboxes = parts.inboxes;
    this.initiator = parts.initiator;
    this.initiators = parts.initiators;
    this.#coordinator = parts.coordinator;
    this.#threads = parts.threads;
    this.#coordinatorThread = parts.coordinatorThread;
    this.threads = parts.threads.length > 0 ? 'workers' : 'single';
    this.directory = parts.directory;
    this.#stores = parts.stores;
    this.#sources = parts.sources;
    this.#results = parts.results;
    this.#clock = parts.clock;
    this.#drainTimeoutMs = parts.drainTimeoutMs;
    this.outcomes = parts.outcomes;
    this.#health = parts.health;
    this.#serial = parts.serial;
  }

  /** The coordinator, on this thread: not in threads: 'workers' mode, where it runs on its own. */
  get coordinator(): Coordinator {
    if (this.#coordinator === undefined) throw new FrostlineError('coordinator-in-worker', "the coordinator runs on a worker thread (threads: 'workers'); open the cluster with threads: 'single' to inspect it");
    return this.#coordinator;
  }

  /** The coordinator's record of a session, on whichever thread the coordinator runs. */
  getSession(session: string): Promise<Session | undefined> {
    if (this.#coordinator !== undefined) return this.#coordinator.getSession(session);
    const thread = this.#coordinatorThread;
    if (thread === undefined) return Promise.reject(new FrostlineError('coordinator-unavailable', 'the coordinator is not running'));
    return thread.getSession(session);
  }

  static async open(options: LocalClusterOptions): Promise<LocalCluster> {
    const workers = options.threads === 'workers';
    if (workers) refuseInProcessHooks(options);
    const clock = options.clock ?? systemClock;
    const initiatorId = options.initiator ?? 'cli';
    const logger = options.logger ?? silentLogger;
    const limits = options.limits ?? DEFAULT_LIMITS;
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });

    const vaults = new Map<string, FileKeyVault>();
    const openVault = async (node: string, dir: string) => {
      const vault = await FileKeyVault.open(join(options.dataDir, dir, 'vault'));
      vaults.set(node, vault);
      return vault;
    };

    const file = await readClusterFile(options.dataDir);
    const partyIds = new Set(Object.keys(file?.parties ?? {}));
    for (let i = 1; i <= (options.parties ?? 0); i++) partyIds.add(`p${i}`);
    for (const id of options.partyIds ?? []) partyIds.add(id);
    const sortedParties = [...partyIds].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

    const health = new HealthLog();
    const pinned = async (node: string, dir: string, existing: IdentityPublicKey | undefined) => {
      const actual = await (await openVault(node, dir)).identityPublicKey();
      if (existing !== undefined && (existing.alg !== actual.alg || existing.spki !== actual.spki)) {
        throw new ConfigError(`identity key of "${node}" in ${join(options.dataDir, dir)} does not match the key pinned in cluster.json`);
      }
      return actual;
    };
    const initiatorIds = [...new Set([initiatorId, ...Object.keys(file?.initiators ?? {}), ...(options.initiators ?? [])])];
    const approverIds = [...new Set([...Object.keys(file?.approvers ?? {}), ...(options.approvers ?? [])])];
    const next: ClusterFile = {
      version: 1,
      coordinator: await pinned(COORDINATOR, 'coordinator', file?.coordinator),
      parties: {},
      initiators: {},
      ...(approverIds.length > 0 ? { approvers: {} } : {}),
      policy: file?.policy ?? { maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, initiators: {} },
    };
    for (const id of sortedParties) {
      const existing = file?.parties[id];
      if (existing !== undefined) {
        // A pinned party whose vault will not open is down, not a reason to stop the others:
        // its pin stays, and its inbox fails every delivery (see below).
        try {
          await openVault(id, join('parties', id));
        } catch (error) {
          health.unavailable(id, `its vault did not open (${oneLine(error)})`);
        }
      }
      next.parties[id] = vaults.has(id) || existing === undefined ? await pinned(id, join('parties', id), existing) : existing;
    }
    for (const id of initiatorIds) {
      next.initiators[id] = await pinned(id, join('initiators', id), file?.initiators[id]);
      // Only a cluster being created grants its initiators every key; an identity added
      // later is pinned but may do nothing until the operator edits the policy.
      // (refresh and reshare included: the local cluster is one operator's own, README "Key lifecycle").
      if (file === undefined && !Object.hasOwn(next.policy.initiators, id)) next.policy.initiators[id] = { keygen: true, keys: ['*'], reshare: ['*'] };
    }
    for (const id of approverIds) {
      const approvers = next.approvers ?? {};
      approvers[id] = await pinned(id, join('approvers', id), file?.approvers?.[id]);
      next.approvers = approvers;
    }
    await writeClusterFile(options.dataDir, next);

    const directory: Directory = {
      coordinator: next.coordinator,
      parties: next.parties,
      initiators: next.initiators,
      ...(next.approvers !== undefined ? { approvers: next.approvers } : {}),
    };
    const policy = options.policy ?? next.policy;

    const queueOptions = { clock, visibilityTimeoutMs: options.visibilityTimeoutMs ?? 250, maxReceiveCount: options.maxReceiveCount ?? 5 };
    const inboxes = new Map<string, Inbox>();
    const newInbox = (node: string): Inbox => {
      const deadLetters = new LocalQueue(`${node}-dlq`, { ...queueOptions, maxReceiveCount: Number.MAX_SAFE_INTEGER });
      const inbox = { queue: new LocalQueue(`${node}-inbox`, { ...queueOptions, deadLetterQueue: deadLetters }), deadLetters };
      inboxes.set(node, inbox);
      return inbox;
    };
    for (const id of sortedParties) newInbox(id);
    newInbox(COORDINATOR);
    const resultQueues = new Map(initiatorIds.map((id) => [id, new LocalQueue(`${id}-results`, { ...queueOptions })]));

    const route = (destination: Destination): LocalQueue | undefined => {
      if (destination.kind === 'coordinator') return inboxes.get(COORDINATOR)?.queue;
      if (destination.kind === 'party') return inboxes.get(destination.id)?.queue;
      return resultQueues.get(destination.id);
    };
    const transportFor = (from: string): Transport => {
      const direct = new LocalTransport(route);
      const intercept = options.intercept;
      if (intercept === undefined) return direct;
      return {
        async send(destination, body) {
          for (const replacement of await intercept({ from, destination, body })) await direct.send(destination, replacement);
        },
      };
    };

    const stores: SqliteItemBackend[] = [];
    const storesByNode = new Map<string, ItemBackend>();
    const nodeClock = (node: string): Clock => options.clockFor?.(node) ?? clock;
    const openStore = async (dir: string, node: string, role: NodeWorkerData['role']) => {
      await mkdir(join(options.dataDir, dir), { recursive: true, mode: 0o700 });
      const store = await SqliteItemBackend.open(join(options.dataDir, dir, 'store.sqlite'), { synchronous: storeSynchronous(role) });
      stores.push(store);
      storesByNode.set(node, store);
      return store;
    };
    const vault = (node: string) => {
      const found = vaults.get(node);
      if (found === undefined) throw new Error(`no vault for ${node}`);
      return found;
    };

    if (workers && options.delegatedKeys === true) throw new ConfigError('delegatedKeys is supported with threads: \'single\' only');
    const delegated = (nodeVault: KeyVault, holder: string, role: 'party' | 'coordinator'): KeyVault =>
      options.delegatedKeys === true ? withDelegation(nodeVault, { holder, role, lifetimeMs: limits.delegatedKeyLifetimeMs ?? DEFAULT_DELEGATED_KEY_LIFETIME_MS }) : nodeVault;
    const parties = new Map<string, Party>();
    const threads = workers ? await startThreads({ options, sortedParties, vaults, health, directory, policy, limits, route, initiators: [...resultQueues.keys()] }) : new Map<string, NodeThread>();
    for (const id of workers ? [] : sortedParties) {
      const suite = options.suiteFor?.(id);
      const partyVault = vaults.get(id);
      if (partyVault === undefined) continue; // already recorded as unavailable
      let store: SqliteItemBackend;
      try {
        store = await openStore(join('parties', id), id, 'party');
      } catch (error) {
        health.unavailable(id, `its store did not open (${oneLine(error)})`);
        continue;
      }
      parties.set(
        id,
        new Party({
          id,
          vault: delegated(partyVault, id, 'party'),
          store,
          transport: transportFor(id),
          clock: nodeClock(id),
          directory: options.directoryFor?.(id, directory) ?? directory,
          policy: options.policyFor?.(id, policy) ?? policy,
          limits,
          logger,
          ...(options.onSecretsWiped !== undefined ? { onSecretsWiped: options.onSecretsWiped } : {}),
          ...(suite !== undefined ? { suite } : {}),
        }),
      );
    }
    const coordinatorSuite = options.suiteFor?.(COORDINATOR);
    const coordinator = workers
      ? undefined
      : new Coordinator({
          vault: delegated(vault(COORDINATOR), COORDINATOR, 'coordinator'),
          store: await openStore('coordinator', COORDINATOR, 'coordinator'),
          transport: transportFor(COORDINATOR),
          clock: nodeClock(COORDINATOR),
          directory,
          limits,
          logger,
          ...(coordinatorSuite !== undefined ? { suite: coordinatorSuite } : {}),
        });
    const handleOn = (node: string): ((raw: string) => Promise<HandleOutcome>) | undefined => {
      if (node === COORDINATOR && coordinator !== undefined) return (raw) => coordinator.handle(raw);
      const party = parties.get(node);
      if (party !== undefined) return (raw) => party.handle(raw);
      const thread = threads.get(node);
      return thread === undefined ? undefined : (raw) => thread.handle(raw);
    };
    const initiators = new Map<string, { initiator: Initiator; results: LocalQueue; transport: Transport }>();
    for (const [id, results] of resultQueues) {
      const transport = transportFor(id);
      initiators.set(id, { initiator: new Initiator({ id, vault: vault(id), transport, clock: nodeClock(id), directory, limits }), results, transport });
    }
    const primary = initiators.get(initiatorId);
    if (primary === undefined) throw new Error(`initiator ${initiatorId} not wired`);

    const outcomes: NodeOutcome[] = [];
    const handlerFor = (node: string, handle: (raw: string) => Promise<HandleOutcome>): MessageHandler => {
      const handler: MessageHandler = async (body) => {
        outcomes.push({ node, outcome: await handle(body) });
      };
      return options.wrapHandler?.(node, handler) ?? handler;
    };
    // Failures are retried by redelivery and persistent ones end in the DLQ; each is recorded
    // so that the run can say which node is broken (the protocol only sees its silence).
    const recordFailure = (node: string) => (error: unknown) => health.failed(node, error);
    // One session's messages to one node run one after another (they would only conflict on
    // its session record and redo their work); different sessions and nodes run concurrently.
    const serial = options.deliveryConcurrency === 'serial';
    const concurrency = serial ? 1 : (options.deliveryConcurrency ?? DEFAULT_DELIVERY_CONCURRENCY);
    const delivery = { concurrency, groupOf: (body: string) => peekEnvelope(body).session };
    const sources = [
      ...sortedParties.map((id) => {
        const inbox = inboxes.get(id);
        if (inbox === undefined) throw new Error(`party ${id} not wired`);
        const handle = handleOn(id) ?? (() => Promise.reject(new FrostlineError('party-unavailable', `party ${id} is unavailable`)));
        return new LocalEventSource(inbox.queue, handlerFor(id, handle), { onError: recordFailure(id), ...delivery });
      }),
      new LocalEventSource(newInboxOf(inboxes, COORDINATOR).queue, handlerFor(COORDINATOR, coordinatorHandle(handleOn(COORDINATOR))), {
        onError: recordFailure(COORDINATOR),
        ...delivery,
      }),
    ];

    const cluster = new LocalCluster({
      parties,
      vaults,
      inboxes,
      initiators,
      initiator: primary.initiator,
      coordinator,
      threads: [...threads.values()],
      coordinatorThread: threads.get(COORDINATOR),
      directory,
      stores,
      sources,
      results: primary.results,
      clock,
      drainTimeoutMs: options.drainTimeoutMs ?? 120_000,
      serial,
      outcomes,
      health,
    });
    for (const [node, store] of storesByNode) cluster.stores.set(node, store);
    return cluster;
  }

  /**
   * The nodes seen failing since open: a store or vault that would not open, handlers that
   * threw, messages dead-lettered. Protocol refusals are not here (they are in `outcomes`).
   */
  unhealthy(): UnhealthyParty[] {
    return this.#health.report((node) => this.inboxes.get(node)?.deadLetters.stats().visible ?? 0);
  }

  /** Delivers messages until every inbox is empty (redeliveries included), every inbox concurrently. */
  async run(): Promise<void> {
    if (this.#serial) await drainAll(this.#sources, { clock: this.#clock, timeoutMs: this.#drainTimeoutMs });
    else await new DeliveryLoop(this.#sources, { clock: this.#clock }).drain(this.#drainTimeoutMs);
  }

  /**
   * Delivers messages in the background until `stop()`: the mode for SDK clients, which
   * send requests and await results on their own. Every inbox is served concurrently.
   */
  serve(): void {
    if (this.#serving !== undefined) return;
    const loop = new DeliveryLoop(this.#sources, { clock: this.#clock, serial: this.#serial });
    this.#serving = { loop, done: loop.serve() };
  }

  /** Stops background delivery; returns once no handler runs (what was not received stays queued). */
  async stop(): Promise<void> {
    const serving = this.#serving;
    if (serving === undefined) return;
    serving.loop.stop();
    await serving.done;
    this.#serving = undefined;
  }

  /** An SDK client for one of this cluster's initiators (call `serve()` first). */
  client(initiatorId: string = this.initiator.id, options?: { timeoutMs?: number; pins?: KeyPins }): FrostlineClient {
    const wired = this.initiators.get(initiatorId);
    const signer = this.vaults.get(initiatorId);
    if (wired === undefined || signer === undefined) throw new FrostlineError('unknown-initiator', `no initiator "${initiatorId}" in this cluster`);
    return new FrostlineClient({
      initiatorId,
      signer,
      coordinatorKey: this.directory.coordinator,
      partyKeys: this.directory.parties,
      requests: wired.transport,
      results: new LocalResultInbox(wired.results),
      clock: this.#clock,
      pollWaitMs: 20,
      ...(options?.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options?.pins !== undefined ? { pins: options.pins } : {}),
    });
  }

  /** Takes every result waiting on the initiator's queue, authenticated and checked. */
  takeResults(): InitiatorResult[] {
    const results: InitiatorResult[] = [];
    for (;;) {
      const batch = this.#results.receive(10);
      if (batch.length === 0) return results;
      for (const message of batch) {
        this.#results.delete(message.receiptHandle);
        results.push(this.initiator.openResult(message.body));
      }
    }
  }

  async keygen(options: { keyId: string; threshold: number; parties?: readonly string[]; requestId?: string; suite?: string }): Promise<KeygenResultBody> {
    const session = await this.initiator.requestKeygen({
      keyId: options.keyId,
      suite: options.suite,
      threshold: options.threshold,
      // Every pinned party, healthy or not: an unavailable one fails the keygen and is named.
      parties: options.parties ?? Object.keys(this.directory.parties).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
      requestId: options.requestId,
    });
    await this.run();
    const result = this.#resultFor(session, 'keygen.result');
    return result.body as KeygenResultBody;
  }

  async sign(options: { keyId: string; message: Uint8Array; requestId?: string; approvals?: readonly Approval[]; path?: string; taproot?: TaprootOption }): Promise<SignResultBody> {
    const session = await this.initiator.requestSignature(options);
    await this.run();
    // Every queue is empty and no result came: a one-round signer never answered (down, or
    // its package dropped). Without waiting for the sweeper, fall back to two rounds now.
    if (!this.#hasResult(session, 'sign.result') && (await this.#fallBackPooled()) > 0) await this.run();
    return this.#resultFor(session, 'sign.result').body as SignResultBody;
  }

  /** Refresh (same parties and threshold, new shares) of `keyId`; runs until the result. */
  async refresh(options: { keyId: string; requestId?: string; approvals?: readonly Approval[]; epoch?: number }): Promise<ReshareResultBody> {
    return this.reshare(options);
  }

  /** A refresh (no `parties`/`threshold`) or a reshare of a key, delivered to the end. */
  async reshare(options: LifecycleOptions): Promise<ReshareResultBody> {
    const session = await this.initiator.requestLifecycle(options);
    await this.run();
    return this.#resultFor(session, 'reshare.result').body as ReshareResultBody;
  }

  /** Coordinator.fallBackPooled(0), on whichever thread the coordinator runs. */
  async #fallBackPooled(): Promise<number> {
    if (this.#coordinator !== undefined) return this.#coordinator.fallBackPooled(0);
    return this.#coordinatorThread?.fallBackPooled(0) ?? 0;
  }

  /** Results taken from the initiator's queue but not yet asked for (`#hasResult` looks without losing them). */
  readonly #pending: InitiatorResult[] = [];

  #hasResult(session: string, type: InitiatorResult['type']): boolean {
    this.#pending.push(...this.takeResults());
    return this.#pending.some((r) => r.session === session && r.type === type);
  }

  #resultFor(session: string, type: InitiatorResult['type']): InitiatorResult {
    const taken = [...this.#pending.splice(0), ...this.takeResults()];
    const matching = taken.filter((r) => r.session === session && r.type === type);
    const result = matching[0];
    if (result === undefined) {
      const unhealthy = this.unhealthy();
      const why = unhealthy.length === 0 ? 'see the refusals in the log' : `unhealthy: ${unhealthy.map((u) => `${u.party} (${u.reason})`).join('; ')}`;
      throw new FrostlineError('no-result', `no ${type} arrived for session ${session}; ${why}`);
    }
    return result;
  }

  /** Stops background delivery (if serving) and closes every store. */
  async close(): Promise<void> {
    await this.stop();
    await Promise.all(this.#threads.map((thread) => thread.close()));
    for (const store of this.#stores) store.close();
  }
}

function coordinatorHandle(handle: ((raw: string) => Promise<HandleOutcome>) | undefined): (raw: string) => Promise<HandleOutcome> {
  if (handle === undefined) throw new Error('coordinator not wired');
  return handle;
}

/** The hooks that run in this thread's memory: a worker thread cannot see them. */
function refuseInProcessHooks(options: LocalClusterOptions): void {
  const hooks = (['clock', 'clockFor', 'suiteFor', 'intercept', 'onSecretsWiped', 'logger', 'directoryFor', 'policyFor'] as const).filter((name) => options[name] !== undefined);
  if (hooks.length > 0) throw new ConfigError(`threads: 'workers' cannot run in-process hooks (${hooks.join(', ')}); use threads: 'single'`);
}

/**
 * threads: 'workers': one worker per available party and one for the coordinator, started
 * at once. A party whose worker does not open is recorded as unavailable (as in one thread);
 * a coordinator that does not open fails the cluster.
 */
async function startThreads(parts: {
  options: LocalClusterOptions;
  sortedParties: readonly string[];
  vaults: ReadonlyMap<string, FileKeyVault>;
  health: HealthLog;
  directory: Directory;
  policy: PartyPolicy;
  limits: Limits;
  route: (destination: Destination) => LocalQueue | undefined;
  initiators: readonly string[];
}): Promise<Map<string, NodeThread>> {
  const { options, health } = parts;
  const entry = options.workerEntry ?? defaultWorkerEntry();
  const threads = new Map<string, NodeThread>();
  const start = async (node: string, role: NodeWorkerData['role'], dir: string) => {
    await mkdir(join(options.dataDir, dir), { recursive: true, mode: 0o700 });
    const data: NodeWorkerData = {
      role,
      id: node,
      vaultDir: join(options.dataDir, dir, 'vault'),
      storePath: join(options.dataDir, dir, 'store.sqlite'),
      directory: parts.directory,
      policy: parts.policy,
      limits: parts.limits,
      initiators: parts.initiators,
    };
    const onSend = (destination: Destination, body: string) => {
      const queue = parts.route(destination);
      if (queue === undefined) health.failed(node, new FrostlineError('unknown-destination', `${node} sent to a destination with no queue`));
      else queue.send(body);
    };
    threads.set(node, await NodeThread.start(entry, data, onSend));
  };
  const partyIds = parts.sortedParties.filter((id) => parts.vaults.has(id));
  const [coordinator, ...opened] = await Promise.allSettled([start(COORDINATOR, 'coordinator', 'coordinator'), ...partyIds.map((id) => start(id, 'party', join('parties', id)))]);
  opened.forEach((result, i) => {
    const id = partyIds[i];
    if (result.status === 'rejected' && id !== undefined) health.unavailable(id, `its worker did not open (${oneLine(result.reason)})`);
  });
  if (coordinator?.status === 'rejected') {
    await Promise.all([...threads.values()].map((thread) => thread.close()));
    throw coordinator.reason;
  }
  return threads;
}

function newInboxOf(inboxes: Map<string, Inbox>, node: string): Inbox {
  const inbox = inboxes.get(node);
  if (inbox === undefined) throw new Error(`no inbox for ${node}`);
  return inbox;
}

/** The identity keys pinned in a data directory's cluster.json, if it has one. */
export async function readPinnedDirectory(dataDir: string): Promise<Directory | undefined> {
  const file = await readClusterFile(dataDir);
  if (file === undefined) return undefined;
  return { coordinator: file.coordinator, parties: file.parties, initiators: file.initiators, ...(file.approvers !== undefined ? { approvers: file.approvers } : {}) };
}

async function readClusterFile(dataDir: string): Promise<ClusterFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'cluster.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = ClusterFile.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new ConfigError(`${join(dataDir, 'cluster.json')} is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

async function writeClusterFile(dataDir: string, file: ClusterFile): Promise<void> {
  const path = join(dataDir, 'cluster.json');
  const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`; // per write: concurrent opens never share one
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
