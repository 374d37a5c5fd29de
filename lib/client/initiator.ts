/**
 * The initiator side: builds signed requests (every field covered by the initiator's
 * identity signature) and authenticates results as the coordinator's (result-checks.ts
 * then decides whether the parties back them).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../ports/clock.js';
import type { KeyVault } from '../ports/key-vault.js';
import type { Approval } from '../protocol/approvals.js';
import type { Transport } from '../ports/transport.js';
import { DEFAULT_LIMITS, type Directory, type Limits } from '../protocol/directory.js';
import { bytesToHex } from '../protocol/encoding.js';
import { authenticateEnvelope, createEnvelope, deriveSessionId, parseBody } from '../protocol/envelope.js';
import { COORDINATOR, MessageType, type KeygenResultBody, type KeyResultBody, type ReshareResultBody, type SignResultBody } from '../protocol/messages.js';
import { DEFAULT_SUITE_NAME, suiteFor } from '../protocol/suites.js';

/** All an initiator needs of its key: a local Ed25519 key, or a KMS key (Ed25519 or P-256). */
export type IdentitySigner = Pick<KeyVault, 'signIdentity' | 'identityPublicKey'>;

export interface InitiatorDeps {
  readonly id: string;
  readonly vault: IdentitySigner;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Pinned keys; only the coordinator's is needed to check results. */
  readonly directory: Directory;
  readonly limits?: Limits;
}

export interface KeygenOptions {
  readonly keyId: string;
  readonly threshold: number;
  readonly parties: readonly string[];
  readonly requestId?: string;
  /** The key's suite by name (`ed25519`, `secp256k1-tr`, `ed448`). @default 'ed25519' */
  readonly suite?: string;
}

export interface SignOptions {
  readonly keyId: string;
  readonly message: Uint8Array;
  readonly requestId?: string;
  /** Approvers' signatures (see `signApproval`), for keys whose policy requires a quorum. */
  readonly approvals?: readonly Approval[];
  /** Non-hardened derivation path ("m/0/7"): sign under the child key. */
  readonly path?: string | undefined;
  /** secp256k1-tr: sign for the BIP341 output key of the (child) key; `merkleRoot` hex, absent for BIP86. */
  readonly taproot?: { readonly merkleRoot?: string | undefined } | undefined;
}

export type InitiatorResult =
  | { readonly type: 'keygen.result'; readonly session: string; readonly body: KeygenResultBody }
  | { readonly type: 'sign.result'; readonly session: string; readonly body: SignResultBody }
  | { readonly type: 'key.result'; readonly session: string; readonly body: KeyResultBody }
  | { readonly type: 'reshare.result'; readonly session: string; readonly body: ReshareResultBody };

const RESULT_TYPES = new Set<string>([MessageType.keygenResult, MessageType.signResult, MessageType.keyResult, MessageType.reshareResult]);

/** A refresh (same parties and threshold, new shares) or, with `parties` and `threshold`, a reshare. */
export interface LifecycleOptions {
  readonly keyId: string;
  readonly requestId?: string;
  readonly approvals?: readonly Approval[];
  readonly parties?: readonly string[];
  readonly threshold?: number;
  readonly dealers?: readonly string[];
  /** The epoch the change was planned against (README "Key lifecycle"). */
  readonly epoch?: number;
}

export class Initiator {
  readonly id: string;
  readonly #deps: InitiatorDeps;

  constructor(deps: InitiatorDeps) {
    this.id = deps.id;
    this.#deps = deps;
  }

  /** Sends a keygen request; returns its session id (results are correlated by it). */
  async requestKeygen(options: KeygenOptions): Promise<string> {
    const requestId = options.requestId ?? randomUUID();
    return this.#send(MessageType.keygenRequest, requestId, {
      requestId,
      keyId: options.keyId,
      suite: suiteFor(options.suite ?? DEFAULT_SUITE_NAME).id,
      threshold: options.threshold,
      parties: [...options.parties].sort(),
    });
  }

  async requestSignature(options: SignOptions): Promise<string> {
    const requestId = options.requestId ?? randomUUID();
    return this.#send(MessageType.signRequest, requestId, {
      requestId,
      keyId: options.keyId,
      message: bytesToHex(options.message),
      ...(options.approvals !== undefined && options.approvals.length > 0 ? { approvals: [...options.approvals] } : {}),
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.taproot !== undefined ? { taproot: options.taproot.merkleRoot === undefined ? {} : { merkleRoot: options.taproot.merkleRoot } } : {}),
    });
  }

  /** Sends a `refresh.request` (no `parties`/`threshold`) or a `reshare.request`; returns its session id. */
  async requestLifecycle(options: LifecycleOptions): Promise<string> {
    const requestId = options.requestId ?? randomUUID();
    const approvals = options.approvals !== undefined && options.approvals.length > 0 ? { approvals: [...options.approvals] } : {};
    const epoch = options.epoch !== undefined ? { epoch: options.epoch } : {};
    if (options.parties === undefined || options.threshold === undefined) {
      return this.#send(MessageType.refreshRequest, requestId, { requestId, keyId: options.keyId, ...epoch, ...approvals });
    }
    return this.#send(MessageType.reshareRequest, requestId, {
      requestId,
      keyId: options.keyId,
      ...epoch,
      threshold: options.threshold,
      parties: [...options.parties].sort(),
      ...(options.dealers !== undefined ? { dealers: [...options.dealers].sort() } : {}),
      ...approvals,
    });
  }

  async requestKey(options: { keyId: string; requestId?: string }): Promise<string> {
    const requestId = options.requestId ?? randomUUID();
    return this.#send(MessageType.keyRequest, requestId, { requestId, keyId: options.keyId });
  }

  async #send<
    T extends typeof MessageType.keygenRequest | typeof MessageType.signRequest | typeof MessageType.keyRequest | typeof MessageType.refreshRequest | typeof MessageType.reshareRequest,
  >(
    type: T,
    requestId: string,
    body: Parameters<typeof createEnvelope<T>>[2]['body'],
  ): Promise<string> {
    const session = deriveSessionId(this.id, requestId);
    const envelope = await createEnvelope(this.#deps.vault, this.#deps.clock.now(), { type, session, from: this.id, to: COORDINATOR, body });
    await this.#deps.transport.send({ kind: 'coordinator' }, JSON.stringify(envelope));
    return session;
  }

  /**
   * Authenticates a result from this initiator's result queue: signed by the pinned
   * coordinator key and well-formed. Its content is the coordinator's word until checked
   * against the parties' attestations and the pinned key (result-checks.ts).
   */
  openResult(raw: string): InitiatorResult {
    const envelope = authenticateEnvelope(raw, {
      self: this.id,
      directory: this.#deps.directory,
      limits: this.#deps.limits ?? DEFAULT_LIMITS,
      now: this.#deps.clock.now(),
      senderRole: (type) => (RESULT_TYPES.has(type) ? 'coordinator' : undefined),
    });
    if (envelope.type === MessageType.keygenResult) {
      return { type: MessageType.keygenResult, session: envelope.session, body: parseBody(envelope, MessageType.keygenResult) };
    }
    if (envelope.type === MessageType.reshareResult) {
      return { type: MessageType.reshareResult, session: envelope.session, body: parseBody(envelope, MessageType.reshareResult) };
    }
    if (envelope.type === MessageType.keyResult) {
      return { type: MessageType.keyResult, session: envelope.session, body: parseBody(envelope, MessageType.keyResult) };
    }
    // What a result says is checked by the caller, which knows what it asked for and which
    // key is pinned (lib/client/result-checks.ts): here only that the coordinator sent it.
    const body = parseBody(envelope, MessageType.signResult);
    return { type: MessageType.signResult, session: envelope.session, body };
  }
}
