/**
 * A real Coordinator on an in-memory store, a recording transport and a clock the test
 * moves, for nonce pool tests: parties' signed `pool.batch` messages with real commitments
 * (and the nonces behind them, to sign with), sign requests, and snapshots of the table.
 */
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import type { ItemBackend, ItemKey, StoredItem, WriteOperation } from '../../lib/ports/store.js';
import { Coordinator } from '../../lib/protocol/coordinator.js';
import { CoordinatorTables, coordinatorKeys, type KeyRecord } from '../../lib/protocol/coordinator-state.js';
import { DEFAULT_LIMITS, DEFAULT_NONCE_POOL, type Limits, type NoncePoolSettings } from '../../lib/protocol/directory.js';
import { deriveSessionId } from '../../lib/protocol/envelope.js';
import { commitmentToWire } from '../../lib/protocol/frost-wire.js';
import type { LogLine } from '../../lib/protocol/coordinator-step.js';
import { COORDINATOR, MessageType, type Envelope, type MessageType as MessageTypeT, type NonceCommitment } from '../../lib/protocol/messages.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';
import { AUDIT, NOW, hex, type Cast } from './coordinator-fixtures.js';
import type { SignSetup } from './sign-fixtures.js';

const { frost } = ed25519Suite;
type Nonces = ReturnType<typeof frost.commit>['nonces'];

export const HOUR = 3_600_000;

/** A party's signed batch, with the nonces behind each commitment (what the party keeps sealed). */
export interface Batch {
  readonly envelope: Envelope;
  readonly batchId: string;
  readonly commitments: NonceCommitment[];
  readonly nonces: Nonces[];
}

let batches = 0;

/** `party`'s `pool.batch` for `setup`'s key; `change` tampers with the commitments before signing (the party's own doing). */
export async function batchOf(
  cast: Cast,
  setup: SignSetup,
  party: string,
  options: { count?: number; epoch?: number; expires?: number; batchId?: string; keyId?: string; change?: (c: NonceCommitment[]) => NonceCommitment[] } = {},
): Promise<Batch> {
  const secret = setup.secrets[party];
  if (secret === undefined) throw new Error(`no share for ${party}`);
  const made = Array.from({ length: options.count ?? 4 }, () => frost.commit(secret));
  const honest = made.map((m) => commitmentToWire(m.commitments));
  const commitments = options.change === undefined ? honest : options.change(honest);
  const batchId = options.batchId ?? (++batches).toString(16).padStart(32, '0');
  const envelope = await cast.envelope(party, MessageType.poolBatch, batchId, {
    keyId: options.keyId ?? setup.key.keyId,
    epoch: options.epoch ?? setup.key.epoch ?? 0,
    expires: options.expires ?? NOW + 24 * HOUR,
    commitments,
    audit: AUDIT,
  });
  return { envelope, batchId, commitments, nonces: made.map((m) => m.nonces) };
}

/** A signing request of `cli` for `setup`'s key, with its own request id. */
export async function signRequest(cast: Cast, setup: SignSetup, requestId: string, message = hex(`pay for ${requestId}`)): Promise<Envelope> {
  return cast.envelope('cli', MessageType.signRequest, deriveSessionId('cli', requestId), { requestId, keyId: setup.key.keyId, message });
}

/** Table calls, counted as DynamoDB would bill them: single reads, batch reads, writes (a write of more than one item is a transaction) and the items they write. */
export interface TableCalls {
  get: number;
  getMany: number;
  write: number;
  items: number;
}

/** Called before each write reaches the store: a test makes a concurrent writer win there. */
export type BeforeWrite = (operations: readonly WriteOperation[]) => Promise<void>;

/** `inner` with a batch read (as DynamoDB's BatchGetItem), every call counted in `calls`. */
function counted(inner: ItemBackend, calls: TableCalls, beforeWrite: () => BeforeWrite | undefined): ItemBackend {
  return {
    get: (key: ItemKey) => {
      calls.get += 1;
      return inner.get(key);
    },
    getMany: (keys: readonly ItemKey[]) => {
      calls.getMany += 1;
      return Promise.all(keys.map((k) => inner.get(k)));
    },
    query: (pk: string, skPrefix?: string) => inner.query(pk, skPrefix),
    scanPrefix: (pkPrefix: string) => inner.scanPrefix(pkPrefix),
    write: async (operations: readonly WriteOperation[], nowSeconds: number) => {
      await beforeWrite()?.(operations);
      calls.write += 1;
      calls.items += operations.length;
      return inner.write(operations, nowSeconds);
    },
  };
}

export class PoolRig {
  now = NOW;
  readonly calls: TableCalls = { get: 0, getMany: 0, write: 0, items: 0 };
  beforeWrite: BeforeWrite | undefined;
  readonly sent: Envelope[] = [];
  readonly logs: LogLine[] = [];
  readonly coordinator: Coordinator;
  readonly tables: CoordinatorTables;

  private constructor(
    readonly store: SqliteItemBackend,
    cast: Cast,
    readonly limits: Limits,
  ) {
    const log = (level: LogLine['level']) => (message: string, fields: Record<string, unknown> = {}) => void this.logs.push({ level, message, fields });
    this.coordinator = new Coordinator({
      vault: cast.signer(COORDINATOR),
      store: counted(store, this.calls, () => this.beforeWrite),
      transport: { send: (_destination, body) => Promise.resolve(void this.sent.push(JSON.parse(body) as Envelope)) },
      clock: { now: () => this.now },
      directory: cast.directory,
      limits,
      logger: { info: log('info'), warn: log('warn'), error: log('error') },
    });
    this.tables = new CoordinatorTables(store, () => Math.floor(this.now / 1000));
  }

  /** A coordinator holding `key`; `pool` overrides DEFAULT_NONCE_POOL fields, or turns pools off. */
  static async create(cast: Cast, key: KeyRecord, pool: Partial<NoncePoolSettings> | false = {}): Promise<PoolRig> {
    const limits: Limits = { ...DEFAULT_LIMITS, noncePool: pool === false ? false : { ...DEFAULT_NONCE_POOL, ...pool } };
    const rig = new PoolRig(await SqliteItemBackend.open(':memory:'), cast, limits);
    await rig.tables.keys.create(coordinatorKeys.key(key.keyId), key);
    return rig;
  }

  handle(envelope: Envelope) {
    return this.coordinator.handle(JSON.stringify(envelope));
  }

  /** The table calls counted so far, and the counters reset. */
  takeCalls(): TableCalls {
    const calls = { ...this.calls };
    Object.assign(this.calls, { get: 0, getMany: 0, write: 0, items: 0 });
    return calls;
  }

  /** Sent envelopes of `type`, and the sent list emptied. */
  take(type?: MessageTypeT): Envelope[] {
    const all = this.sent.splice(0);
    return type === undefined ? all : all.filter((e) => e.type === type);
  }

  /** Every stored item but replay marks (a refused message is remembered too). */
  async snapshot(): Promise<StoredItem[]> {
    return (await this.store.scanPrefix('')).filter((item) => !item.pk.startsWith('seen#'));
  }

  async cursor() {
    return (await this.tables.poolCursors.get(coordinatorKeys.poolCursor('k1')))?.value;
  }

  async session(id: string) {
    const session = await this.coordinator.getSession(id);
    if (session?.kind !== 'sign') throw new Error(`no signing session ${id}`);
    return session;
  }

  /** How many CommitmentUse records exist (written for two-round commitments only). */
  async commitmentClaimCount(): Promise<number> {
    return (await this.store.scanPrefix('commitment#')).length;
  }

  close(): void {
    this.store.close();
  }
}
