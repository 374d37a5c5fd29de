/**
 * The sessions of a run and the machinery to drive them: a seeded mix of signatures and
 * keygens, a pool of `concurrency` workers, and a collector that files every result by
 * request id (duplicates included, which is what the duplicate-result invariant reads).
 */
import type { InitiatorResult } from '../../client/initiator.js';
import { utf8ToBytes } from '../../protocol/encoding.js';
import type { ResultSeen, SessionSeen } from './invariants.js';
import { rngFor } from './rng.js';

export interface KeySpec {
  readonly keyId: string;
  readonly threshold: number;
  readonly parties: readonly string[];
}

export type PlannedSession =
  | { readonly kind: 'sign'; readonly requestId: string; readonly keyId: string; readonly message: Uint8Array }
  | { readonly kind: 'keygen'; readonly requestId: string; readonly key: KeySpec };

/** `signatures` signatures spread over `signingKeys`, and `keygens` new keys, in a seeded order. */
export function planSessions(options: {
  seed: string;
  signatures: number;
  keygens: number;
  signingKeys: readonly KeySpec[];
  keyShapes: readonly KeySpec[];
}): PlannedSession[] {
  const rng = rngFor(options.seed, 'sessions');
  const sessions: PlannedSession[] = [];
  for (let i = 0; i < options.signatures; i++) {
    const key = options.signingKeys[i % options.signingKeys.length];
    if (key === undefined) throw new RangeError('no signing key');
    sessions.push({ kind: 'sign', requestId: `chaos-sign-${i}`, keyId: key.keyId, message: utf8ToBytes(`chaos ${options.seed} message ${i}`) });
  }
  for (let i = 0; i < options.keygens; i++) {
    const shape = options.keyShapes[i % options.keyShapes.length];
    if (shape === undefined) throw new RangeError('no key shape');
    sessions.push({ kind: 'keygen', requestId: `chaos-keygen-${i}`, key: { ...shape, keyId: `${shape.keyId}-${i}` } });
  }
  return rng.shuffle(sessions);
}

export function resultSeen(result: InitiatorResult): ResultSeen {
  const body = result.body;
  return {
    ok: body.ok,
    duplicate: 'duplicate' in body ? body.duplicate : false,
    errorCode: body.error?.code,
    signature: 'signature' in body ? body.signature : undefined,
    publicKey: 'publicKey' in body ? body.publicKey : undefined,
  };
}

/** Files results by request id and wakes whoever waits for the first one. */
export class ResultBook {
  readonly #results = new Map<string, ResultSeen[]>();
  readonly #waiters = new Map<string, () => void>();
  unreadable = 0;

  add(requestId: string, seen: ResultSeen): void {
    this.#results.set(requestId, [...(this.#results.get(requestId) ?? []), seen]);
    this.#waiters.get(requestId)?.();
    this.#waiters.delete(requestId);
  }

  get(requestId: string): readonly ResultSeen[] {
    return this.#results.get(requestId) ?? [];
  }

  /** Resolves true when a first result is in, false after `timeoutMs`. */
  async wait(requestId: string, timeoutMs: number): Promise<boolean> {
    if (this.get(requestId).length > 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(requestId);
        resolve(false);
      }, timeoutMs);
      this.#waiters.set(requestId, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      const item = items[index];
      if (item === undefined) return;
      await work(item, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

/** Drives planned sessions: send each request, wait for its first result, note the latency. */
export async function driveSessions(options: {
  sessions: readonly PlannedSession[];
  concurrency: number;
  timeoutMs: number;
  book: ResultBook;
  send: (session: PlannedSession) => Promise<void>;
  /** The group key of a signing key (from its keygen result), for verification. */
  publicKeyOf: (keyId: string) => string | undefined;
  onProgress?: (done: number) => void;
}): Promise<SessionSeen[]> {
  const seen: SessionSeen[] = [];
  const latencies = new Map<string, number>();
  let done = 0;
  await pool(options.sessions, options.concurrency, async (session) => {
    const started = performance.now();
    await options.send(session);
    if (await options.book.wait(session.requestId, options.timeoutMs)) latencies.set(session.requestId, performance.now() - started);
    options.onProgress?.(++done);
  });
  for (const session of options.sessions) {
    const latencyMs = latencies.get(session.requestId);
    const book = options.book;
    const common = {
      requestId: session.requestId,
      // Read when the invariants are checked, not now: late results and redeliveries count.
      get results() {
        return book.get(session.requestId);
      },
      ...(latencyMs !== undefined ? { latencyMs } : {}),
    };
    if (session.kind === 'sign') {
      const expectedPublicKey = options.publicKeyOf(session.keyId);
      seen.push({ ...common, kind: 'sign', keyId: session.keyId, message: session.message, ...(expectedPublicKey !== undefined ? { expectedPublicKey } : {}) });
    } else {
      seen.push({ ...common, kind: 'keygen', keyId: session.key.keyId, parties: session.key.parties });
    }
  }
  return seen;
}
