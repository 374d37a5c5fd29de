/**
 * The initiator SDK. Applications call `keygen`, `sign` and `getKey` (and, for a key's
 * lifecycle, `refresh`, `reshare` and `repair`); each returns a promise
 * that settles with the verified result or a typed error, honouring an AbortSignal and a
 * timeout. Requests are signed over every field; results come back on this initiator's
 * own result queue and are matched to their request by request id, so many concurrent
 * requests (and many initiators) never take each other's results.
 *
 * @example
 * ```ts
 * const client = new FrostlineClient({ initiatorId: 'payments', signer, coordinatorKey, requests, results });
 * const { signature } = await client.sign({ keyId: 'treasury', message: bytes, requestId: 'order-42' });
 * ```
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../ports/clock.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import type { Transport } from '../ports/transport.js';
import type { Approval } from '../protocol/approvals.js';
import { bytesToHex } from '../protocol/encoding.js';
import { deriveKey, derivedKeyView, exportXpub, signingDerivation, type TaprootOption } from '../protocol/derivation/key.js';
import { parsePath } from '../protocol/derivation/path.js';
import { errorFromResult, RequestAbortedError, RequestError, RequestTimeoutError, UntrustedResultError } from './errors.js';
import { derivableOf, epochOf, KeyPinMismatchError, MemoryKeyPins, pinOf, type EpochedKey, type KeyPins, type PinnedKey } from './key-pins.js';
import {
  CallOptionsSchema,
  ClientOptionsSchema,
  KeygenOptionsSchema,
  RefreshOptionsSchema,
  RepairOptionsSchema,
  ReshareOptionsSchema,
  SignOptionsSchema,
  validated,
} from './options-schema.js';
import { Name } from '../protocol/messages.js';
import { deriveSessionId } from '../protocol/envelope.js';
import { attestedKeyOf, checkedSignature, lifecycleKeyOf, signingKeyHex } from './result-checks.js';
import { InvalidArgumentError } from './errors.js';
import { DEFAULT_SUITE_NAME, suiteById, suiteFor } from '../protocol/suites.js';
import { Initiator, type IdentitySigner, type InitiatorResult } from './initiator.js';
import type { ResultInbox } from './result-inbox.js';

export interface FrostlineClientOptions {
  readonly initiatorId: string;
  /** The initiator's key: `LocalKeySigner` (PEM) or a KMS-backed signer. */
  readonly signer: IdentitySigner;
  /** The coordinator's pinned identity key: only results it signed are accepted. */
  readonly coordinatorKey: IdentityPublicKey;
  /**
   * Every party's pinned identity key (from the deployment config). A key is trusted only
   * when all its parties attested it, each signed by its key here.
   */
  readonly partyKeys: Readonly<Record<string, IdentityPublicKey>>;
  /** Where verified group keys are pinned per key id. @default in memory, for this client */
  readonly pins?: KeyPins;
  /** Sends to the coordinator's request queue. */
  readonly requests: Transport;
  /** This initiator's own result queue. */
  readonly results: ResultInbox;
  readonly clock?: Clock;
  /** @default 120000 */
  readonly timeoutMs?: number;
  /** Longest single long-poll of the result queue. @default 1000 */
  readonly pollWaitMs?: number;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** A key as all of its parties attested it (and as it is now pinned). */
export interface KeyInfo {
  readonly keyId: string;
  /** Group public key, hex, as the suite's verifier takes it (Ed25519/Ed448 RFC 8032 key; BIP340 x-only key for secp256k1-tr). */
  readonly publicKey: string;
  readonly threshold: number;
  readonly parties: readonly string[];
  /** The key's suite by name: `ed25519`, `secp256k1-tr` or `ed448`. */
  readonly suite: string;
}

export interface KeygenResult extends KeyInfo {
  readonly requestId: string;
  /** True when this request id was seen before and this is its first result again. */
  readonly duplicate: boolean;
}

/** A key's new epoch after a refresh, reshare or repair: same group key, new shares (README "Key lifecycle"). */
export interface LifecycleResult extends KeyInfo {
  readonly requestId: string;
  /** The key epoch now current: keygen is 0, each completed refresh or reshare adds one. */
  readonly epoch: number;
  /** True when this request id was seen before and this is its first result again. */
  readonly duplicate: boolean;
}

/** Options every lifecycle call takes. */
interface LifecycleCommon {
  readonly keyId: string;
  readonly requestId?: string;
  /** Approvers' signatures over the request, for keys whose policy requires a quorum for reshares. */
  readonly approvals?: readonly Approval[];
}

export interface SignatureResult {
  readonly requestId: string;
  readonly keyId: string;
  /** The key the signature verifies under: the group key, the child key for a request with a `path`, its BIP341 output key with `taproot`. */
  readonly publicKey: string;
  readonly path?: string;
  readonly taproot?: TaprootOption;
  readonly message: Uint8Array;
  /** The key's suite's signature (Ed25519 64, BIP340 64, Ed448 114 bytes), verified independently under the pinned key over the requested message. */
  readonly signature: Uint8Array;
  readonly signatureHex: string;
  readonly signers: readonly string[];
  readonly duplicate: boolean;
  /** The key's suite by name. */
  readonly suite: string;
}

/** A suite's user-facing name from its context string (as pinned and attested). */
function suiteName(id: string): string {
  return suiteById(id)?.name ?? id;
}

function keyInfo(key: { keyId: string; publicKey: string; threshold: number; parties: readonly string[]; suite: string }): KeyInfo {
  return { keyId: key.keyId, publicKey: key.publicKey, threshold: key.threshold, parties: [...key.parties], suite: suiteName(key.suite) };
}

interface Waiter {
  readonly type: InitiatorResult['type'];
  resolve(result: InitiatorResult): void;
}

export class FrostlineClient {
  readonly #initiator: Initiator;
  readonly #results: ResultInbox;
  readonly #timeoutMs: number;
  readonly #pollWaitMs: number;
  readonly #waiting = new Map<string, Waiter>();
  readonly #partyKeys: Readonly<Record<string, IdentityPublicKey>>;
  readonly #pins: KeyPins;
  #polling = false;

  /** @throws InvalidArgumentError when an option is missing or of the wrong kind */
  constructor(options: FrostlineClientOptions) {
    validated(ClientOptionsSchema, options, 'new FrostlineClient');
    const clock = options.clock ?? systemClock;
    this.#initiator = new Initiator({
      id: options.initiatorId,
      vault: options.signer,
      transport: options.requests,
      clock,
      directory: { coordinator: options.coordinatorKey, parties: {}, initiators: {} },
    });
    this.#results = options.results;
    this.#partyKeys = options.partyKeys;
    this.#pins = options.pins ?? new MemoryKeyPins();
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#pollWaitMs = options.pollWaitMs ?? 1000;
  }

  /** Requests a new t-of-n key. Settles when every party has confirmed it. */
  async keygen(options: { keyId: string; threshold: number; parties: readonly string[]; requestId?: string; suite?: string } & CallOptions): Promise<KeygenResult> {
    validated(KeygenOptionsSchema, options, 'keygen');
    const requestId = options.requestId ?? randomUUID();
    const suite = suiteFor(options.suite ?? DEFAULT_SUITE_NAME);
    const result = await this.#call(requestId, 'keygen.result', options, () =>
      this.#initiator.requestKeygen({ keyId: options.keyId, threshold: options.threshold, parties: options.parties, requestId, suite: suite.name }),
    );
    if (result.type !== 'keygen.result') throw new RequestError('bad-result', 'unexpected result type', requestId);
    const body = result.body;
    if (!body.ok) throw errorFromResult(requestId, body.error);
    const attested = attestedKeyOf(body, this.#partyKeys, { keyId: options.keyId, threshold: options.threshold, parties: options.parties, suite: suite.id }, requestId);
    // A new key is epoch 0: a later epoch's attestations are another key's history, not this keygen.
    if (attested.epoch !== 0) throw new UntrustedResultError(`keygen result for request "${requestId}" carries attestations of epoch ${attested.epoch}`, requestId);
    const key = await this.#pin(attested, requestId);
    return { ...keyInfo(key), requestId, duplicate: body.duplicate };
  }

  /**
   * New shares for the same parties and threshold: every party deals a zero-constant
   * polynomial (README "Key lifecycle"). Settles when every party confirmed the new epoch;
   * the result is checked against the pinned key (same group key, a later epoch, attested by
   * every party) and pinned. Repeating a request id returns the first result.
   */
  async refresh(options: LifecycleCommon & CallOptions): Promise<LifecycleResult> {
    validated(RefreshOptionsSchema, options, 'refresh');
    return this.#lifecycle(options, undefined, (requestId, epoch) =>
      this.#initiator.requestLifecycle({ keyId: options.keyId, requestId, epoch, ...(options.approvals !== undefined ? { approvals: options.approvals } : {}) }),
    );
  }

  /**
   * Moves a key to a new party set and/or threshold; the group key stays. `dealers` (default:
   * every current party, at least the current threshold of them) deal the current shares to
   * `parties`. Every party checks its own policy and deals only to parties it has pinned.
   */
  async reshare(options: LifecycleCommon & { parties: readonly string[]; threshold: number; dealers?: readonly string[] } & CallOptions): Promise<LifecycleResult> {
    validated(ReshareOptionsSchema, options, 'reshare');
    return this.#lifecycle(options, { parties: options.parties, threshold: options.threshold }, (requestId, epoch) =>
      this.#initiator.requestLifecycle({
        keyId: options.keyId,
        epoch,
        parties: options.parties,
        threshold: options.threshold,
        requestId,
        ...(options.dealers !== undefined ? { dealers: options.dealers } : {}),
        ...(options.approvals !== undefined ? { approvals: options.approvals } : {}),
      }),
    );
  }

  /**
   * Restores `party`'s share (a lost table or KMS key): a reshare to the key's current set
   * and threshold in which `party` only receives and every other current party deals.
   * The current set is fetched (attested) first, not taken from a pin that may be stale.
   */
  async repair(options: LifecycleCommon & { party: string } & CallOptions): Promise<LifecycleResult> {
    validated(RepairOptionsSchema, options, 'repair');
    const current = await this.#fetchKey(options.keyId, callOptions(options));
    if (!current.parties.includes(options.party)) {
      throw new InvalidArgumentError('options.party', `repair: party "${options.party}" holds no share of "${options.keyId}" (its parties: ${current.parties.join(', ')})`);
    }
    const dealers = current.parties.filter((p) => p !== options.party);
    if (dealers.length < current.threshold) {
      throw new InvalidArgumentError('options.party', `repair: without "${options.party}" only ${dealers.length} parties remain to deal, the key's threshold is ${current.threshold}`);
    }
    const { party: _party, ...rest } = options;
    return this.reshare({ ...rest, parties: current.parties, threshold: current.threshold, dealers });
  }

  async #lifecycle(
    options: LifecycleCommon & CallOptions,
    requested: { parties: readonly string[]; threshold: number } | undefined,
    send: (requestId: string, epoch: number) => Promise<unknown>,
  ): Promise<LifecycleResult> {
    const requestId = options.requestId ?? randomUUID();
    // The key as pinned (or attested now): the new epoch must keep its group key. The request
    // names this epoch, so parties at any other refuse it (a stale pin fails, never steers).
    const pinned = (await this.#pins.get(options.keyId)) ?? (await this.#fetchKey(options.keyId, callOptions(options)));
    const result = await this.#call(requestId, 'reshare.result', options, () => send(requestId, epochOf(pinned)));
    if (result.type !== 'reshare.result') throw new RequestError('bad-result', 'unexpected result type', requestId);
    const body = result.body;
    if (!body.ok) throw errorFromResult(requestId, body.error);
    const key = lifecycleKeyOf(body, this.#partyKeys, pinned, { keyId: options.keyId, ...requested, session: deriveSessionId(this.#initiator.id, requestId) }, requestId);
    const pin = await this.#pin(key, requestId);
    return { ...keyInfo(pin), requestId, epoch: epochOf(pin), duplicate: body.duplicate };
  }

  /** Requests a signature. Repeating a request id returns the first result (`duplicate: true`). */
  async sign(
    options: { keyId: string; message: Uint8Array; requestId?: string; approvals?: readonly Approval[]; path?: string; taproot?: TaprootOption } & CallOptions,
  ): Promise<SignatureResult> {
    validated(SignOptionsSchema, options, 'sign');
    if (options.path !== undefined) parsePath(options.path); // refused here, before anything is sent
    const requestId = options.requestId ?? randomUUID();
    // The key is pinned before anything is signed: its attestations are fetched once.
    const pinned = (await this.#pins.get(options.keyId)) ?? (await this.#fetchKey(options.keyId, callOptions(options)));
    // The key the signature must verify under, derived now: a taproot option on a key of
    // another suite (or a bad merkle root) is refused before anything is sent.
    const publicKey = signingKeyHex(pinned, options);
    const result = await this.#call(requestId, 'sign.result', options, () =>
      this.#initiator.requestSignature({
        keyId: options.keyId,
        message: options.message,
        requestId,
        approvals: options.approvals,
        path: options.path,
        taproot: options.taproot,
      }),
    );
    if (result.type !== 'sign.result') throw new RequestError('bad-result', 'unexpected result type', requestId);
    const body = result.body;
    if (!body.ok) throw errorFromResult(requestId, body.error);
    // The pinned key's suite's independent verifier (libsecp256k1 loads on first use).
    await suiteById(pinned.suite)?.prepareVerifier();
    const signature = checkedSignature(body, pinned, options, requestId);
    return {
      requestId,
      keyId: options.keyId,
      publicKey,
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.taproot === undefined ? {} : { taproot: options.taproot }),
      message: options.message,
      signature,
      signatureHex: bytesToHex(signature),
      signers: body.signers ?? [],
      duplicate: body.duplicate,
      suite: suiteName(pinned.suite),
    };
  }

  /**
   * The child public key of `keyId` at a non-hardened `path` ("m/0/7"), computed offline from
   * the attested key data (pinned, or fetched and pinned once): the key `sign({ path })`
   * signatures verify under. README "Derivation".
   */
  async derivePublicKey(
    keyId: string,
    path: string,
    options: CallOptions & { taproot?: TaprootOption } = {},
  ): Promise<{ keyId: string; publicKey: string; chainCode: string; path: string; taproot?: TaprootOption }> {
    validated(Name, keyId, 'derivePublicKey', 'keyId');
    // The pin (suite as its RFC 9591 context string, which the chain code hashes), not getKey's view.
    const pinned = (await this.#pins.get(keyId)) ?? (await this.#fetchKey(keyId, options));
    // derivableOf: the chain code of the keygen package, the same in every epoch.
    const derived = options.taproot === undefined ? deriveKey(derivableOf(pinned), path) : signingDerivation(derivableOf(pinned), path, options.taproot);
    if (derived === undefined) throw new Error('unreachable: a path always derives');
    return { keyId, ...derivedKeyView(derived), ...(options.taproot === undefined ? {} : { taproot: options.taproot }) };
  }

  /** The BIP32 xpub of a secp256k1-tr key (from its attested data); other suites are refused. */
  async exportXpub(keyId: string, options: CallOptions = {}): Promise<string> {
    validated(Name, keyId, 'exportXpub', 'keyId');
    const pinned = (await this.#pins.get(keyId)) ?? (await this.#fetchKey(keyId, options));
    return exportXpub(derivableOf(pinned));
  }

  /** The group key pinned for `keyId` in this client's pins, if any (no request is sent). */
  async pinnedKey(keyId: string): Promise<KeyInfo | undefined> {
    validated(Name, keyId, 'pinnedKey', 'keyId');
    const pin = await this.#pins.get(keyId);
    return pin === undefined ? undefined : keyInfo(pin);
  }

  /** Looks a key up; accepted only as all its parties attested it, and pinned (a pinned key must match). */
  async getKey(keyId: string, options: CallOptions = {}): Promise<KeyInfo & PinnedKey> {
    validated(Name, keyId, 'getKey', 'keyId');
    validated(CallOptionsSchema, options, 'getKey');
    const pin = await this.#fetchKey(keyId, options);
    return { ...pin, suite: suiteName(pin.suite) };
  }

  /** The key as its parties attested it, pinned; `suite` as pinned (the RFC 9591 context string). */
  async #fetchKey(keyId: string, options: CallOptions): Promise<PinnedKey> {
    const requestId = randomUUID();
    const result = await this.#call(requestId, 'key.result', options, () => this.#initiator.requestKey({ keyId, requestId }));
    if (result.type !== 'key.result') throw new RequestError('bad-result', 'unexpected result type', requestId);
    const body = result.body;
    if (!body.ok) throw errorFromResult(requestId, body.error);
    return this.#pin(attestedKeyOf(body, this.#partyKeys, { keyId }, requestId), requestId);
  }

  async #pin(key: EpochedKey, requestId: string): Promise<PinnedKey> {
    const pin = pinOf(key);
    try {
      await this.#pins.pin(pin);
    } catch (error) {
      if (error instanceof KeyPinMismatchError) throw new UntrustedResultError(error.message, requestId, { cause: error });
      throw error;
    }
    return pin;
  }

  /**
   * Registers the waiter before sending, so a fast result cannot be missed. Every way this
   * can end (abort, timeout, a send that throws or rejects, the result) reaches the
   * returned promise and nothing else: the waiter's own promise may settle while the send
   * is still running, so both are raced, never left unobserved.
   */
  async #call(requestId: string, type: InitiatorResult['type'], options: CallOptions, send: () => Promise<unknown>): Promise<InitiatorResult> {
    if (this.#waiting.has(requestId)) throw new RequestConflictInFlight(requestId);
    if (options.signal?.aborted) throw new RequestAbortedError('aborted', 'aborted before sending', requestId);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let cleanup = () => {};
    const settled = new Promise<InitiatorResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new RequestTimeoutError('timeout', `no result for request "${requestId}" within ${timeoutMs} ms`, requestId));
      }, timeoutMs);
      const onAbort = () => {
        cleanup();
        reject(new RequestAbortedError('aborted', `request "${requestId}" was aborted (it may still complete; repeat the request id to fetch its result)`, requestId));
      };
      cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#waiting.delete(requestId);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(requestId, {
        type,
        resolve: (result) => {
          cleanup();
          resolve(result);
        },
      });
    });
    // A send that throws synchronously becomes a rejection too (then() calls it).
    const sending = Promise.resolve().then(send);
    // Whichever loses the race below is observed here, so its rejection is never unhandled.
    settled.catch(() => {});
    sending.catch(() => {});
    try {
      await Promise.race([sending, settled]);
    } catch (error) {
      cleanup();
      throw error;
    }
    this.#startPolling();
    return settled;
  }

  /** One poll loop per client, running while anything is awaited. */
  #startPolling(): void {
    if (this.#polling) return;
    this.#polling = true;
    void (async () => {
      try {
        while (this.#waiting.size > 0) {
          let progressed = false;
          try {
            progressed = await this.#pollOnce();
          } catch {
            // An ack or release that failed: the message comes back after its visibility
            // timeout. The loop must go on (and must not reject: nobody awaits it).
          }
          // Only results for others came back (released, so visible again at once): polling
          // again at once would spin on them — on a local inbox without ever yielding to
          // timers, on SQS with a receive call per round trip.
          if (!progressed) await new Promise((resolve) => setTimeout(resolve, this.#pollWaitMs));
        }
      } finally {
        this.#polling = false;
        if (this.#waiting.size > 0) this.#startPolling();
      }
    })();
  }

  /** One receive; true when it handed a result to a waiter or had nothing to hand out. */
  async #pollOnce(): Promise<boolean> {
    let messages;
    try {
      messages = await this.#results.receive(this.#pollWaitMs);
    } catch {
      return false; // transient: the SDK retried already; wait before the next receive
    }
    let delivered = messages.length === 0; // an empty long poll has waited already
    for (const message of messages) {
      let result: InitiatorResult;
      try {
        result = this.#initiator.openResult(message.body);
      } catch {
        await message.ack(); // not from our coordinator, or not for us: never acted on
        delivered = true;
        continue;
      }
      const waiter = this.#waiting.get(result.body.requestId);
      if (waiter !== undefined && waiter.type === result.type) {
        await message.ack();
        waiter.resolve(result);
        delivered = true;
      } else {
        // Another client of this initiator (or an abandoned request) waits for it.
        await message.release();
      }
    }
    return delivered;
  }
}

/** The abort signal and timeout of a call, for the calls it makes on its behalf. */
function callOptions(options: CallOptions): CallOptions {
  return { ...(options.signal !== undefined ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
}

/** Two concurrent calls with one request id in one client would race for one result. */
class RequestConflictInFlight extends RequestError {
  override readonly name = 'RequestConflictInFlight';
  constructor(requestId: string) {
    super('in-flight', `request "${requestId}" is already awaited by this client`, requestId);
  }
}
