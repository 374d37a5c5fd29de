/**
 * Nonce pools across an epoch switch, on a whole local cluster: the pool items a party made
 * at the old epoch are deleted by its refresh confirmation, and the confirmation's audit
 * record counts them. (The coordinator side of pools is not needed: refills are delivered
 * to the parties directly, signed by the coordinator's identity key.)
 */
import { randomBytes } from 'node:crypto';
import { afterAll, expect, test } from 'vitest';
import { createEnvelope } from '../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import { partyKeys } from '../../lib/protocol/party-state.js';
import { openHarness, requiredParty, requiredVault, Scratch } from '../support/harness.js';
import { lifecyclePolicy } from '../support/lifecycle.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

test('a refresh deletes every party\'s pool nonces and batches of the old epoch in its confirmation, and audits how many', async () => {
  const { cluster } = await openHarness(await scratch.dir(), { parties: 3, policy: lifecyclePolicy() });
  scratch.own(cluster);
  expect((await cluster.keygen({ keyId: 'k', threshold: 2 })).ok).toBe(true);
  const coordinator = requiredVault(cluster, COORDINATOR);
  // Nonces and batches only: the refill mark (`refill`, which serialises a key's refills and holds no epoch) stays.
  const poolItems = async (party: string) => ((await cluster.stores.get(party)?.query(partyKeys.poolPartition('k'))) ?? []).filter((item) => item.sk.startsWith('nonce#') || item.sk.startsWith('batch#'));

  for (const party of ['p1', 'p2']) {
    const refill = await createEnvelope(coordinator, Date.now(), { type: MessageType.poolRefill, session: randomBytes(16).toString('hex'), from: COORDINATOR, to: party, body: { keyId: 'k', epoch: 0, count: 4 } });
    expect(await requiredParty(cluster, party).handle(JSON.stringify(refill))).toMatchObject({ status: 'processed' });
    expect(await poolItems(party)).toHaveLength(5);
  }

  const result = await cluster.reshare({ keyId: 'k' });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  expect(result.epoch).toBe(1);
  for (const party of ['p1', 'p2', 'p3']) {
    expect(await poolItems(party)).toEqual([]);
    const { records } = await requiredParty(cluster, party).audit.readChain();
    const confirmed = (records as { kind?: string; reason?: string }[]).filter((r) => r.kind === 'reshare' && r.reason !== undefined).at(-1);
    expect(confirmed?.reason).toMatch(party === 'p3' ? /nonces deleted$/ : /; 5 older-epoch pool items deleted$/);
  }
});
