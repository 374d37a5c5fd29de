/**
 * Progress of a local DKG on stderr, one line per round as every party finishes it: a
 * 3-of-5 keygen takes tens of seconds on a slow machine, and silence looks like a hang.
 * It watches the cluster's handled-message outcomes (through `wrapHandler`), so it shows
 * what the parties did, not a guess from the clock.
 */
import type { MessageHandler } from '../adapters/local/event-source.js';
import type { NodeOutcome } from '../dev/cluster.js';
import { MessageType } from '../protocol/messages.js';

/** What a party has done once it handled each coordinator message of a DKG. */
const ROUNDS: ReadonlyArray<readonly [string, string]> = [
  [MessageType.dkgStart, 'round 1 commitments'],
  [MessageType.dkgRound2, 'round 2 encrypted shares'],
  [MessageType.dkgRound3, 'round 3 shares verified, key attested'],
  [MessageType.dkgConfirm, 'key confirmed'],
];

/** The same for a refresh or reshare (README "Key lifecycle"); each round has its own parties. */
export const LIFECYCLE_ROUNDS: ReadonlyArray<readonly [string, string]> = [
  [MessageType.reshareStart, 'policy checked, ephemeral keys'],
  [MessageType.reshareDeal, 'dealings sealed'],
  [MessageType.reshareShares, 'shares verified, new epoch attested'],
  [MessageType.reshareConfirm, 'new epoch confirmed, old shares deleted'],
];

export class DkgProgress {
  readonly #log: (line: string) => void;
  readonly #rounds: ReadonlyArray<readonly [string, string]>;
  #outcomes: readonly NodeOutcome[] = [];
  #next = 0;
  #parties: ReadonlySet<string> | undefined;
  #roundParties: ReadonlyMap<string, ReadonlySet<string>> = new Map();
  #done = new Map<string, Set<string>>();
  #reported = new Set<string>();
  #started = 0;

  constructor(log: (line: string) => void, rounds: ReadonlyArray<readonly [string, string]> = ROUNDS) {
    this.#log = log;
    this.#rounds = rounds;
  }

  /** For `LocalClusterOptions.wrapHandler`: reports after each handled message. */
  readonly wrapHandler = (_node: string, handler: MessageHandler): MessageHandler => {
    return async (body, context) => {
      try {
        await handler(body, context);
      } finally {
        this.#observe();
      }
    };
  };

  /**
   * Starts reporting a run among `parties`; `outcomes` is the cluster's list. `roundParties`
   * names who takes part in a round when not everyone does (a reshare's dealers, its new parties).
   */
  start(outcomes: readonly NodeOutcome[], parties: readonly string[], roundParties: Readonly<Record<string, readonly string[]>> = {}): void {
    this.#outcomes = outcomes;
    this.#next = outcomes.length;
    this.#parties = new Set(parties);
    this.#roundParties = new Map(Object.entries(roundParties).map(([type, ids]) => [type, new Set(ids)]));
    this.#done = new Map();
    this.#reported = new Set();
    this.#started = performance.now();
  }

  stop(): void {
    this.#parties = undefined;
  }

  #observe(): void {
    const parties = this.#parties;
    if (parties === undefined) return;
    for (; this.#next < this.#outcomes.length; this.#next++) {
      const entry = this.#outcomes[this.#next];
      if (entry === undefined || entry.outcome.status !== 'processed' || !parties.has(entry.node)) continue;
      const type = entry.outcome.type;
      const done = this.#done.get(type) ?? new Set<string>();
      done.add(entry.node);
      this.#done.set(type, done);
    }
    this.#rounds.forEach(([type, label], i) => {
      const expected = this.#roundParties.get(type) ?? parties;
      const done = [...(this.#done.get(type) ?? [])].filter((party) => expected.has(party)).length;
      if (this.#reported.has(type) || done < expected.size) return;
      this.#reported.add(type);
      const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
      this.#log(`  [${i + 1}/${this.#rounds.length}] ${label}: ${expected.size}/${expected.size} parties  ${seconds}s`);
    });
  }
}
