/**
 * The coordinator's I/O, in one place: its tables, the key registry, and sending. Everything
 * it sends is derived from a stored session by the flows' outbox modules, signed here with
 * the coordinator's identity key, and handed to the transport.
 */
import type { Clock } from '../ports/clock.js';
import { StoredStateError } from '../ports/errors.js';
import type { KeyVault } from '../ports/key-vault.js';
import type { ItemBackend, ItemKey } from '../ports/store.js';
import type { Transport } from '../ports/transport.js';
import type { Outgoing } from './coordinator-outbox.js';
import { CoordinatorTables, coordinatorKeys, type KeyRecord, type Session, type SignSession } from './coordinator-state.js';
import type { LogLine } from './coordinator-step.js';
import { DEFAULT_LIMITS, type Directory, type Limits } from './directory.js';
import { createEnvelope } from './envelope.js';
import { keygenOutbox, keygenResult } from './keygen/coordinator-outbox.js';
import { silentLogger, type Logger } from './logger.js';
import { COORDINATOR, type Envelope } from './messages.js';
import { reshareOutbox, reshareResult } from './reshare/coordinator-outbox.js';
import { signOutbox, signResult } from './sign/coordinator-outbox.js';
import type { Suite } from './suite.js';
import { requiredSuite } from './suites.js';

export interface CoordinatorDeps {
  readonly vault: KeyVault;
  readonly store: ItemBackend;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly limits?: Limits;
  /** Test hook: the implementation to use for keys of this suite (a misbehaving one, or one counting point checks). */
  readonly suite?: Suite;
  readonly logger?: Logger;
}

export class CoordinatorIO {
  readonly tables: CoordinatorTables;
  readonly limits: Limits;
  readonly log: Logger;

  /**
   * `prefetch`: reads these items in one round trip ahead of their readers, where the store
   * can (MessageReads.prefetch); by default nothing is read ahead.
   */
  constructor(
    readonly deps: CoordinatorDeps,
    readonly prefetch: (keys: readonly ItemKey[]) => Promise<void> = () => Promise.resolve(),
  ) {
    this.limits = deps.limits ?? DEFAULT_LIMITS;
    this.log = deps.logger ?? silentLogger;
    this.tables = new CoordinatorTables(deps.store, () => this.nowSeconds());
  }

  /** The suite of a key or keygen (its RFC 9591 context string), with its independent verifier loaded. */
  async suiteOf(id: string): Promise<Suite> {
    const suite = this.deps.suite?.id === id ? this.deps.suite : requiredSuite(id);
    await suite.prepareVerifier();
    return suite;
  }

  now(): number {
    return this.deps.clock.now();
  }

  nowSeconds(): number {
    return Math.floor(this.deps.clock.now() / 1000);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    return (await this.tables.keys.get(coordinatorKeys.key(keyId)))?.value;
  }

  /** The key of a signing session: written before the session could exist, so its absence is a stored-state fault. */
  async requiredKey(keyId: string): Promise<KeyRecord> {
    const key = await this.getKey(keyId);
    if (key === undefined) throw new StoredStateError(`key record "${keyId}" missing for a signing session`);
    return key;
  }

  emit(logs: readonly LogLine[] | undefined): void {
    for (const line of logs ?? []) this.log[line.level](line.message, line.fields);
  }

  /** Sends what the session's current phase calls for (`key`: the signing key, if already read). */
  async sendPhase(session: Session, key?: KeyRecord): Promise<void> {
    if (session.kind === 'keygen') return this.sendAll(keygenOutbox(session));
    if (session.kind === 'reshare') return this.sendAll(reshareOutbox(session));
    if (session.phase === 'sign' && session.pooled !== undefined) {
      const batches = await this.#pooledBatches(session);
      if (batches === undefined) {
        // Only a batch that expired after its entry was claimed: nothing can be sent that a
        // signer would accept, so nothing is; the sweeper moves the attempt to two rounds.
        this.log.error('pooled batch gone before its package was sent', { session: session.request.session, keyId: session.keyId, attempt: session.attempt });
        return;
      }
      return this.sendAll(signOutbox(session, key, batches));
    }
    return this.sendAll(signOutbox(session, await this.#signingKey(session, key)));
  }

  /** The signed batches a one-round attempt's signers' commitments come from, by signer (one read round trip); undefined if one is gone. */
  async #pooledBatches(session: SignSession): Promise<Record<string, Envelope> | undefined> {
    const wanted = Object.entries(session.pooled ?? {}).map(([party, entry]) => ({ party, key: coordinatorKeys.poolBatch(session.keyId, party, entry.batchId) }));
    await this.prefetch(wanted.map((w) => w.key));
    const batches: Record<string, Envelope> = {};
    for (const { party, key } of wanted) {
      const item = await this.tables.poolBatches.get(key);
      if (item === undefined) return undefined;
      batches[party] = item.value.batch;
    }
    return batches;
  }

  /** The result of a finished session; `duplicate` when it answers a repeated request. */
  async sendOutcome(session: Session, duplicate: boolean): Promise<void> {
    if (session.kind === 'keygen') return this.sendAll([keygenResult(session, duplicate)]);
    if (session.kind === 'reshare') return this.sendAll([reshareResult(session, duplicate)]);
    return this.sendAll([signResult(session, duplicate, await this.#signingKey(session))]);
  }

  /**
   * Messages to parties first (in parallel), then any answer to the initiator: a result never
   * goes out unless the messages of the phase it reports went out too.
   */
  async sendAll(outgoing: readonly Outgoing[]): Promise<void> {
    await Promise.all(outgoing.filter((o) => o.destination.kind === 'party').map((o) => this.#send(o)));
    await Promise.all(outgoing.filter((o) => o.destination.kind !== 'party').map((o) => this.#send(o)));
  }

  /** The signing key where the phase needs it: to know who may commit (required), and for the result once done. */
  async #signingKey(session: SignSession, key?: KeyRecord): Promise<KeyRecord | undefined> {
    if (key !== undefined) return key;
    if (session.phase === 'commit') return this.requiredKey(session.keyId);
    return session.phase === 'done' ? this.getKey(session.keyId) : undefined;
  }

  async #send({ destination, session, type, body }: Outgoing): Promise<void> {
    const envelope = await createEnvelope(this.deps.vault, this.now(), { type, session, from: COORDINATOR, to: destination.id, body });
    await this.deps.transport.send(destination, JSON.stringify(envelope));
  }
}
