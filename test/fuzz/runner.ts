/**
 * Delivers one fuzz case to the node it targets and checks the invariants:
 *
 * 1. `handle()` never throws: a throw is a redelivery and, for input that fails the same way
 *    every time, a dead-letter (lib/lambda/inbox-handler.ts; the local cluster's queues do
 *    the same). Poison input must be refused instead.
 * 2. A refusal carries a RefusalCode (lib/ports/errors.ts).
 * 3. A refusal changes no stored state but the documented bookkeeping: the replay marker
 *    (`seen#`), the party's audit chain (`audit`, `auditmark#`), rate-limit windows, the
 *    coordinator's audit anchors of authenticated party messages (`anchor#`); a party's
 *    abandonment of a keygen whose signed request verifies (it says so: `party.refused`
 *    with `abandoned: true`, party-abandon.ts); a coordinator's session transition when the
 *    refusal names a cheater it goes on without (blame).
 * 4. A replayed message is refused as `replayed` and changes nothing; one of a party step
 *    without a replay mark (replay-exemptions.ts PARTY_STEPS_MARKED_ONLY_WHEN_REFUSED) gets the first
 *    delivery's outcome and answer again (the same message bodies) and changes nothing; one
 *    of a type the coordinator keeps no replay mark for once processed (replay-exemptions.ts:
 *    `sign.share`, a processed `sign.request`) may be processed instead, and still changes nothing.
 * 5. After a processed mutated message, the node still handles the real message without
 *    throwing (what the mutation stored is readable state, not corruption).
 *
 * The node is a fresh `Party` or `Coordinator` over an in-memory copy of the store it had
 * at that point of the real run (journaled: undone after each case), with its real key.
 */
import { RefusalCode } from '../../lib/ports/errors.js';
import type { Transport } from '../../lib/ports/transport.js';
import { Coordinator } from '../../lib/protocol/coordinator.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { coordinatorMarksProcessed, partyMarksProcessed } from '../../lib/protocol/replay-exemptions.js';
import type { Logger } from '../../lib/protocol/logger.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { Party, type HandleOutcome } from '../../lib/protocol/party.js';

import type { Corpus, Delivery } from './capture.js';
import { JournaledMemoryBackend, type Touched } from './memory-backend.js';
import { materialize, type FuzzCase } from './mutations.js';

const REFUSAL_CODES = new Set<string>(Object.values(RefusalCode));

/** What one delivery did. */
export type StepResult =
  | { readonly kind: 'processed' }
  | { readonly kind: 'refused'; readonly code: string }
  | { readonly kind: 'threw'; readonly error: string };

export interface CaseResult {
  /** The outcome of the fuzzed delivery (the last one, for replays). */
  readonly result: StepResult;
  readonly violations: string[];
  /** The case delivered exactly the real message (an edit that re-signing undid, e.g. of `sig`). */
  readonly unchanged: boolean;
}

interface Node {
  handle(raw: string): Promise<HandleOutcome>;
}

/** Bookkeeping any refusal may write (see 3. above). */
function isBookkeeping(pk: string): boolean {
  return pk.startsWith('seen#') || pk === 'audit' || pk.startsWith('auditmark#') || pk.startsWith('rate#') || pk.startsWith('anchor#');
}

export class FuzzRunner {
  readonly #corpus: Corpus;
  readonly #backends = new Map<number, JournaledMemoryBackend>();

  constructor(corpus: Corpus) {
    this.#corpus = corpus;
  }

  async run(fuzz: FuzzCase): Promise<CaseResult> {
    return this.deliver(fuzz.target, await materialize(fuzz, this.#corpus, this.#corpus.signers), fuzz.kind === 'replay');
  }

  /** Delivers `raws` in order to the node of captured delivery `target`, in its state then; checks the last. */
  async deliver(target: number, raws: readonly string[], replay = false): Promise<CaseResult> {
    const delivery = this.#corpus.deliveries[target];
    if (delivery === undefined) throw new Error(`no delivery ${target}`);
    const backend = this.#backend(target, delivery);
    const violations: string[] = [];
    try {
      let result: StepResult = { kind: 'processed' };
      let firstBodies: string[] = [];
      for (const [index, raw] of raws.entries()) {
        const last = index === raws.length - 1;
        const step = await this.#deliver(delivery, backend, raw);
        result = step.result;
        if (!last) {
          if (step.result.kind !== 'processed') violations.push(`the real message was not processed first: ${JSON.stringify(step.result)}`);
          firstBodies = step.bodies;
          continue;
        }
        violations.push(...step.violations);
        if (replay && delivery.node !== COORDINATOR && !partyMarksProcessed(delivery.type)) {
          // Idempotent from stored state: the same answer again (a fresh envelope around the same body).
          if (result.kind !== 'processed') violations.push(`a replay of ${delivery.type} was ${JSON.stringify(result)}, not processed as the first delivery was`);
          if (JSON.stringify(step.bodies) !== JSON.stringify(firstBodies)) violations.push(`a replay of ${delivery.type} answered differently from the first delivery`);
          if (step.changed.length > 0) violations.push(`a replay changed ${keysOf(step.changed)}`);
        } else if (replay) {
          const unmarked = delivery.node === COORDINATOR && !coordinatorMarksProcessed(delivery.type, DEFAULT_LIMITS);
          if ((result.kind !== 'refused' || result.code !== RefusalCode.replayed) && !(unmarked && result.kind !== 'threw')) violations.push(`a replay was ${JSON.stringify(result)}, not refused as replayed`);
          const changed = step.changed.filter((t) => !t.pk.startsWith('anchor#'));
          if (changed.length > 0) violations.push(`a replay changed ${keysOf(changed)}`);
        }
      }
      // 5: what a processed mutation stored must still be state the node can work with.
      if (result.kind === 'processed' && raws.length === 1 && raws[0] !== delivery.raw) {
        const after = await this.#deliver(delivery, backend, delivery.raw);
        if (after.result.kind === 'threw') violations.push(`after a processed mutation, the real message threw: ${after.result.error}`);
      }
      return { result, violations, unchanged: raws.length === 1 && raws[0] === delivery.raw };
    } finally {
      backend.reset();
    }
  }

  async #deliver(delivery: Delivery, backend: JournaledMemoryBackend, raw: string): Promise<{ result: StepResult; changed: Touched[]; violations: string[]; bodies: string[] }> {
    const sent: string[] = [];
    let blame = false;
    const logger: Logger = {
      info: () => undefined,
      warn: (message, fields = {}) => {
        if (message === 'message refused' && typeof fields.blame === 'string' && fields.blame.length > 0) blame = true;
      },
      error: () => undefined,
    };
    const transport: Transport = { send: async (_destination, body) => void sent.push(body) };
    const node = this.#node(delivery, backend, transport, logger);
    backend.beginStep();
    let result: StepResult;
    try {
      const outcome = await node.handle(raw);
      result = outcome.status === 'processed' ? { kind: 'processed' } : { kind: 'refused', code: outcome.code };
    } catch (error) {
      result = { kind: 'threw', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    const changed = backend.changed();
    const violations: string[] = [];
    if (result.kind === 'threw') violations.push(`handle() threw (would be redelivered into the DLQ): ${result.error}`);
    if (result.kind === 'refused') {
      if (!REFUSAL_CODES.has(result.code)) violations.push(`refused with an unknown code "${result.code}"`);
      const abandoned = sent.some((body) => {
        const envelope = JSON.parse(body) as { type: string; body: { abandoned?: boolean } };
        return envelope.type === MessageType.partyRefused && envelope.body.abandoned === true;
      });
      const unexplained = changed.filter((t) => {
        if (isBookkeeping(t.pk)) return false;
        if (delivery.node !== COORDINATOR && abandoned && t.pk.startsWith('dkg#')) return false;
        if (delivery.node === COORDINATOR && blame && (t.pk.startsWith('session#') || t.pk.startsWith('commitment#'))) return false;
        return true;
      });
      if (unexplained.length > 0) violations.push(`refused (${result.code}) but changed ${keysOf(unexplained)}`);
    }
    // What the node answered, without the envelopes (fresh ids and times on every send).
    const bodies = sent.map((body) => JSON.stringify((JSON.parse(body) as { body: unknown }).body));
    return { result, changed, violations, bodies };
  }

  #node(delivery: Delivery, store: JournaledMemoryBackend, transport: Transport, logger: Logger): Node {
    const { directory, policy, vaults } = this.#corpus;
    const vault = vaults.get(delivery.node);
    if (vault === undefined) throw new Error(`no vault for ${delivery.node}`);
    const clock = { now: () => delivery.at };
    if (delivery.node === COORDINATOR) return new Coordinator({ vault, store, transport, clock, directory, logger });
    return new Party({ id: delivery.node, vault, store, transport, clock, directory, policy, logger });
  }

  #backend(index: number, delivery: Delivery): JournaledMemoryBackend {
    let backend = this.#backends.get(index);
    if (backend === undefined) {
      backend = new JournaledMemoryBackend(delivery.before);
      this.#backends.set(index, backend);
    }
    return backend;
  }
}

function keysOf(touched: readonly Touched[]): string {
  return touched.map((t) => `${t.pk}/${t.sk}`).join(', ');
}
