/**
 * Regression tests named after the attacks they stop. The coordinator is trusted for
 * liveness only, so several tests play a malicious coordinator (re-signing what it sends
 * with its own identity key) or a malicious party (re-signing with that party's key).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FileKeyVault } from '../../lib/adapters/local/file-key-vault.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { createEnvelope, deriveSessionId } from '../../lib/protocol/envelope.js';
import { MessageType, type Envelope } from '../../lib/protocol/messages.js';
import {
  bodyOf,
  encoder,
  freshCopy,
  makeFixture,
  openFromFixture,
  opensslVerifies,
  parseRaw,
  requiredParty,
  requiredVault,
  resign,
  Scratch,
  SteppedClock,
  storeItems,
  typeOf,
  type Fixture,
  type Harness,
  type Sent,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let fixturePromise: Promise<Fixture> | undefined;
const fixture23 = () => (fixturePromise ??= makeFixture(scratch, 3, 2));
const PARTIES = ['p1', 'p2', 'p3'];
const hex = (text: string) => Buffer.from(text).toString('hex');

function sentTo(harness: Harness, node: string, type: string): Sent[] {
  return harness.sent.filter((m) => m.destination.kind === 'party' && m.destination.id === node && typeOf(m.body) === type);
}

function sentBy(harness: Harness, node: string, type: string): Sent[] {
  return harness.sent.filter((m) => m.from === node && typeOf(m.body) === type);
}

function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0] as T;
}

async function nonceItems(dir: string, party: string) {
  const items = await storeItems(dir, party, 'nonce#');
  return { unused: items.filter((i) => i.sk === 'nonce'), consumed: items.filter((i) => i.sk === 'consumed') };
}

describe('a coordinator that alters the message to be signed', () => {
  it.each([MessageType.signCommit, MessageType.signPackage])(
    'is refused by every party with bad-signature when it swaps the message in %s; nothing is signed',
    async (target) => {
      const fixture = await fixture23();
      const harness = await openFromFixture(scratch, fixture);
      const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
      let altered = 0;
      harness.hooks.intercept = async ({ from, body }) => {
        if (from !== 'coordinator' || typeOf(body) !== target) return [body];
        const envelope = parseRaw(body);
        const outer = bodyOf(envelope);
        const request = outer.request as Envelope;
        const forged = { ...request, body: { ...bodyOf(request), message: hex('pay 1000000 to mallory') } };
        altered += 1;
        // The outer envelope carries a valid coordinator signature; only the initiator's
        // signature inside can reveal the swap.
        return [await resign(coordinatorVault, envelope, { body: { ...outer, request: forged } })];
      };

      const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('pay 10 to alice') });
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('bad-signature');
      expect(result.signature).toBeUndefined();
      expect(altered).toBeGreaterThan(0);

      const received = harness.cluster.outcomes.filter((o) => o.node !== 'coordinator' && o.outcome.type === target);
      expect(received).toHaveLength(altered);
      for (const { outcome } of received) expect(outcome).toMatchObject({ status: 'refused', code: 'bad-signature' });
      expect(harness.sent.filter((m) => typeOf(m.body) === MessageType.signShare)).toEqual([]);

      // State untouched: no nonce was drawn for an altered commit, none was spent on an altered package.
      for (const party of PARTIES) {
        const { unused, consumed } = await nonceItems(harness.dir, party);
        expect(consumed).toEqual([]);
        if (target === MessageType.signCommit) expect(unused).toEqual([]);
      }

      // And the key still works for an honest request afterwards.
      harness.hooks.intercept = undefined;
      const message = encoder.encode('honest');
      const honest = await harness.cluster.sign({ keyId: fixture.keyId, message });
      expect(honest.ok).toBe(true);
      expect(opensslVerifies(fixture.publicKey, message, honest.signature ?? '')).toBe(true);
    },
  );
});

describe('requests not signed by an authorised initiator', () => {
  it('an initiator missing from the parties\' policy is refused by every party (unauthorised-initiator)', async () => {
    const fixture = await fixture23();
    // "app2" is pinned in the directory (a known identity), but the parties' policy grants only "cli".
    const policy = { maxMessageBytes: 1024, initiators: { cli: { keygen: true, keys: ['*'] } } };
    const harness = await openFromFixture(scratch, fixture, { initiator: 'app2', policy });
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('hi') });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('unauthorised-initiator');
    expect(result.signature).toBeUndefined();
    const commits = harness.cluster.outcomes.filter((o) => o.outcome.type === MessageType.signCommit);
    expect(commits.length).toBeGreaterThanOrEqual(2);
    for (const { outcome } of commits) expect(outcome).toMatchObject({ status: 'refused', code: 'unauthorised-initiator' });
    for (const party of PARTIES) expect((await nonceItems(harness.dir, party)).unused).toEqual([]);
  });

  it('a key the initiator was not granted is refused (unauthorised-initiator)', async () => {
    const fixture = await fixture23();
    const policy = { maxMessageBytes: 1024, initiators: { cli: { keygen: true, keys: ['some-other-key'] } } };
    const harness = await openFromFixture(scratch, fixture, { policy });
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('hi') });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('unauthorised-initiator');
    for (const party of PARTIES) expect((await nonceItems(harness.dir, party)).unused).toEqual([]);
  });

  it('a message over the parties\' maxMessageBytes is refused (policy)', async () => {
    const fixture = await fixture23();
    const policy = { maxMessageBytes: 16, initiators: { cli: { keygen: true, keys: ['*'] } } };
    const harness = await openFromFixture(scratch, fixture, { policy });
    const atLimit = encoder.encode('x'.repeat(16));
    const ok = await harness.cluster.sign({ keyId: fixture.keyId, message: atLimit });
    expect(ok.ok).toBe(true);
    expect(opensslVerifies(fixture.publicKey, atLimit, ok.signature ?? '')).toBe(true);
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('x'.repeat(17)) });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('policy');
  });

  it('a request signed by a foreign key under an authorised name is dropped by the coordinator: no party is asked', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const foreign = await FileKeyVault.open(join(await scratch.dir(), 'foreign'));
    const requestId = 'forged-1';
    const forged = await createEnvelope(foreign, Date.now(), {
      type: MessageType.signRequest,
      session: deriveSessionId('cli', requestId),
      from: 'cli',
      to: 'coordinator',
      body: { requestId, keyId: fixture.keyId, message: hex('forged') },
    });
    const outcome = await harness.cluster.coordinator.handle(JSON.stringify(forged));
    expect(outcome).toMatchObject({ status: 'refused', code: 'bad-signature' });
    await harness.cluster.run();
    expect(harness.sent).toEqual([]);
    expect(await harness.cluster.coordinator.getSession(forged.session)).toBeUndefined();
  });

  it('a coordinator relaying a request it forged (foreign key, or unknown initiator) is refused by each party', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
    const foreign = await FileKeyVault.open(join(await scratch.dir(), 'foreign'));
    for (const [from, expected] of [
      ['cli', 'bad-signature'],
      ['mallory', 'unauthorised-initiator'],
    ] as const) {
      const requestId = `forged-by-coordinator-${from}`;
      const session = deriveSessionId(from, requestId);
      const request = await createEnvelope(foreign, Date.now(), {
        type: MessageType.signRequest,
        session,
        from,
        to: 'coordinator',
        body: { requestId, keyId: fixture.keyId, message: hex('forged') },
      });
      for (const party of PARTIES) {
        const commit = await createEnvelope(coordinatorVault, Date.now(), {
          type: MessageType.signCommit,
          session,
          from: 'coordinator',
          to: party,
          body: { request, attempt: 1 },
        });
        const outcome = await requiredParty(harness.cluster, party).handle(JSON.stringify(commit));
        expect(outcome).toMatchObject({ status: 'refused', code: expected });
      }
    }
    expect(sentBy(harness, 'p1', MessageType.signCommitment)).toEqual([]);
    for (const party of PARTIES) expect((await nonceItems(harness.dir, party)).unused).toEqual([]);
  });
});

describe('replayed messages', () => {
  it('the same raw envelope delivered twice is refused the second time (replayed), at parties and at the coordinator', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('replay me') });
    expect(result.ok).toBe(true);

    // Messages that were delivered once already.
    const commitToP1 = only(sentTo(harness, 'p1', MessageType.signCommit), 'sign.commit to p1').body;
    expect(await requiredParty(harness.cluster, 'p1').handle(commitToP1)).toMatchObject({ status: 'refused', code: 'replayed' });
    const commitmentFromP1 = only(sentBy(harness, 'p1', MessageType.signCommitment), 'commitment from p1').body;
    expect(await harness.cluster.coordinator.handle(commitmentFromP1)).toMatchObject({ status: 'refused', code: 'replayed' });
    // A processed sign.request is not marked either: its session answers the repeat (the
    // finished session's result again), and nothing stored changes.
    const request = only(sentBy(harness, 'cli', MessageType.signRequest), 'sign.request').body;
    const storedBefore = await storeItems(harness.dir, 'coordinator', '');
    const sentBefore = harness.sent.length;
    expect(await harness.cluster.coordinator.handle(request)).toMatchObject({ status: 'processed' });
    expect(await storeItems(harness.dir, 'coordinator', '')).toEqual(storedBefore);
    expect(harness.sent.slice(sentBefore).map((m) => typeOf(m.body))).toEqual([MessageType.signResult]);
    // A refused one left no session to answer from: it is marked, and its replay refused as such.
    const initiatorVault = requiredVault(harness.cluster, 'cli');
    const requestEnvelope = parseRaw(request);
    const conflicting = await freshCopy(initiatorVault, requestEnvelope, Date.now(), { ...bodyOf(requestEnvelope), message: hex('another message, same request id') });
    expect(await harness.cluster.coordinator.handle(conflicting)).toMatchObject({ status: 'refused', code: 'conflict' });
    expect(await harness.cluster.coordinator.handle(conflicting)).toMatchObject({ status: 'refused', code: 'replayed' });
    // A signature share keeps no replay mark at the coordinator: it is processed again and
    // changes nothing stored (its session is finished; it only answers with the same result).
    const share = harness.sent.find((m) => typeOf(m.body) === MessageType.signShare)?.body;
    if (share === undefined) throw new Error('no share sent');
    const before = await storeItems(harness.dir, 'coordinator', '');
    const results = harness.sent.length;
    expect(await harness.cluster.coordinator.handle(share)).toMatchObject({ status: 'processed' });
    expect(await storeItems(harness.dir, 'coordinator', '')).toEqual(before);
    for (const m of harness.sent.slice(results)) expect(typeOf(m.body)).toBe(MessageType.signResult);

    // A new message, delivered twice in a row.
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
    const again = await freshCopy(coordinatorVault, parseRaw(commitToP1), Date.now());
    const party = requiredParty(harness.cluster, 'p1');
    expect((await party.handle(again)).status).toBe('processed');
    expect(await party.handle(again)).toMatchObject({ status: 'refused', code: 'replayed' });
  });
});

describe('a party that returns a wrong signature share', () => {
  /** p3's first commitment is lost, so attempt 1 is signed by p1 and p2; `cheaters` corrupt their shares. */
  function cheat(harness: Harness, cheaters: readonly string[]): string[] {
    const cheated: string[] = [];
    harness.hooks.intercept = async ({ from, body }) => {
      const type = typeOf(body);
      if (from === 'p3' && type === MessageType.signCommitment && bodyOf(parseRaw(body)).attempt === 1) return [];
      if (!cheaters.includes(from) || type !== MessageType.signShare) return [body];
      const envelope = parseRaw(body);
      const share = String(bodyOf(envelope).share);
      // Another canonical scalar: flip the lowest bit of the little-endian encoding.
      const wrong = (parseInt(share.slice(0, 2), 16) ^ 1).toString(16).padStart(2, '0') + share.slice(2);
      cheated.push(from);
      return [await resign(requiredVault(harness.cluster, from), envelope, { body: { ...bodyOf(envelope), share: wrong } })];
    };
    return cheated;
  }

  it('is named by the coordinator and excluded; signing completes with the remaining honest parties', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const cheated = cheat(harness, ['p2']);
    const message = encoder.encode('cheater present');
    const session = await harness.cluster.initiator.requestSignature({ keyId: fixture.keyId, message });
    await harness.cluster.run();
    const results = harness.cluster.takeResults().filter((r) => r.session === session);
    expect(results).toHaveLength(1);
    const result = results[0]?.type === 'sign.result' ? results[0].body : undefined;
    expect(result?.ok, JSON.stringify(result?.error)).toBe(true);
    expect(result?.signers).toEqual(['p1', 'p3']);
    expect(opensslVerifies(fixture.publicKey, message, result?.signature ?? '')).toBe(true);
    expect(cheated).toEqual(['p2']);

    const stored = await harness.cluster.coordinator.getSession(session);
    expect(stored?.kind === 'sign' ? stored.excluded : undefined).toEqual(['p2']);
    expect(stored?.kind === 'sign' ? stored.attempt : undefined).toBe(2);
    expect(harness.logs.filter((l) => l.message === 'invalid signature share').map((l) => l.fields.blame)).toEqual(['p2']);
  });

  it('fails with cheater-detected naming every cheater when too few honest parties remain', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const cheated = cheat(harness, ['p2', 'p3']);
    const session = await harness.cluster.initiator.requestSignature({ keyId: fixture.keyId, message: encoder.encode('two cheaters') });
    await harness.cluster.run();
    const results = harness.cluster.takeResults().filter((r) => r.session === session);
    expect(results).toHaveLength(1);
    const result = results[0]?.type === 'sign.result' ? results[0].body : undefined;
    expect(result?.ok).toBe(false);
    expect(result?.error?.code).toBe('cheater-detected');
    expect([...(result?.error?.blame ?? [])].sort()).toEqual(['p2', 'p3']);
    expect(result?.signature).toBeUndefined();
    expect([...cheated].sort()).toEqual(['p2', 'p3']);
    const stored = await harness.cluster.coordinator.getSession(session);
    expect(stored?.phase).toBe('failed');
  });
});

describe('nonce safety', () => {
  it('signShare refuses a second package for a spent nonce (nonce-reuse); the identical package gets the identical share', async () => {
    const fixture = await fixture23();
    const harness = await openFromFixture(scratch, fixture);
    const result = await harness.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('original') });
    expect(result.ok).toBe(true);
    const [signer, cosigner] = result.signers ?? [];
    const outsider = PARTIES.find((p) => !(result.signers ?? []).includes(p));
    if (signer === undefined || cosigner === undefined || outsider === undefined) throw new Error('unexpected signer set');

    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
    const party = requiredParty(harness.cluster, signer);
    const pkg = parseRaw(only(sentTo(harness, signer, MessageType.signPackage), 'sign.package').body);
    const pkgBody = bodyOf(pkg);
    const originalShare = bodyOf(parseRaw(only(sentBy(harness, signer, MessageType.signShare), 'sign.share').body));

    // 1. The identical package again (a redelivery, as a new message): the stored share, unchanged.
    let mark = harness.sent.length;
    expect((await party.handle(await freshCopy(coordinatorVault, pkg, Date.now()))).status).toBe('processed');
    const answers = harness.sent.slice(mark).filter((m) => m.from === signer && typeOf(m.body) === MessageType.signShare);
    expect(answers).toHaveLength(1);
    expect(bodyOf(parseRaw(answers[0]?.body ?? ''))).toEqual(originalShare);

    // 2. Different commitments: the co-signer's commitment swapped for the outsider's (genuinely signed by it).
    const commitments = pkgBody.commitments as Envelope[];
    const outsiderCommitment = parseRaw(only(sentBy(harness, outsider, MessageType.signCommitment), 'outsider commitment').body);
    const swapped = commitments.map((c) => (c.from === cosigner ? outsiderCommitment : c));
    mark = harness.sent.length;
    const reuse1 = await party.handle(await freshCopy(coordinatorVault, pkg, Date.now(), { ...pkgBody, commitments: swapped }));
    expect(reuse1).toMatchObject({ status: 'refused', code: 'nonce-reuse' });

    // 3. A different message under the same request id, validly signed by the initiator.
    const request = pkgBody.request as Envelope;
    const newRequest = await createEnvelope(requiredVault(harness.cluster, 'cli'), Date.now(), {
      type: MessageType.signRequest,
      session: request.session,
      from: 'cli',
      to: 'coordinator',
      body: { ...(bodyOf(request) as { requestId: string; keyId: string }), message: hex('something else') },
    });
    const reuse2 = await party.handle(await freshCopy(coordinatorVault, pkg, Date.now(), { ...pkgBody, request: newRequest }));
    expect(reuse2).toMatchObject({ status: 'refused', code: 'nonce-reuse' });

    // No share left the party for either; both were reported to the coordinator and logged.
    const after = harness.sent.slice(mark).filter((m) => m.from === signer);
    expect(after.map((m) => typeOf(m.body))).toEqual([MessageType.partyRefused, MessageType.partyRefused]);
    for (const m of after) expect(bodyOf(parseRaw(m.body))).toMatchObject({ code: 'nonce-reuse', inResponseTo: MessageType.signPackage });
    expect(harness.logs.filter((l) => l.level === 'error' && l.fields.party === signer)).toHaveLength(2);
  });

  it('a nonce committed but never used expires: after nonceTtlSeconds its package is refused (wrong-round)', async () => {
    const fixture = await fixture23();
    const clock = new SteppedClock();
    const harness = await openFromFixture(scratch, fixture, { clock });
    const held: Sent[] = [];
    harness.hooks.intercept = (message) => {
      if (message.from === 'coordinator' && typeOf(message.body) === MessageType.signPackage) {
        held.push(message);
        return [];
      }
      return [message.body];
    };
    const session = await harness.cluster.initiator.requestSignature({ keyId: fixture.keyId, message: encoder.encode('never finished') });
    await harness.cluster.run();
    expect((await harness.cluster.coordinator.getSession(session))?.phase).toBe('sign');
    const [late, control] = held;
    if (late?.destination.kind !== 'party' || control?.destination.kind !== 'party') throw new Error('expected two held packages');
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');

    // Within the TTL the nonce is usable (control).
    const early = await requiredParty(harness.cluster, control.destination.id).handle(
      await freshCopy(coordinatorVault, parseRaw(control.body), clock.now()),
    );
    expect(early.status).toBe('processed');

    clock.advance((DEFAULT_LIMITS.nonceTtlSeconds + 1) * 1000);
    const expired = await requiredParty(harness.cluster, late.destination.id).handle(
      await freshCopy(coordinatorVault, parseRaw(late.body), clock.now()),
    );
    expect(expired).toMatchObject({ status: 'refused', code: 'wrong-round' });
  });
});
