/** `frostline audit verify`: checks one party's hash-chained audit trail and names the first break. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteItemBackend } from '../adapters/local/sqlite-backend.js';
import { FrostlineError } from '../ports/errors.js';
import type { ItemBackend } from '../ports/store.js';
import { AuditLog, verifyAuditChain, type ChainVerdict } from '../protocol/audit.js';
import { createOutput, type Output } from './output.js';

export async function verifyPartyAudit(backend: ItemBackend, party: string): Promise<ChainVerdict> {
  const log = new AuditLog(backend, party, () => Math.floor(Date.now() / 1000));
  return verifyAuditChain(await log.readChain());
}

/** Verifies the trail of a party in a local data directory; returns false if it is broken. */
export async function runAuditVerify(options: { dataDir: string; party: string; json: boolean }): Promise<boolean> {
  const out = createOutput(options.json);
  const path = join(options.dataDir, 'parties', options.party, 'store.sqlite');
  if (!existsSync(path)) throw new FrostlineError('unknown-party', `no store for party "${options.party}" at ${path}`);
  const backend = await SqliteItemBackend.open(path);
  try {
    return reportAudit(out, options.party, await verifyPartyAudit(backend, options.party));
  } finally {
    backend.close();
  }
}

/** Prints a verdict (human or JSON) and returns whether the chain is intact. */
export function reportAudit(out: Output, party: string, verdict: ChainVerdict): boolean {
  out.result(
    verdict.ok
      ? `audit trail of ${party}: ${verdict.records} records, chain intact`
      : `audit trail of ${party}: BROKEN at record ${verdict.brokenAt} of ${verdict.records}: ${verdict.reason}`,
    { party, ...verdict },
  );
  return verdict.ok;
}
