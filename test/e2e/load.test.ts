/** The load harness in miniature (the full run is `npm run load`): nothing lost, duplicated or invalid. */
import { describe, expect, it } from 'vitest';
import { loadViolations, runLocalLoad } from '../../lib/dev/chaos/load-run.js';

describe('load through the SDK on the local cluster', () => {
  it('signs at 1 and 10 in flight with no failure, nothing lost or duplicated, every signature valid', async () => {
    const rows = await runLocalLoad({ levels: [1, 10], minRequests: 3 });
    expect(rows.map((row) => [row.inFlight, row.requests])).toEqual([
      [1, 3],
      [10, 10],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ failures: 0, timedOut: 0, lost: 0, unfinished: 0, duplicated: 0, invalid: 0 });
      expect(row.signaturesPerSecond).toBeGreaterThan(0);
    }
    expect(loadViolations(rows)).toEqual([]);
  });

  it('reports lost, duplicated and invalid results as violations', () => {
    const row = { target: 'local' as const, inFlight: 1, requests: 1, seconds: 1, signaturesPerSecond: 1, p50Ms: 1, p99Ms: 1, failures: 0, failuresByCode: {} };
    expect(loadViolations([{ ...row, timedOut: 1, lost: 1, unfinished: 0, duplicated: 0, invalid: 0 }])).toHaveLength(1);
    expect(loadViolations([{ ...row, timedOut: 1, lost: 0, unfinished: 1, duplicated: 1, invalid: 1 }])).toHaveLength(2);
  });
});
