/**
 * Applies a fault plan to a running deployment through its hooks only: the transport
 * interceptor (what is sent), a wrapper around each inbox handler (what is received and
 * acknowledged) and each node's clock. Nothing in the protocol knows it is there, and the
 * queues keep their own semantics: a "dropped" or "crashed" delivery is a handler that
 * throws, so the queue itself redelivers it after the visibility timeout or dead-letters it.
 */
import type { Clock } from '../../ports/clock.js';
import { FrostlineError } from '../../ports/errors.js';
import type { Destination } from '../../ports/transport.js';
import { FAULT_KINDS, partyDownAt, type FaultKind, type FaultPlan } from './fault-plan.js';
import { rngFor, type SeededRng } from './rng.js';

/** The failure a fault raises inside a handler: the queue redelivers the message. */
export class InjectedFault extends FrostlineError {
  override readonly name: string = 'InjectedFault';
  constructor(readonly kind: FaultKind) {
    super('injected-fault', `chaos: injected ${kind}`);
  }
}

export type Handler<C> = (body: string, context: C) => Promise<void>;
export type DeliverLater = (destination: Destination, body: string) => Promise<void>;

export interface FaultInjectorOptions {
  /** Nodes whose sends may crash (handlers: parties and coordinator; not initiators, which have no retry). */
  readonly crashingSenders: ReadonlySet<string>;
  /** Nodes the party-down windows apply to. */
  readonly parties: ReadonlySet<string>;
  /** Wall time for the party-down schedule. @default Date.now */
  readonly now?: () => number;
}

interface Held {
  readonly destination: Destination;
  readonly body: string;
  readonly timer: NodeJS.Timeout;
}

export class FaultInjector {
  readonly counts: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  /** Off: every hook passes messages through untouched (setup, final checks). */
  enabled = true;
  readonly #plan: FaultPlan;
  readonly #options: FaultInjectorOptions;
  readonly #sendRng: SeededRng;
  readonly #receiveRng: SeededRng;
  readonly #held = new Map<string, Held[]>();
  readonly #now: () => number;
  #deliverLater: DeliverLater | undefined;
  #startedAt: number;
  #pending = 0;
  #deliveryErrors = 0;

  constructor(plan: FaultPlan, options: FaultInjectorOptions) {
    this.#plan = plan;
    this.#options = options;
    this.#sendRng = rngFor(plan.seed, 'send');
    this.#receiveRng = rngFor(plan.seed, 'receive');
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.counts.clockSkew = Object.values(plan.clockSkewMs).filter((ms) => ms !== 0).length;
  }

  /** Where held and delayed messages go when their time comes (set once the deployment is open). */
  attach(deliverLater: DeliverLater): void {
    this.#deliverLater = deliverLater;
    this.#startedAt = this.#now();
  }

  /** Messages held or delayed and not yet enqueued. */
  get pending(): number {
    return this.#pending;
  }

  /** Delayed sends that failed to enqueue (should stay 0: a lost message the harness caused). */
  get deliveryErrors(): number {
    return this.#deliveryErrors;
  }

  /** The transport hook: returns the bodies to enqueue now, in order. */
  readonly intercept = async (message: { from: string; destination: Destination; body: string }): Promise<string[]> => {
    const key = destinationKey(message.destination);
    const held = this.#takeHeld(key);
    if (!this.enabled) return [message.body, ...held];
    const { rates } = this.#plan;
    let r = this.#sendRng.next();
    if (this.#options.crashingSenders.has(message.from) && (r -= rates.crashAfterWrite) < 0) {
      this.counts.crashAfterWrite += 1;
      this.#hold(key, held); // what was held stays held: the crash does not release it
      throw new InjectedFault('crashAfterWrite');
    }
    if ((r -= rates.duplicate) < 0) {
      this.counts.duplicate += 1;
      return [message.body, message.body, ...held];
    }
    if ((r -= rates.reorder) < 0) {
      this.counts.reorder += 1;
      this.#hold(key, [...held, message.body], message.destination);
      return [];
    }
    if ((r -= rates.delay) < 0) {
      this.counts.delay += 1;
      const { min, max } = this.#plan.delayMs;
      this.#later(message.destination, message.body, this.#sendRng.int(min, max));
      return held;
    }
    return [message.body, ...held];
  };

  /** The receive hook around one node's inbox handler. */
  wrapHandler<C>(node: string, handler: Handler<C>): Handler<C> {
    return async (body, context) => {
      if (!this.enabled) return handler(body, context);
      if (this.#options.parties.has(node) && partyDownAt(this.#plan, this.#now() - this.#startedAt) === node) {
        this.counts.partyDown += 1;
        throw new InjectedFault('partyDown');
      }
      const { rates } = this.#plan;
      const r = this.#receiveRng.next();
      if (r < rates.drop) {
        this.counts.drop += 1;
        throw new InjectedFault('drop');
      }
      await handler(body, context);
      if (r < rates.drop + rates.crashBeforeAck) {
        this.counts.crashBeforeAck += 1;
        throw new InjectedFault('crashBeforeAck');
      }
    };
  }

  /** A node's skewed clock. */
  clockFor(node: string, base: Clock): Clock {
    const offset = this.#plan.clockSkewMs[node] ?? 0;
    return { now: () => base.now() + offset };
  }

  /** Waits until every held or delayed message has been enqueued. */
  async flush(): Promise<void> {
    for (const [key, list] of this.#held) {
      this.#held.delete(key);
      for (const held of list) {
        clearTimeout(held.timer);
        this.#pending -= 1;
        await this.#deliver(held.destination, held.body);
      }
    }
    while (this.#pending > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  #takeHeld(key: string): string[] {
    const list = this.#held.get(key);
    if (list === undefined) return [];
    this.#held.delete(key);
    for (const held of list) {
      clearTimeout(held.timer);
      this.#pending -= 1;
    }
    return list.map((held) => held.body);
  }

  /** Holds bodies until the next send to the same queue, or 50 ms, whichever comes first. */
  #hold(key: string, bodies: readonly string[], destination?: Destination): void {
    const target = destination ?? destinationFromKey(key);
    for (const body of bodies) {
      const timer = setTimeout(() => {
        const list = this.#held.get(key);
        const index = list?.findIndex((h) => h.timer === timer) ?? -1;
        if (list === undefined || index < 0) return;
        list.splice(index, 1);
        if (list.length === 0) this.#held.delete(key);
        this.#pending -= 1;
        void this.#deliver(target, body);
      }, 50);
      this.#pending += 1;
      const list = this.#held.get(key) ?? [];
      list.push({ destination: target, body, timer });
      this.#held.set(key, list);
    }
  }

  #later(destination: Destination, body: string, ms: number): void {
    this.#pending += 1;
    setTimeout(() => {
      void this.#deliver(destination, body).finally(() => {
        this.#pending -= 1;
      });
    }, ms);
  }

  async #deliver(destination: Destination, body: string): Promise<void> {
    try {
      if (this.#deliverLater === undefined) throw new Error('fault injector not attached');
      await this.#deliverLater(destination, body);
    } catch {
      this.#deliveryErrors += 1;
    }
  }
}

function destinationKey(destination: Destination): string {
  return destination.kind === 'coordinator' ? 'coordinator:' : `${destination.kind}:${destination.id}`;
}

function destinationFromKey(key: string): Destination {
  const [kind, id = ''] = key.split(':');
  if (kind === 'coordinator') return { kind: 'coordinator' };
  if (kind === 'party') return { kind: 'party', id };
  return { kind: 'initiator', id };
}
