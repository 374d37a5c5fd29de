/**
 * Real parties for the nonce-pool steps (sign/party-pool-refill.ts, sign/party-pooled.ts):
 * each a `Party` on its own in-memory store, holding a share dealt by noble's trusted dealer
 * and sealed as a keygen would seal it, with the cast's identity keys (coordinator-fixtures.ts)
 * and data keys from an in-memory vault that counts its calls. Messages are signed by their
 * real sender (the coordinator, the initiator `cli`) at the bench's clock.
 */
import { randomBytes } from 'node:crypto';
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import type { DataKey, EncryptionContext, KeyVault } from '../../lib/ports/key-vault.js';
import type { ItemBackend, StoredItem, WriteOperation } from '../../lib/ports/store.js';
import { aesGcmOpen, aesGcmSeal } from '../../lib/protocol/aead.js';
import { DEFAULT_LIMITS, type Limits } from '../../lib/protocol/directory.js';
import { canonicalBytes } from '../../lib/protocol/encoding.js';
import { createEnvelope, deriveSessionId, parseBody } from '../../lib/protocol/envelope.js';
import { publicPackageHash, publicToWire } from '../../lib/protocol/frost-wire.js';
import { COORDINATOR, MessageType, type BodyOf, type Envelope, type SignRequestBody } from '../../lib/protocol/messages.js';
import { Party, type HandleOutcome } from '../../lib/protocol/party.js';
import { partyKeys, type KeyShareRecord } from '../../lib/protocol/party-state.js';
import type { PartyPolicy } from '../../lib/protocol/requests.js';
import { secretContext, sealSecret } from '../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';
import type { LogEntry } from './harness.js';
import { Cast, NOW, hex } from './coordinator-fixtures.js';

const { frost } = ed25519Suite;
export const KEY_ID = 'k1';
export const POLICY: PartyPolicy = { maxMessageBytes: 1024, initiators: { cli: { keygen: true, keys: ['*'] } } };

/** A party's identity key from the cast, and data keys under a master key of its own (AES-GCM, the context as AAD). */
export class CountingVault implements KeyVault {
  readonly calls = { generateDataKey: 0, decryptDataKey: 0, signIdentity: 0 };
  readonly #identity: KeyVault;
  #master: Uint8Array = randomBytes(32);

  constructor(identity: KeyVault) {
    this.#identity = identity;
  }

  /** A new master key: what was sealed before no longer opens (as a share re-sealed under a new data key). */
  rotateMaster(): void {
    this.#master = randomBytes(32);
  }

  generateDataKey(context: EncryptionContext): Promise<DataKey> {
    this.calls.generateDataKey += 1;
    const plaintext = new Uint8Array(randomBytes(32));
    const iv = randomBytes(12);
    const sealed = aesGcmSeal(this.#master, iv, plaintext, canonicalBytes(context));
    return Promise.resolve({ plaintext, encrypted: new Uint8Array([...iv, ...sealed]) });
  }

  decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    this.calls.decryptDataKey += 1;
    const opened = aesGcmOpen(this.#master, encrypted.subarray(0, 12), encrypted.subarray(12), canonicalBytes(context));
    if (opened === undefined) return Promise.reject(new Error('data key does not open under this context'));
    return Promise.resolve(opened);
  }

  signIdentity(message: Uint8Array): Promise<Uint8Array> {
    this.calls.signIdentity += 1;
    return this.#identity.signIdentity(message);
  }

  identityPublicKey() {
    return this.#identity.identityPublicKey();
  }
}

/** What reached a party's table, by call (the store offers a batch read, as DynamoDB does). */
export interface StoreCalls {
  get: number;
  getMany: number;
  query: number;
  write: number;
}

/**
 * Called with each write a party's step makes, before it reaches the table: a test captures
 * an operation (to apply it again later, as a late duplicate would land), throws to make that
 * write fail (the error is what the step sees; nothing is written), or returns a promise to
 * hold the write until it settles (to force an interleaving of concurrent deliveries).
 */
export type WriteHook = (operations: readonly WriteOperation[]) => void | Promise<void>;

/** `inner` with a counted `getMany`, like DynamoDB's BatchGetItem, and the party's write hook. */
function metered(inner: ItemBackend, calls: StoreCalls, hooks: { onWrite?: WriteHook | undefined }): ItemBackend {
  return {
    get: (key) => (calls.get++, inner.get(key)),
    getMany: (keys) => (calls.getMany++, Promise.all(keys.map((key) => inner.get(key)))),
    query: (pk, prefix) => (calls.query++, inner.query(pk, prefix)),
    scanPrefix: (prefix) => inner.scanPrefix(prefix),
    write: async (operations, now) => {
      calls.write++;
      await hooks.onWrite?.(operations);
      return inner.write(operations, now);
    },
  };
}

export interface BenchParty {
  readonly name: string;
  readonly party: Party;
  /** The table itself (reads and writes here are not counted). */
  readonly store: SqliteItemBackend;
  /** What the party's own steps did to its table. */
  readonly storeCalls: StoreCalls;
  /** Set `onWrite` to see (or fail) each write of the party's own steps; unset it to stop. */
  readonly hooks: { onWrite?: WriteHook | undefined };
  readonly vault: CountingVault;
  /** Everything it sent to the coordinator, in order. */
  readonly sent: Envelope[];
  readonly logs: LogEntry[];
}

export interface BenchOptions {
  /** Parties in the directory (default p1, p2, p3, p4); the key's parties are `keyParties`. */
  readonly parties?: readonly string[];
  readonly keyParties?: readonly string[];
  readonly policy?: PartyPolicy;
  readonly limits?: Partial<Limits>;
}

type Dealt = ReturnType<typeof frost.trustedDealer>;

export class PoolBench {
  readonly cast: Cast;
  readonly keyParties: readonly string[];
  readonly dealt: Dealt;
  readonly members = new Map<string, BenchParty>();
  offsetMs = 0;
  #requests = 0;

  private constructor(options: BenchOptions) {
    this.cast = new Cast([...(options.parties ?? ['p1', 'p2', 'p3', 'p4'])]);
    this.keyParties = [...(options.keyParties ?? ['p1', 'p2', 'p3'])].sort();
    this.dealt = frost.trustedDealer({ min: 2, max: this.keyParties.length }, this.keyParties.map((p) => frost.Identifier.derive(p)));
  }

  /** The cast, one running Party per key party, each holding its active share at epoch `epoch`. */
  static async open(options: BenchOptions = {}, epoch = 0): Promise<PoolBench> {
    const bench = new PoolBench(options);
    for (const name of bench.keyParties) {
      const store = await SqliteItemBackend.open(':memory:');
      const storeCalls: StoreCalls = { get: 0, getMany: 0, query: 0, write: 0 };
      const hooks: BenchParty['hooks'] = {};
      const vault = new CountingVault(bench.cast.signer(name));
      const sent: Envelope[] = [];
      const logs: LogEntry[] = [];
      const record = (level: LogEntry['level']) => (message: string, fields?: Record<string, unknown>) => void logs.push({ level, message, fields: fields ?? {} });
      const party = new Party({
        id: name,
        vault,
        store: metered(store, storeCalls, hooks),
        transport: { send: (_destination, body) => Promise.resolve(void sent.push(JSON.parse(body) as Envelope)) },
        clock: { now: () => bench.now() },
        directory: bench.cast.directory,
        policy: options.policy ?? POLICY,
        limits: { ...DEFAULT_LIMITS, ...options.limits },
        logger: { info: record('info'), warn: record('warn'), error: record('error') },
      });
      bench.members.set(name, { name, party, store, storeCalls, hooks, vault, sent, logs });
      await bench.storeShare(name, epoch);
    }
    return bench;
  }

  now(): number {
    return NOW + this.offsetMs;
  }

  member(name: string): BenchParty {
    const found = this.members.get(name);
    if (found === undefined) throw new Error(`no party ${name} on the bench`);
    return found;
  }

  /** Seals `name`'s dealt share as its active share of KEY_ID at `epoch` (a refresh-like re-seal: a new data key). */
  async storeShare(name: string, epoch: number): Promise<void> {
    const { store, vault } = this.member(name);
    const identifier = frost.Identifier.derive(name);
    const secret = this.dealt.secretShares[identifier];
    if (secret === undefined) throw new Error(`no share dealt for ${name}`);
    const publicPackage = publicToWire(this.dealt.public);
    const scope = new SecretScope();
    try {
      const key = partyKeys.keyShare(KEY_ID);
      const share = await sealSecret(vault, secretContext(name, KEY_ID, 'key-share'), key, Uint8Array.from(secret.signingShare), scope);
      const value: KeyShareRecord = {
        keyId: KEY_ID,
        session: 'ab'.repeat(16),
        suite: ed25519Suite.id,
        threshold: 2,
        parties: [...this.keyParties],
        identifier,
        share,
        publicPackage,
        publicPackageHash: publicPackageHash(publicPackage),
        groupKey: publicPackage.commitments[0] ?? '',
        status: 'active',
        createdAt: NOW,
        epoch,
      };
      const current = await store.get(key);
      const version = (current?.version ?? 0) + 1;
      await store.write([{ op: 'put', item: { ...key, data: value, version }, condition: { kind: 'none' } }], Math.floor(this.now() / 1000));
    } finally {
      scope.wipe();
    }
  }

  /** A message from `from` (by default the coordinator) to `to`, signed now by `from`'s identity key. */
  signed<T extends Parameters<typeof createEnvelope>[2]['type']>(from: string, type: T, session: string, body: BodyOf<T>, to: string = COORDINATOR): Promise<Envelope> {
    return createEnvelope(this.cast.signer(from), this.now(), { type, session, from, to, body });
  }

  /** A signing request from `cli`, with a fresh request id unless one is given. */
  async request(fields: Partial<SignRequestBody> = {}): Promise<{ request: Envelope; session: string }> {
    const requestId = fields.requestId ?? `pooled-${++this.#requests}`;
    const session = deriveSessionId('cli', requestId);
    const body: SignRequestBody = { requestId, keyId: KEY_ID, message: hex('pay 10 to alice'), ...fields };
    return { request: await this.signed('cli', MessageType.signRequest, session, body), session };
  }

  /** Delivers `envelope` to party `to`. */
  deliver(to: string, envelope: Envelope): Promise<HandleOutcome> {
    return this.member(to).party.handle(JSON.stringify(envelope));
  }

  /** The coordinator asks `to` for a batch; returns the outcome and the batch envelope it sent (if any). */
  async refill(to: string, fields: Partial<BodyOf<typeof MessageType.poolRefill>> = {}, batchId = randomBytes(16).toString('hex')) {
    const envelope = await this.signed(COORDINATOR, MessageType.poolRefill, batchId, { keyId: KEY_ID, epoch: 0, count: 4, ...fields }, to);
    const before = this.member(to).sent.length;
    const outcome = await this.deliver(to, envelope);
    const batch = this.member(to).sent.slice(before).find((e) => e.type === MessageType.poolBatch);
    return { outcome, envelope, batch, batchId };
  }

  /** Everything in `name`'s table but its replay marks (a refused message is remembered as seen, by design). */
  async snapshot(name: string): Promise<StoredItem[]> {
    const items = await this.member(name).store.scanPrefix('');
    return items.filter((item) => !item.pk.startsWith('seen#')).sort((a, b) => (a.pk + a.sk < b.pk + b.sk ? -1 : 1));
  }

  /** The `sign.share` bodies `name` sent since `from` (an index into its sent list). */
  sharesOf(name: string, from = 0) {
    return this.member(name)
      .sent.slice(from)
      .filter((e) => e.type === MessageType.signShare)
      .map((e) => parseBody(e, MessageType.signShare));
  }

  close(): void {
    for (const { store } of this.members.values()) store.close();
  }
}
