/** DKG and FROST signing end to end on the embedded cluster, every signature checked with OpenSSL. */
import { afterAll, describe, expect, it } from 'vitest';
import {
  encoder,
  makeFixture,
  openFromFixture,
  openHarness,
  opensslVerifies,
  Scratch,
  typeOf,
  type Harness,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

/** Drops every message to `offline`: the party never hears of the request. */
function cutOff(harness: Harness, offline: readonly string[]): void {
  harness.hooks.intercept = ({ destination, body }) =>
    destination.kind === 'party' && offline.includes(destination.id) ? [] : [body];
}

describe.each([
  { t: 2, n: 3 },
  { t: 3, n: 5 },
  { t: 7, n: 10 },
])('$t-of-$n', ({ t, n }) => {
  it('creates a key by DKG and signs with it; OpenSSL accepts the signature', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: n });
    const cluster = scratch.own(harness.cluster);
    const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);

    const keygen = await cluster.keygen({ keyId: 'k1', threshold: t });
    expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
    expect(keygen.threshold).toBe(t);
    expect(keygen.parties).toEqual([...parties].sort());
    expect(keygen.publicKey).toMatch(/^[0-9a-f]{64}$/);
    const publicKey = keygen.publicKey ?? '';
    // Every party confirmed the same public package: the coordinator's key record agrees.
    expect((await cluster.coordinator.getKey('k1'))?.publicKey).toBe(publicKey);

    const message = encoder.encode(`pay 10 to alice (${t}-of-${n})`);
    const signed = await cluster.sign({ keyId: 'k1', message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(signed.publicKey).toBe(publicKey);
    expect(signed.message).toBe(Buffer.from(message).toString('hex'));
    expect(opensslVerifies(publicKey, message, signed.signature ?? '')).toBe(true);
    expect(opensslVerifies(publicKey, encoder.encode('pay 10 to mallory'), signed.signature ?? '')).toBe(false);
    expect(signed.signers).toHaveLength(t);
    expect(new Set(signed.signers).size).toBe(t);
    for (const signer of signed.signers ?? []) expect(parties).toContain(signer);

    // Another t-subset: the last t parties only (the first n-t never hear of the request).
    const others = parties.slice(n - t);
    cutOff(harness, parties.slice(0, n - t));
    const message2 = encoder.encode('second message');
    const signed2 = await cluster.sign({ keyId: 'k1', message: message2 });
    expect(signed2.ok, JSON.stringify(signed2.error)).toBe(true);
    expect([...(signed2.signers ?? [])].sort()).toEqual([...others].sort());
    expect(opensslVerifies(publicKey, message2, signed2.signature ?? '')).toBe(true);
  });
});

describe('any t of the n parties can sign', () => {
  it.each([
    [['p1', 'p2'], 'p3'],
    [['p1', 'p3'], 'p2'],
    [['p2', 'p3'], 'p1'],
  ])('2-of-3 signs with %j while %s is unreachable', async (signers, offline) => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    cutOff(harness, [offline]);
    const message = encoder.encode(`signed by ${signers.join('+')}`);
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.signers).toEqual(signers);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    expect(harness.cluster.outcomes.some((o) => o.node === offline)).toBe(false);
  });

  it('signs while a party is down (its handler fails every delivery until the message is dead-lettered)', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    let failures = 0;
    harness.hooks.wrap = async (node, body, context, handler) => {
      if (node === 'p1') {
        failures += 1;
        throw new Error('p1 is down');
      }
      return handler(body, context);
    };
    const message = encoder.encode('p1 is down');
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message });
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.signers).toEqual(['p2', 'p3']);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    expect(failures).toBeGreaterThan(1); // redelivered, not dropped after one try
    // The key's first signature also asks every party for a nonce pool batch: p1's request dies too.
    expect(harness.cluster.inboxes.get('p1')?.deadLetters.peekAll().map(typeOf)).toEqual(['sign.commit', 'pool.refill']);
  });
});

describe('keys persist', () => {
  it('a key made by one cluster signs after the cluster is closed and reopened on the same data directory', async () => {
    const dir = await scratch.dir();
    const first = await openHarness(dir, { parties: 3 });
    const keygen = await first.cluster.keygen({ keyId: 'persisted', threshold: 2 });
    expect(keygen.ok).toBe(true);
    await first.cluster.close();

    const second = await openHarness(dir);
    scratch.own(second.cluster);
    expect([...second.cluster.parties.keys()]).toEqual(['p1', 'p2', 'p3']);
    const message = encoder.encode('after restart');
    const signed = await second.cluster.sign({ keyId: 'persisted', message });
    expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
    expect(signed.publicKey).toBe(keygen.publicKey);
    expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
  });
});

describe('keygen refusals', () => {
  it('refuses a threshold below 2 at intake: no party is asked, no key exists', async () => {
    const harness = await openHarness(await scratch.dir(), { parties: 3 });
    scratch.own(harness.cluster);
    const result = await harness.cluster.keygen({ keyId: 'solo', threshold: 1 });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('malformed');
    expect(result.publicKey).toBeUndefined();
    expect(harness.sent.filter((m) => m.destination.kind === 'party')).toEqual([]);
    expect(await harness.cluster.coordinator.getKey('solo')).toBeUndefined();
  });

  it('refuses a second keygen for an existing key id', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const result = await harness.cluster.keygen({ keyId: fixture.keyId, threshold: 2 });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('conflict');
    expect((await harness.cluster.coordinator.getKey(fixture.keyId))?.publicKey).toBe(fixture.publicKey);
  });
});

let fixture23Promise: ReturnType<typeof makeFixture> | undefined;
function fixture23() {
  fixture23Promise ??= makeFixture(scratch, 3, 2);
  return fixture23Promise;
}
