/** `frostline audit verify`: checks one party's hash-chained audit trail and names the first break. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteItemBackend } from '../adapters/local/sqlite-backend.js';
import { FrostlineError } from '../ports/errors.js';
import type { ItemBackend } from '../ports/store.js';
import { readPinnedDirectory } from '../dev/cluster.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { AuditAnchors, verifiedAnchor } from '../protocol/audit-anchors.js';
import { AuditLog, verifyAuditChain, type ChainVerdict } from '../protocol/audit.js';
import { withDataDir } from './data-dir.js';
import { createOutput, type Output } from './output.js';

/** Where the anchor of a party's chain is read: the coordinator's table, and the party's pinned key. */
export interface AnchorSource {
  readonly coordinatorStore: ItemBackend;
  readonly partyKey: IdentityPublicKey;
}

export type AuditVerdict = ChainVerdict & {
  /**
   * With an anchor source: `verified`, checked against the head the party signed; `none`, no
   * anchor held; `invalid`, the coordinator's anchor is not signed by the party (ignored).
   */
  readonly anchor?: 'verified' | 'none' | 'invalid';
};

export async function verifyPartyAudit(backend: ItemBackend, party: string, anchorSource?: AnchorSource): Promise<AuditVerdict> {
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const log = new AuditLog(backend, party, nowSeconds);
  const record = anchorSource === undefined ? undefined : await new AuditAnchors(anchorSource.coordinatorStore, nowSeconds).latest(party);
  const anchor = record === undefined || anchorSource === undefined ? undefined : verifiedAnchor(record, party, anchorSource.partyKey);
  const verdict = verifyAuditChain(await log.readChain(), anchor === undefined ? [] : [anchor]);
  if (anchorSource === undefined) return verdict;
  return { ...verdict, anchor: record === undefined ? 'none' : anchor === undefined ? 'invalid' : 'verified' };
}

/** Verifies the trail of a party in a local data directory; returns false if it is broken. */
export async function runAuditVerify(options: { dataDir: string; party: string; json: boolean }): Promise<boolean> {
  const out = createOutput(options.json);
  return withDataDir(options.dataDir, { create: false, command: `frostline audit verify --party ${options.party}`, log: out.step }, async (dataDir) => {
    const path = join(dataDir, 'parties', options.party, 'store.sqlite');
    if (!existsSync(path)) throw new FrostlineError('unknown-party', `no store for party "${options.party}" at ${path}`);
    const directory = await readPinnedDirectory(dataDir);
    const partyKey = directory?.parties[options.party];
    const coordinatorPath = join(dataDir, 'coordinator', 'store.sqlite');
    const backend = await SqliteItemBackend.open(path);
    const coordinatorStore = partyKey !== undefined && existsSync(coordinatorPath) ? await SqliteItemBackend.open(coordinatorPath) : undefined;
    try {
      const anchors = coordinatorStore !== undefined && partyKey !== undefined ? { coordinatorStore, partyKey } : undefined;
      return reportAudit(out, options.party, await verifyPartyAudit(backend, options.party, anchors));
    } finally {
      backend.close();
      coordinatorStore?.close();
    }
  });
}

/** Prints a verdict (human or JSON) and returns whether the chain is intact. */
export function reportAudit(out: Output, party: string, verdict: AuditVerdict): boolean {
  const anchored =
    verdict.anchor === 'verified'
      ? `, matches the head ${party} signed at record ${verdict.ok ? (verdict.anchoredAt ?? 0) : '?'}`
      : verdict.anchor === 'invalid'
        ? ' (the coordinator holds an anchor NOT signed by the party: ignored)'
        : verdict.anchor === 'none'
          ? ' (no signed anchor held by the coordinator: a rewrite of the whole chain would not show)'
          : '';
  out.result(
    verdict.ok
      ? `audit trail of ${party}: ${verdict.records} records, chain intact${anchored}`
      : `audit trail of ${party}: BROKEN at record ${verdict.brokenAt} of ${verdict.records}: ${verdict.reason}`,
    verdict.ok ? { party, ...verdict } : { party, ...verdict, code: 'audit-broken', message: `audit trail of ${party} broken at record ${verdict.brokenAt}: ${verdict.reason}` },
  );
  return verdict.ok;
}
