import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { LocalCluster } from '../../lib/dev/cluster.js';
import { ed25519Suite, type Suite } from '../../lib/protocol/suite.js';

/**
 * A party whose DKG round 2 sends a wrong share to one recipient: the share is sealed
 * correctly (so it opens) but is not the evaluation of the sender's committed polynomial.
 */
function suiteSendingABadShareTo(recipient: string): Suite {
  const { frost } = ed25519Suite;
  const victim = frost.Identifier.derive(recipient);
  const round2: typeof frost.DKG.round2 = (secret, others) => {
    const shares = frost.DKG.round2(secret, others);
    const honest = shares[victim];
    if (honest === undefined) throw new Error('no share for the victim');
    const Fn = frost.utils.Fn;
    honest.signingShare.set(Fn.toBytes(Fn.add(Fn.fromBytes(honest.signingShare), Fn.ONE)));
    return shares;
  };
  return { ...ed25519Suite, frost: { ...frost, DKG: { ...frost.DKG, round2 } } };
}

test('a party that sends a share not matching its commitment (vss_verify) is named, and no key is created', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-dkg-blame-'));
  const cluster = await LocalCluster.open({
    dataDir,
    parties: 3,
    suiteFor: (party) => (party === 'p2' ? suiteSendingABadShareTo('p1') : undefined),
  });
  try {
    const result = await cluster.keygen({ keyId: 'k', threshold: 2 });
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({ code: 'protocol', blame: ['p2'] });
    expect(result.error?.message).toContain('round-2 share from "p2" does not match its round-1 commitment');
    expect(await cluster.coordinator.getKey('k')).toBeUndefined();
    const refusals = cluster.outcomes.filter((o) => o.outcome.status === 'refused');
    expect(refusals).toEqual([{ node: 'p1', outcome: expect.objectContaining({ type: 'dkg.round3', code: 'protocol' }) }]);
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
