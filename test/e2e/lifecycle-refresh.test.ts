import { afterAll, expect, test } from 'vitest';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import type { SecretScope } from '../../lib/protocol/secret-scope.js';
import { verifyWithNodeCrypto } from '../support/ed25519.js';
import { encoder, openHarness, parseRaw, Scratch, typeOf } from '../support/harness.js';
import { lifecyclePolicy, openStoredShare, shareRecordOf, signWithShares } from '../support/lifecycle.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

test('refresh 2-of-3: new epoch, same group key, signs; old shares do not combine with new ones', async () => {
  const { cluster } = await openHarness(await scratch.dir(), { parties: 3, policy: lifecyclePolicy() });
  scratch.own(cluster);
  const keygen = await cluster.keygen({ keyId: 'k', threshold: 2 });
  expect(keygen.ok).toBe(true);
  const publicKey = keygen.publicKey ?? '';
  const old = await Promise.all(['p1', 'p2', 'p3'].map((p) => openStoredShare(cluster, p, 'k')));

  const result = await cluster.reshare({ keyId: 'k' });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  expect(result.epoch).toBe(1);
  expect(result.publicKey).toBe(publicKey);
  const record = await cluster.coordinator.getKey('k');
  expect(record?.epoch).toBe(1);
  // The key's partition now also held a refresh lock: listing still reads key records only.
  expect((await cluster.coordinator.listKeys()).map((key) => [key.keyId, key.epoch])).toEqual([['k', 1]]);
  expect(record?.publicKey).toBe(publicKey);

  const fresh = await Promise.all(['p1', 'p2', 'p3'].map((p) => openStoredShare(cluster, p, 'k')));
  for (const [i, share] of fresh.entries()) {
    expect(share.record.epoch).toBe(1);
    expect(Buffer.from(share.signingShare).equals(Buffer.from(old[i]?.signingShare ?? []))).toBe(false);
  }
  const message = encoder.encode('after refresh');
  const signed = await cluster.sign({ keyId: 'k', message });
  expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
  expect(verifyWithNodeCrypto(publicKey, message, signed.signature ?? '')).toBe(true);

  // New shares combine with each other, never with an old one.
  const [n1, n2] = fresh;
  const [o1, , o3] = old;
  if (n1 === undefined || n2 === undefined || o1 === undefined || o3 === undefined) throw new Error('shares missing');
  const pkg = n1.record.publicPackage;
  const good = signWithShares([n1, n2], pkg, message);
  expect(good !== undefined && verifyWithNodeCrypto(publicKey, message, good)).toBe(true);
  for (const mixed of [signWithShares([n1, o3], pkg, message), signWithShares([o1, n2], o1.record.publicPackage, message)]) {
    expect(mixed !== undefined && verifyWithNodeCrypto(publicKey, message, mixed)).toBe(false);
  }
  expect((await shareRecordOf(cluster, 'p1', 'k'))?.publicPackageHash).toBe(record?.publicPackageHash);
  expect(cluster.outcomes.filter((o) => o.outcome.status === 'refused' && o.node !== COORDINATOR)).toEqual([]);
});

test('a signing session started at the old epoch: its old nonces sign nothing, and it starts again at the new epoch and signs', async () => {
  const harness = await openHarness(await scratch.dir(), { parties: 3, policy: lifecyclePolicy() });
  const { cluster } = harness;
  scratch.own(cluster);
  const keygen = await cluster.keygen({ keyId: 'k', threshold: 2 });
  const publicKey = keygen.publicKey ?? '';
  // Hold the signing packages back until the refresh is done.
  const held: string[] = [];
  harness.hooks.intercept = ({ body }) => {
    if (typeOf(body) !== MessageType.signPackage) return [body];
    held.push(body);
    return [];
  };
  const message = encoder.encode('across epochs');
  const session = await cluster.initiator.requestSignature({ keyId: 'k', message });
  await cluster.run();
  harness.hooks.intercept = undefined;
  expect(held.length).toBe(2);
  expect((await cluster.reshare({ keyId: 'k' })).ok).toBe(true);
  // The packages arrive late: each party refuses them (the switch deleted its epoch-0 nonce; one left would be refused as stale-epoch).
  for (const body of held) {
    const to = parseRaw(body).to;
    const party = cluster.parties.get(to);
    const outcome = await party?.handle(body);
    expect(outcome).toMatchObject({ status: 'refused', code: 'wrong-round' });
  }
  await cluster.run();
  // Those refusals told the coordinator the key moved on: the same request, a fresh attempt at epoch 1.
  const result = cluster.takeResults().find((r) => r.session === session);
  expect(result?.body).toMatchObject({ ok: true });
  const stored = await cluster.coordinator.getSession(session);
  expect(stored?.kind === 'sign' ? [stored.epoch, stored.attempt] : []).toEqual([1, 2]);
  expect(verifyWithNodeCrypto(publicKey, message, result?.body.ok === true && 'signature' in result.body ? String(result.body.signature) : '')).toBe(true);
});

test('a party that has not switched yet refuses to commit at the new epoch (never blamed for its old share); the others sign; after its confirmation it signs again', async () => {
  const harness = await openHarness(await scratch.dir(), { parties: 3, policy: lifecyclePolicy() });
  const { cluster } = harness;
  scratch.own(cluster);
  const keygen = await cluster.keygen({ keyId: 'k', threshold: 2 });
  const publicKey = keygen.publicKey ?? '';
  // p3's confirmation is late: it still holds its epoch-0 share when epoch 1 signs.
  const late: string[] = [];
  harness.hooks.intercept = ({ body }) => {
    if (typeOf(body) !== MessageType.reshareConfirm || parseRaw(body).to !== 'p3') return [body];
    late.push(body);
    return [];
  };
  expect((await cluster.reshare({ keyId: 'k' })).ok).toBe(true);
  harness.hooks.intercept = undefined;
  expect(late).toHaveLength(1);

  const message = encoder.encode('mid-switch');
  const session = await cluster.initiator.requestSignature({ keyId: 'k', message });
  await cluster.run();
  const result = cluster.takeResults().find((r) => r.session === session);
  expect(result?.body).toMatchObject({ ok: true });
  expect(verifyWithNodeCrypto(publicKey, message, result?.body.ok === true && 'signature' in result.body ? String(result.body.signature) : '')).toBe(true);
  const stored = await cluster.coordinator.getSession(session);
  if (stored?.kind !== 'sign') throw new Error('no signing session');
  expect(stored.excluded).toEqual([]);
  expect(stored.refused.p3?.code).toBe('stale-epoch');

  expect(await cluster.parties.get('p3')?.handle(late[0] ?? '')).toMatchObject({ status: 'processed' });
  expect((await shareRecordOf(cluster, 'p3', 'k'))?.epoch).toBe(1);
});

test('after a refresh and a reshare, every secret buffer of every round handler is all zeros', async () => {
  const scopes: SecretScope[] = [];
  const { cluster } = await openHarness(await scratch.dir(), { parties: 4, policy: lifecyclePolicy(), onSecretsWiped: (scope) => scopes.push(scope) });
  scratch.own(cluster);
  expect((await cluster.keygen({ keyId: 'k', threshold: 2, parties: ['p1', 'p2', 'p3'] })).ok).toBe(true);
  const afterKeygen = scopes.length;
  expect((await cluster.reshare({ keyId: 'k' })).ok).toBe(true);
  expect((await cluster.reshare({ keyId: 'k', parties: ['p2', 'p3', 'p4'], threshold: 2 })).ok).toBe(true);
  // Each reshare: start (participants draw X25519 keys), deal and shares at each party.
  expect(scopes.length - afterKeygen).toBeGreaterThanOrEqual(18);
  const lifecycleScopes = scopes.slice(afterKeygen);
  expect(lifecycleScopes.flatMap((s) => s.tracked).length).toBeGreaterThan(0);
  for (const scope of lifecycleScopes) for (const buffer of scope.tracked) expect(buffer.every((b) => b === 0)).toBe(true);
});
