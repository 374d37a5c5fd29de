/**
 * The emulator the race tests run on isolates concurrent conditional transactions. moto
 * 5.x does not on its own (its TransactWriteItems checks and writes without a lock, and
 * restores a whole-table copy when a condition fails); scripts/moto_serialised.py serves
 * DynamoDB one request at a time, and this probe shows the result holds the property.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/adapters/aws/clients.js';
import { PROBE_TRIALS, probeTransactionIsolation } from '../support/transaction-isolation.js';

describe('moto (as the tests run it) isolates concurrent conditional transactions', () => {
  const client = createDynamoDbClient({ endpoint: inject('emulatorEndpoint'), region: 'eu-west-1', accountId: '333333333333' });
  afterAll(() => client.destroy());

  it(`two mutually exclusive TransactWriteItems at once: exactly one wins and the loser writes nothing, in each of ${PROBE_TRIALS} trials`, async () => {
    expect(PROBE_TRIALS).toBeGreaterThanOrEqual(40);
    const verdict = await probeTransactionIsolation(client);
    expect(verdict.anomalies).toEqual([]);
    expect(verdict).toEqual({ isolated: true, trials: PROBE_TRIALS, anomalies: [] });
  });

  it('the verdict the race tests rely on (probed once by the global setup) is the same', () => {
    expect(inject('motoTransactionIsolation')).toEqual({ isolated: true, trials: PROBE_TRIALS, anomalies: [] });
  });
});
