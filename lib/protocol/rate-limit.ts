/**
 * Per key and initiator signing-rate limits, counted by each party in its own store.
 * Fixed windows: a window's item lists the sessions admitted in it, so a redelivered
 * request is recognised (admitted again without counting twice) and the count is exact
 * under concurrent deliveries (optimistic concurrency on the window item).
 */
import * as z from 'zod/mini';
import { ItemTable, retryOnConflict, type ItemBackend } from '../ports/store.js';
import { recordParser } from './party-state.js';

export interface RateLimitRule {
  /** Signatures allowed per window. */
  readonly max: number;
  readonly windowSeconds: number;
}

const RateWindow = z.strictObject({ sessions: z.array(z.string()) });

export class RateLimiter {
  readonly #windows: ItemTable<z.infer<typeof RateWindow>>;

  constructor(backend: ItemBackend, nowSeconds: () => number) {
    this.#windows = new ItemTable(backend, recordParser(RateWindow, 'rate window'), nowSeconds);
  }

  /** True if `session` may proceed under `rule` for `scope` (e.g. key and initiator) at `nowMs`. */
  async admit(scope: string, session: string, rule: RateLimitRule, nowMs: number): Promise<boolean> {
    const window = Math.floor(nowMs / 1000 / rule.windowSeconds);
    const key = { pk: `rate#${scope}#${window}`, sk: 'window' };
    const ttl = rule.windowSeconds * 2;
    return retryOnConflict(async () => {
      const current = await this.#windows.get(key);
      if (current === undefined) {
        await this.#windows.create(key, { sessions: [session] }, ttl);
        return true;
      }
      if (current.value.sessions.includes(session)) return true;
      if (current.value.sessions.length >= rule.max) return false;
      await this.#windows.replace(key, { sessions: [...current.value.sessions, session] }, current.version, ttl);
      return true;
    });
  }
}
