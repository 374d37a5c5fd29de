/**
 * Remembers processed message ids, so a replayed envelope is refused. An id is remembered
 * only after its work is done (a crash mid-round leaves the message to be redelivered and
 * completed), and kept for as long as the envelope could still pass the freshness check:
 * anything older is refused as stale anyway.
 */
import * as z from 'zod/mini';
import { ConditionFailedError, RefusalCode, RefusedError } from '../ports/errors.js';
import { ItemTable, type ItemBackend, type ItemKey } from '../ports/store.js';
import type { Limits } from './directory.js';
import type { Envelope } from './messages.js';
import { recordParser } from './party-state.js';

const SeenRecord = z.strictObject({ type: z.string(), from: z.string() });

export const seenKey = (messageId: string): ItemKey => ({ pk: `seen#${messageId}`, sk: 'message' });

/** How long a replay mark is kept: as long as its envelope could pass the freshness check, and a minute more. */
export function replayWindowSeconds(limits: Pick<Limits, 'maxMessageAgeMs' | 'maxClockSkewMs'>): number {
  return Math.ceil((limits.maxMessageAgeMs + limits.maxClockSkewMs) / 1000) + 60;
}

export class ReplayGuard {
  readonly #seen: ItemTable<z.infer<typeof SeenRecord>>;
  readonly #ttlSeconds: number;

  constructor(backend: ItemBackend, limits: Limits, nowSeconds: () => number) {
    this.#seen = new ItemTable(backend, recordParser(SeenRecord, 'seen message'), nowSeconds);
    this.#ttlSeconds = replayWindowSeconds(limits);
  }

  async assertNotSeen(envelope: Envelope): Promise<void> {
    if ((await this.#seen.get(seenKey(envelope.id))) !== undefined) {
      throw new RefusedError(RefusalCode.replayed, `message ${envelope.id} was already processed`);
    }
  }

  async remember(envelope: Envelope): Promise<void> {
    try {
      await this.#seen.create(seenKey(envelope.id), { type: envelope.type, from: envelope.from }, this.#ttlSeconds);
    } catch (error) {
      // A concurrent duplicate finished first: the work is done either way.
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
}
