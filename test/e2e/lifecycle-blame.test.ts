/**
 * Malicious dealers in a reshare, driven through the real interfaces: a dealer whose signed
 * dealing carries a wrong constant commitment (its dealing rewritten and re-signed with its
 * own identity key), and a dealer whose share to one party does not match its commitments
 * (its dealing code swapped for this one dealer). Each is named with evidence the
 * coordinator checks, the key is left as it was, and a retry without it succeeds.
 */
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { MessageType } from '../../lib/protocol/messages.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';
import { bodyOf, makeFixture, openFromFixture, parseRaw, requiredVault, resign, Scratch, typeOf, type Fixture } from '../support/harness.js';
import { expectStillSigns, keyState, lifecyclePolicy } from '../support/lifecycle.js';

/** Which dealer (by FROST identifier) sends a wrong share, and to whom. */
const badShare = vi.hoisted(() => ({ dealer: '', recipient: '' }));

vi.mock('../../lib/protocol/reshare/dealing.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../lib/protocol/reshare/dealing.js')>();
  return {
    ...original,
    deal: (...args: Parameters<typeof original.deal>) => {
      const output = original.deal(...args);
      const share = output.shares.get(badShare.recipient);
      if (args[1].dealer === badShare.dealer && share !== undefined) {
        const Fn = args[0].frost.utils.Fn;
        share.set(Fn.toBytes(Fn.add(Fn.fromBytes(share), Fn.ONE)));
      }
      return output;
    },
  };
});

const scratch = new Scratch();
let fixture: Fixture;
beforeAll(async () => {
  fixture = await makeFixture(scratch, 3, 2, 'k');
});
afterAll(() => scratch.cleanup());

test('a dealer whose constant commitment is not λ·Y is named with evidence; a retry without it succeeds', async () => {
  const harness = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  const { cluster } = harness;
  const p2 = requiredVault(cluster, 'p2');
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== 'p2' || typeOf(body) !== MessageType.reshareDealing) return [body];
    const envelope = parseRaw(body);
    const commitments = [...(bodyOf(envelope).commitments as string[])];
    commitments[0] = bytesToHex(ed25519Suite.Point.BASE.multiply(7n).toBytes());
    return [await resign(p2, envelope, { body: { ...bodyOf(envelope), commitments } })];
  };
  const before = await keyState(cluster, 'k');
  const result = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 3 });
  expect(result.ok).toBe(false);
  expect(result.error).toMatchObject({ code: 'bad-dealing', blame: ['p2'] });
  expect(result.error?.message).toContain('the coordinator checked the evidence');
  expect(result.error?.message).toContain('constant commitment');
  expect(await keyState(cluster, 'k')).toBe(before);
  // Every party's audit trail says what it did: each that checked p2's dealing abandoned naming p2; any other aborted on a signed abandonment.
  const reasons = await Promise.all(
    ['p1', 'p2', 'p3'].map(async (p) =>
      ((await cluster.stores.get(p)?.scanPrefix('audit')) ?? [])
        .map((item) => item.data as { kind?: string; reason?: string })
        .filter((d) => d.kind === 'reshare' && d.reason !== undefined)
        .map((d) => d.reason ?? ''),
    ),
  );
  for (const partyReasons of reasons) {
    expect(partyReasons.filter((r) => (r.startsWith('abandoned:') && r.includes('accuses "p2"')) || r.startsWith('aborted:'))).toHaveLength(1);
  }
  await expectStillSigns(cluster, 'k', fixture.publicKey);

  const retry = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 3, dealers: ['p1', 'p3'] });
  expect(retry.ok, JSON.stringify(retry.error)).toBe(true);
  expect(retry.epoch).toBe(1);
  await expectStillSigns(cluster, 'k', fixture.publicKey);
});

test('a dealer whose share does not match its commitments is named with the accuser\'s revealed secret; a retry without it succeeds', async () => {
  const { cluster } = await openFromFixture(scratch, fixture, { policy: lifecyclePolicy() });
  badShare.dealer = ed25519Suite.frost.Identifier.derive('p3');
  badShare.recipient = ed25519Suite.frost.Identifier.derive('p1');
  try {
    const before = await keyState(cluster, 'k');
    const result = await cluster.reshare({ keyId: 'k' });
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({ code: 'bad-dealing', blame: ['p3'] });
    expect(result.error?.message).toContain('does not match its signed commitments');
    expect(await keyState(cluster, 'k')).toBe(before);
    await expectStillSigns(cluster, 'k', fixture.publicKey);
    const retry = await cluster.reshare({ keyId: 'k', parties: ['p1', 'p2', 'p3'], threshold: 2, dealers: ['p1', 'p2'] });
    expect(retry.ok, JSON.stringify(retry.error)).toBe(true);
    await expectStillSigns(cluster, 'k', fixture.publicKey);
  } finally {
    badShare.dealer = '';
  }
});
