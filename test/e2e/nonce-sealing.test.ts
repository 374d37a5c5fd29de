/**
 * Signing on the embedded cluster, counting the vault's KMS-billed calls: two rounds (pools
 * off) make one Decrypt per party per round and no GenerateDataKey (the nonce is sealed under
 * the key share's data key, sign/nonce-sealing.ts); with pools, a refill one Decrypt per party
 * and a one-round signature one per signer. A nonce record in the format written before
 * that (its own data key) still signs.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ItemBackend } from '../../lib/ports/store.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { parseBody } from '../../lib/protocol/envelope.js';
import { MessageType } from '../../lib/protocol/messages.js';
import { KeyShareRecord, NonceRecord, partyKeys } from '../../lib/protocol/party-state.js';
import { openDerived, openSecretAndKey, sealSecret, secretContext } from '../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { encoder, makeFixture, openFromFixture, opensslVerifies, parseRaw, requiredVault, Scratch, typeOf, type Fixture, type Harness } from '../support/harness.js';

const scratch = new Scratch();
let fixture: Fixture;
beforeAll(async () => {
  fixture = await makeFixture(scratch, 3, 2);
});
afterAll(() => scratch.cleanup());

interface Calls {
  decrypt: number;
  generate: number;
}

/** Counts each party's vault calls by the message type being handled (delivery is serial). */
function countVaultCalls(harness: Harness): Map<string, Calls[]> {
  const byHandled = new Map<string, Calls[]>();
  let current: Calls | undefined;
  for (const party of harness.cluster.parties.keys()) {
    const vault = requiredVault(harness.cluster, party);
    const decrypt = vault.decryptDataKey.bind(vault);
    const generate = vault.generateDataKey.bind(vault);
    vi.spyOn(vault, 'decryptDataKey').mockImplementation((...args) => {
      if (current !== undefined) current.decrypt++;
      return decrypt(...args);
    });
    vi.spyOn(vault, 'generateDataKey').mockImplementation((...args) => {
      if (current !== undefined) current.generate++;
      return generate(...args);
    });
  }
  harness.hooks.wrap = async (node, body, context, handler) => {
    const calls: Calls = { decrypt: 0, generate: 0 };
    const label = `${node} ${typeOf(body)}`;
    byHandled.set(label, [...(byHandled.get(label) ?? []), calls]);
    current = calls;
    try {
      await handler(body, context);
    } finally {
      current = undefined;
    }
  };
  return byHandled;
}

function requiredStore(harness: Harness, node: string): ItemBackend {
  const store = harness.cluster.stores.get(node);
  if (store === undefined) throw new Error(`no store for ${node}`);
  return store;
}

describe('two-round nonces sealed under the share\'s data key', () => {
  it('a 2-of-3 signature makes one Decrypt per party per round and no GenerateDataKey', async () => {
    // Pools off: this counts the two-round path alone (with pools on, the first signature also refills every pool).
    const harness = await openFromFixture(scratch, fixture, { parties: 3, limits: { ...DEFAULT_LIMITS, noncePool: false } });
    const calls = countVaultCalls(harness);
    const message = encoder.encode('one Decrypt per round');
    const signed = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, signed.signature ?? '')).toBe(true);

    const commits = [...calls].filter(([label]) => label.endsWith(` ${MessageType.signCommit}`));
    const packages = [...calls].filter(([label]) => label.endsWith(` ${MessageType.signPackage}`));
    // Every party is asked to commit; the two chosen signers get the package.
    expect(commits.map(([label]) => label.split(' ')[0]).sort()).toEqual(['p1', 'p2', 'p3']);
    expect(packages.map(([label]) => label.split(' ')[0]).sort()).toEqual([...(signed.signers ?? [])].sort());
    for (const [label, handled] of [...commits, ...packages]) expect(handled, label).toEqual([{ decrypt: 1, generate: 0 }]);
    // Nothing else on the signing path touches the vault's data keys.
    const total = [...calls.values()].flat().reduce((sum, c) => ({ decrypt: sum.decrypt + c.decrypt, generate: sum.generate + c.generate }), { decrypt: 0, generate: 0 });
    expect(total).toEqual({ decrypt: 5, generate: 0 });
  });

  it('with pools: a refill makes one Decrypt per party, a one-round signature one per signer, and neither a GenerateDataKey', async () => {
    const harness = await openFromFixture(scratch, fixture, { parties: 3 });
    const calls = countVaultCalls(harness);
    const first = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('two rounds, fills the pools') });
    expect(first.ok, JSON.stringify(first.error)).toBe(true);
    const refills = [...calls].filter(([label]) => label.endsWith(` ${MessageType.poolRefill}`));
    expect(refills.map(([label]) => label.split(' ')[0]).sort()).toEqual(['p1', 'p2', 'p3']);
    for (const [label, handled] of refills) expect(handled, label).toEqual([{ decrypt: 1, generate: 0 }]);

    calls.clear();
    const message = encoder.encode('one round: one Decrypt per signer');
    const signed = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, signed.signature ?? '')).toBe(true);
    const pooled = [...calls].filter(([label]) => label.endsWith(` ${MessageType.signPooled}`));
    expect(pooled.map(([label]) => label.split(' ')[0]).sort()).toEqual([...(signed.signers ?? [])].sort());
    for (const [label, handled] of pooled) expect(handled, label).toEqual([{ decrypt: 1, generate: 0 }]);
    // No commit round, no refill (the pools are far above their low-water mark): nothing else decrypts.
    const total = [...calls.values()].flat().reduce((sum, c) => ({ decrypt: sum.decrypt + c.decrypt, generate: sum.generate + c.generate }), { decrypt: 0, generate: 0 });
    expect(total).toEqual({ decrypt: 2, generate: 0 });
  });

  it('a nonce record written before the upgrade (sealed under its own data key) still signs', async () => {
    const harness = await openFromFixture(scratch, fixture, { parties: 3 });
    const calls = countVaultCalls(harness);
    const countingWrap = harness.hooks.wrap;
    let rewritten = 0;
    // Before p1 handles its signing package, its nonce record is put back into the old format,
    // as a record committed by the previous version and still unexpired would be.
    harness.hooks.wrap = async (node, body, context, handler) => {
      if (node === 'p1' && typeOf(body) === MessageType.signPackage) {
        const envelope = parseRaw(body);
        await sealNonceTheOldWay(harness, envelope.session, parseBody(envelope, MessageType.signPackage).attempt);
        rewritten++;
      }
      return countingWrap?.(node, body, context, handler) ?? handler(body, context);
    };
    // p1 and p2 commit first (serial delivery, in party order): p1 is one of the two signers.
    const message = encoder.encode('signed with an old-format nonce');
    const signed = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(signed.signers).toContain('p1');
    expect(rewritten).toBe(1);
    expect(opensslVerifies(fixture.publicKey, message, signed.signature ?? '')).toBe(true);
    // The old record opened with its own data key: a second Decrypt, as before the upgrade.
    expect(calls.get(`p1 ${MessageType.signPackage}`)).toEqual([{ decrypt: 2, generate: 0 }]);
  });
});

/** Re-seals p1's nonce of (session, attempt) with a data key of its own (the format before the upgrade). */
async function sealNonceTheOldWay(harness: Harness, session: string, attempt: number): Promise<void> {
  const store = requiredStore(harness, 'p1');
  const vault = requiredVault(harness.cluster, 'p1');
  const nonceKey = partyKeys.nonce(session, attempt);
  const stored = await store.get(nonceKey);
  const shareItem = await store.get(partyKeys.keyShare(fixture.keyId));
  if (stored === undefined || shareItem === undefined) throw new Error('p1 holds no nonce or no share');
  const record = NonceRecord.parse(stored.data);
  const share = KeyShareRecord.parse(shareItem.data);
  if ('dataKey' in record.nonces) throw new Error('the nonce was sealed with a data key of its own already');
  const scope = new SecretScope();
  try {
    const { dataKey } = await openSecretAndKey(vault, secretContext('p1', fixture.keyId, 'key-share'), partyKeys.keyShare(fixture.keyId), share.share, scope);
    const nonces = openDerived(dataKey, 'nonce', nonceKey, record.nonces, scope);
    const old = await sealSecret(vault, secretContext('p1', fixture.keyId, 'nonce'), nonceKey, nonces, scope);
    await store.write([{ op: 'put', item: { ...stored, data: { ...record, nonces: old }, version: stored.version + 1 }, condition: { kind: 'version', version: stored.version } }], Math.floor(Date.now() / 1000));
  } finally {
    scope.wipe();
  }
}
