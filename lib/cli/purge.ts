/**
 * `frostline party purge-volatile`: the step of restoring a party's table (docs/deploy.md,
 * "Restoring a party's table from a backup") that deletes the unused nonces (two-round and
 * pool) and DKG round state the restore may have revived, prints exactly what it deleted,
 * and says what remains to be done: wait out the nonce TTL before the party handles
 * messages again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteItemBackend } from '../adapters/local/sqlite-backend.js';
import { FrostlineError } from '../ports/errors.js';
import type { ItemBackend } from '../ports/store.js';
import { DEFAULT_LIMITS } from '../protocol/directory.js';
import { purgeVolatileState, type PurgedItem, type PurgeReport, type VolatileKind } from '../protocol/purge.js';
import { withDataDir } from './data-dir.js';
import { createOutput, type Output } from './output.js';

/** What the purge leaves in the table, as told to the operator. */
const KEPT = ['key shares', 'consumed-nonce markers', 'audit trail', 'seen-message ids', 'rate-limit windows'] as const;

const LABEL: Record<VolatileKind, string> = { nonce: 'nonce', poolNonce: 'pool nonce', dkgState: 'dkg state', reshareState: 'reshare' };

export interface PurgeTarget {
  readonly party: string;
  /** How the party comes back, completing "wait N s before …". */
  readonly resume: string;
  readonly json: boolean;
  /** The wait before the party may handle messages again. @default DEFAULT_LIMITS.nonceTtlSeconds */
  readonly nonceTtlSeconds?: number;
}

/** Purges one party's table and reports; the whole command after the table is opened. */
export async function purgePartyTable(backend: ItemBackend, target: PurgeTarget): Promise<PurgeReport> {
  const out = createOutput(target.json);
  out.step(`purging unused nonces, pool nonces, DKG round state and refresh/reshare state from ${target.party}'s table …`);
  const report = await purgeVolatileState(backend, {
    nowSeconds: Math.floor(Date.now() / 1000),
    onProgress: (deleted, total) => {
      // Large tables only: a handful of items needs no progress lines.
      if (total > 100) out.step(`  deleted ${deleted} of ${total}`);
    },
  });
  reportPurge(out, target, report, Date.now());
  return report;
}

/** A key or id read from the table, made safe to print on a terminal. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function itemLine(item: PurgedItem): string {
  const key = item.keyId !== undefined ? `  key ${item.keyId}` : '';
  // Pool nonces share their key's partition: the sort key tells them apart.
  const where = item.kind === 'poolNonce' ? `${item.pk} ${item.sk}` : item.pk;
  return `  ${LABEL[item.kind].padEnd(9)}  ${printable(where)}${key}${item.expired ? '  (already expired)' : ''}`;
}

export function reportPurge(out: Output, target: PurgeTarget, report: PurgeReport, nowMs: number): void {
  const waitSeconds = target.nonceTtlSeconds ?? DEFAULT_LIMITS.nonceTtlSeconds;
  const waitUntil = new Date(nowMs + waitSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  // Counted from the end of the purge: a nonce written before then, even one this purge
  // did not see, has expired by then and the handler refuses it.
  const next = `wait ${waitSeconds} s (the nonce TTL) — until ${waitUntil} — before ${target.resume}`;
  const { counts } = report;
  const human = [
    `party ${target.party}: purged ${plural(counts.nonce, 'unused nonce', 'unused nonces')}, ${counts.poolNonce > 0 ? `${plural(counts.poolNonce, 'unused pool nonce', 'unused pool nonces')}, ` : ''}${plural(counts.dkgState, 'DKG round state', 'DKG round states')} and ${plural(counts.reshareState, 'refresh/reshare state', 'refresh/reshare states')}`,
    ...report.purged.map(itemLine),
    `kept: ${KEPT.join(', ')}`,
    `next: ${next}`,
  ].join('\n');
  out.result(human, {
    ok: true,
    party: target.party,
    purged: report.purged,
    counts: { nonces: counts.nonce, poolNonces: counts.poolNonce, dkgStates: counts.dkgState, reshareStates: counts.reshareState },
    kept: KEPT,
    waitSeconds,
    waitUntil,
    next,
  });
}

/** The local data directory: the party's SQLite store. No other command runs on it meanwhile (the data directory's lock). */
export async function runPurgeVolatile(options: { dataDir: string; party: string; json: boolean }): Promise<void> {
  await withDataDir(options.dataDir, { create: false, command: `frostline party purge-volatile --party ${options.party}` }, async (dataDir) => {
    const path = join(dataDir, 'parties', options.party, 'store.sqlite');
    if (!existsSync(path)) throw new FrostlineError('unknown-party', `no store for party "${options.party}" at ${path}`);
    const backend = await SqliteItemBackend.open(path);
    try {
      await purgePartyTable(backend, {
        party: options.party,
        resume: `running any frostline command on ${options.dataDir}`,
        json: options.json,
      });
    } finally {
      backend.close();
    }
  });
}
