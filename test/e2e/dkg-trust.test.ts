/**
 * Keygen under a lying party or coordinator: blame only with evidence anyone can check,
 * one round-1 package per session, and failed keygens that leave nothing blocking a retry.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import { DEFAULT_LIMITS, dkgLifetimes } from '../../lib/protocol/directory.js';
import { judgeAccusation } from '../../lib/protocol/dkg-blame.js';
import { createEnvelope, deriveSessionId } from '../../lib/protocol/envelope.js';
import { MessageType, type Envelope } from '../../lib/protocol/messages.js';
import { partyKeys } from '../../lib/protocol/party-state.js';
import { ed25519Suite, type Suite } from '../../lib/protocol/suite.js';
import {
  bodyOf,
  encoder,
  freshCopy,
  openHarness,
  opensslVerifies,
  parseRaw,
  requiredParty,
  requiredVault,
  resign,
  Scratch,
  SteppedClock,
  storeItems,
  typeOf,
  type Harness,
  type HarnessOptions,
  type Sent,
} from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const PARTIES = ['p1', 'p2', 'p3'];

async function harnessWith(options: HarnessOptions = {}, dir?: string): Promise<Harness> {
  const harness = await openHarness(dir ?? (await scratch.dir()), { parties: 3, ...options });
  scratch.own(harness.cluster);
  return harness;
}

function sentBy(harness: Harness, node: string, type: string): Sent[] {
  return harness.sent.filter((m) => m.from === node && typeOf(m.body) === type);
}

function sentTo(harness: Harness, node: string, type: string): Sent[] {
  return harness.sent.filter((m) => m.destination.kind === 'party' && m.destination.id === node && typeOf(m.body) === type);
}

function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0] as T;
}

/** p2's round 2 sends p1 a share that opens but is not its committed polynomial's value. */
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

/** A party whose round 3 claims every share is bad: it accuses the first sender, with its real evidence. */
function suiteClaimingEverySharesBad(): Suite {
  const { frost } = ed25519Suite;
  const round3: typeof frost.DKG.round3 = () => {
    throw new Error('invented failure');
  };
  const validateSecret: typeof frost.validateSecret = () => {
    throw new Error('invented mismatch');
  };
  return { ...ed25519Suite, frost: { ...frost, validateSecret, DKG: { ...frost.DKG, round3 } } };
}

/** Items under a key id at a party, after its cluster was closed. */
async function keyItems(dir: string, party: string, keyId: string) {
  return (await storeItems(dir, party, `key#${keyId}`)).filter((i) => i.pk === `key#${keyId}`);
}

describe('DKG blame needs evidence anyone can check', () => {
  const liarCases = [
    ['with no evidence', () => ({ accused: 'p2' })],
    ['with a secret that is not its ephemeral key', () => ({ accused: 'p2', evidence: { kind: 'dkg-share', ephemeralSecret: randomBytes(32).toString('hex') } })],
    ['with its real secret, against a party whose share was fine', (accusation: Record<string, unknown>) => ({ ...accusation, accused: 'p3' })],
    ['with its real secret (an implementation that invents the failure)', undefined],
  ] as const;

  it.each(liarCases)('a party accusing an honest one %s is named itself; the honest party never is', async (_name, rewrite) => {
    const harness = await harnessWith({ suiteFor: (party) => (party === 'p1' ? suiteClaimingEverySharesBad() : undefined) });
    const p1Vault = requiredVault(harness.cluster, 'p1');
    harness.hooks.intercept = async ({ from, body }) => {
      if (rewrite === undefined || from !== 'p1' || typeOf(body) !== MessageType.partyRefused) return [body];
      const envelope = parseRaw(body);
      const { blame: _blame, accusation, ...refused } = bodyOf(envelope);
      // p1 signs what it likes with its own key: the coordinator must not take its word.
      return [await resign(p1Vault, envelope, { body: { ...refused, accusation: rewrite((accusation ?? {}) as Record<string, unknown>) } })];
    };
    const result = await harness.cluster.keygen({ keyId: 'k', threshold: 2 });
    expect(result.ok).toBe(false);
    expect(result.error?.blame).toEqual(['p1']);
    expect(result.error?.code).toBe('cheater-detected');
    expect(result.error?.message).toContain('accusation its evidence does not support');
    expect(await harness.cluster.coordinator.getKey('k')).toBeUndefined();
    const judged = harness.logs.filter((l) => l.message === 'dkg accusation judged');
    expect(judged.map((l) => [l.fields.accuser, l.fields.holds, l.fields.faulty])).toEqual([['p1', false, 'p1']]);
  });

  it('a really bad share (vss_verify fails): the cheater is named after the coordinator checked the evidence, and anyone can re-check it', async () => {
    const harness = await harnessWith({ suiteFor: (party) => (party === 'p2' ? suiteSendingABadShareTo('p1') : undefined) });
    const result = await harness.cluster.keygen({ keyId: 'k', threshold: 2 });
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({ code: 'protocol', blame: ['p2'] });
    expect(result.error?.message).toContain('the coordinator checked the evidence');
    expect(result.error?.message).toContain('fails vss_verify');

    // The refusal carries the accuser's ephemeral secret, not a bare list of names.
    const refusal = parseRaw(only(sentBy(harness, 'p1', MessageType.partyRefused), 'p1 refusal').body);
    expect(bodyOf(refusal)).toMatchObject({ abandoned: true, accusation: { accused: 'p2', evidence: { kind: 'dkg-share' } } });
    expect(bodyOf(refusal).blame).toBeUndefined();

    // An initiator (or auditor) holding the signed messages reaches the same verdict alone.
    const transcript = {
      request: parseRaw(only(sentBy(harness, 'cli', MessageType.keygenRequest), 'keygen request').body),
      round1: PARTIES.map((p) => parseRaw(only(sentBy(harness, p, MessageType.dkgRound1), `${p} round 1`).body)),
      shares: PARTIES.map((p) => parseRaw(only(sentBy(harness, p, MessageType.dkgShares), `${p} shares`).body)),
    };
    const context = { suite: ed25519Suite, directory: harness.cluster.directory };
    expect(judgeAccusation(refusal, transcript, context)).toMatchObject({ holds: true, faulty: 'p2', accused: 'p2', accuser: 'p1' });

    // The same evidence turned against p3, whose share was fine, names the accuser.
    const redirected = parseRaw(
      await resign(requiredVault(harness.cluster, 'p1'), refusal, {
        body: { ...bodyOf(refusal), accusation: { ...(bodyOf(refusal).accusation as object), accused: 'p3' } },
      }),
    );
    expect(judgeAccusation(redirected, transcript, context)).toMatchObject({ holds: false, faulty: 'p1' });
  });

  it('a sealed share that does not open (re-signed by its sender) names the sender', async () => {
    const harness = await harnessWith();
    harness.hooks.intercept = async ({ from, body }) => {
      if (from !== 'p2' || typeOf(body) !== MessageType.dkgShares) return [body];
      const envelope = parseRaw(body);
      const shares = bodyOf(envelope).shares as Record<string, { iv: string; ct: string }>;
      const forP1 = shares.p1;
      if (forP1 === undefined) throw new Error('no share for p1');
      const ct = (forP1.ct[0] === '0' ? '1' : '0') + forP1.ct.slice(1);
      return [await resign(requiredVault(harness.cluster, 'p2'), envelope, { body: { ...bodyOf(envelope), shares: { ...shares, p1: { ...forP1, ct } } } })];
    };
    const result = await harness.cluster.keygen({ keyId: 'k', threshold: 2 });
    expect(result.error).toMatchObject({ code: 'protocol', blame: ['p2'] });
    expect(result.error?.message).toContain('does not open with the ephemeral keys both signed');
  });
});

describe('one round-1 package per keygen session', () => {
  it('derived lifetimes: round state outlives every request it serves; the session marker outlives both', () => {
    const { stateSeconds, sessionSeconds } = dkgLifetimes(DEFAULT_LIMITS);
    expect(stateSeconds * 1000).toBeGreaterThan(DEFAULT_LIMITS.maxRequestAgeMs + DEFAULT_LIMITS.maxClockSkewMs);
    expect(sessionSeconds).toBeGreaterThan(2 * stateSeconds);
  });

  /** A keygen whose request is dated 50 s ahead; p1's round-1 answers never reach the coordinator. */
  async function startedAhead(harness: Harness, clock: SteppedClock, requestId: string) {
    harness.hooks.intercept = ({ from, body }) => (from === 'p1' && typeOf(body) === MessageType.dkgRound1 ? [] : [body]);
    const body = { requestId, keyId: 'k', suite: ed25519Suite.id, threshold: 2, parties: PARTIES };
    const request = await createEnvelope(requiredVault(harness.cluster, 'cli'), clock.now() + 50_000, {
      type: MessageType.keygenRequest,
      session: deriveSessionId('cli', requestId),
      from: 'cli',
      to: 'coordinator',
      body,
    });
    expect((await harness.cluster.coordinator.handle(JSON.stringify(request))).status).toBe('processed');
    await harness.cluster.run();
    return parseRaw(only(sentTo(harness, 'p1', MessageType.dkgStart), 'dkg.start to p1').body);
  }

  it('a request dated ahead: dkg.start redelivered after the old state TTL gets the same package; after the request window, a refusal', async () => {
    const clock = new SteppedClock();
    const harness = await harnessWith({ clock });
    const start = await startedAhead(harness, clock, 'ahead-1');
    const p1 = requiredParty(harness.cluster, 'p1');
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');

    // Past one hour (the old state TTL) but within the request's window (age 1 h + 50 s ahead).
    clock.advance((60 * 60 + 20) * 1000);
    expect((await p1.handle(await freshCopy(coordinatorVault, start, clock.now()))).status).toBe('processed');
    // Past the request window: refused, and still no second package.
    clock.advance(10 * 60 * 1000);
    expect(await p1.handle(await freshCopy(coordinatorVault, start, clock.now()))).toMatchObject({ status: 'refused', code: 'stale' });

    const packages = sentBy(harness, 'p1', MessageType.dkgRound1).map((m) => bodyOf(parseRaw(m.body)));
    expect(packages).toHaveLength(2);
    expect(packages[1]).toEqual(packages[0]);
  });

  it('round state gone while its request is still accepted: dkg.start is refused (session-closed), never answered with a new package', async () => {
    const dir = await scratch.dir();
    const clock = new SteppedClock();
    const first = await harnessWith({ clock }, dir);
    const start = await startedAhead(first, clock, 'lost-state');
    await first.cluster.close();

    // The round state disappears (reaped, restored from an older backup, ...); the marker stays.
    const store = await SqliteItemBackend.open(join(dir, 'parties', 'p1', 'store.sqlite'));
    try {
      await store.write([{ op: 'delete', key: partyKeys.dkgState(start.session), condition: { kind: 'exists' } }], Math.floor(clock.now() / 1000));
    } finally {
      store.close();
    }

    const second = await harnessWith({ clock }, dir);
    const outcome = await requiredParty(second.cluster, 'p1').handle(await freshCopy(requiredVault(second.cluster, 'coordinator'), start, clock.now()));
    expect(outcome).toMatchObject({ status: 'refused', code: 'session-closed' });
    expect(sentBy(second, 'p1', MessageType.dkgRound1)).toEqual([]);
    const refusal = bodyOf(parseRaw(only(sentBy(second, 'p1', MessageType.partyRefused), 'p1 refusal').body));
    expect(refusal).toMatchObject({ code: 'session-closed', abandoned: true });
  });
});

describe('a keygen that never confirmed leaves nothing blocking a retry', () => {
  it('after a refusal at round 3 every pending share is deleted and an honest retry with the same key id succeeds', async () => {
    const dir = await scratch.dir();
    const failing = await harnessWith({ suiteFor: (party) => (party === 'p2' ? suiteSendingABadShareTo('p1') : undefined) }, dir);
    const failed = await failing.cluster.keygen({ keyId: 'k', threshold: 2, requestId: 'first' });
    expect(failed.ok).toBe(false);
    const failedSession = deriveSessionId('cli', 'first');
    await failing.cluster.close();

    const retrying = await harnessWith({}, dir);
    const retry = await retrying.cluster.keygen({ keyId: 'k', threshold: 2, requestId: 'second' });
    expect(retry.ok, JSON.stringify(retry.error)).toBe(true);
    const message = encoder.encode('after a failed keygen');
    const signed = await retrying.cluster.sign({ keyId: 'k', message });
    expect(opensslVerifies(retry.publicKey ?? '', message, signed.signature ?? '')).toBe(true);

    // p2 and p3 had finished round 3 and were told, with p1's signed refusal, that it can never confirm.
    const aborts = failing.sent.filter((m) => typeOf(m.body) === MessageType.dkgAbort);
    expect(aborts.map((m) => (m.destination.kind === 'party' ? m.destination.id : '-')).sort()).toEqual(['p2', 'p3']);
    const abortOutcomes = failing.cluster.outcomes.filter((o) => o.outcome.type === MessageType.dkgAbort).map((o) => o.outcome.status);
    expect(abortOutcomes).toEqual(['processed', 'processed']);

    // The coordinator replays the old abort at the parties: nothing of the active key is touched.
    const coordinatorVault = requiredVault(retrying.cluster, 'coordinator');
    for (const abort of aborts) {
      const party = abort.destination.kind === 'party' ? abort.destination.id : '-';
      const replayed = await freshCopy(coordinatorVault, parseRaw(abort.body), Date.now());
      expect((await requiredParty(retrying.cluster, party).handle(replayed)).status).toBe('processed');
    }
    await retrying.cluster.close();
    // Every party holds the retry's active share and nothing else under the key id (no
    // pending share of the failed keygen); of that keygen only its session marker is left.
    for (const party of PARTIES) {
      const items = await keyItems(dir, party, 'k');
      expect(items.map((i) => [i.sk, i.data.status, i.data.session])).toEqual([['share', 'active', deriveSessionId('cli', 'second')]]);
      expect((await storeItems(dir, party, `dkg#${failedSession}`)).map((i) => [i.sk, i.data.status])).toEqual([
        ['session', party === 'p1' ? 'abandoned' : 'aborted'],
      ]);
    }
  });

  it('a pending share that is never confirmed expires with its session marker (nothing is kept forever)', async () => {
    const clock = new SteppedClock();
    const dir = await scratch.dir();
    const harness = await harnessWith({ clock }, dir);
    harness.hooks.intercept = ({ body }) => (typeOf(body) === MessageType.dkgConfirm ? [] : [body]);
    const { sessionSeconds } = dkgLifetimes(DEFAULT_LIMITS);
    const earliest = Math.floor(clock.now() / 1000) + sessionSeconds;
    await harness.cluster.initiator.requestKeygen({ keyId: 'k', threshold: 2, parties: PARTIES, requestId: 'unconfirmed' });
    await harness.cluster.run();
    await harness.cluster.close();
    const latest = Math.floor(clock.now() / 1000) + sessionSeconds;
    for (const party of PARTIES) {
      const items = await keyItems(dir, party, 'k');
      expect(items.map((i) => [i.sk, i.data.status])).toEqual([[`pending#${deriveSessionId('cli', 'unconfirmed')}`, 'pending']]);
      expect(items[0]?.expiresAt).toBeGreaterThanOrEqual(earliest);
      expect(items[0]?.expiresAt).toBeLessThanOrEqual(latest);
    }
  });

  it('two keygens for one key id at once: exactly one key, the other fails with conflict (pending shares block nothing)', async () => {
    const harness = await harnessWith();
    const sessions = [
      await harness.cluster.initiator.requestKeygen({ keyId: 'k', threshold: 2, parties: PARTIES, requestId: 'twin-a' }),
      await harness.cluster.initiator.requestKeygen({ keyId: 'k', threshold: 2, parties: PARTIES, requestId: 'twin-b' }),
    ];
    await harness.cluster.run();
    const results = harness.cluster.takeResults().filter((r) => r.type === 'keygen.result');
    expect(results.map((r) => r.session).sort()).toEqual([...sessions].sort());
    const ok = results.filter((r) => r.body.ok);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => !r.body.ok).map((r) => r.body.error?.code)).toEqual(['conflict']);
    const key = await harness.cluster.coordinator.getKey('k');
    expect(key?.session).toBe(ok[0]?.session);
    const message = encoder.encode('one of twins');
    const signed = await harness.cluster.sign({ keyId: 'k', message });
    expect(opensslVerifies(key?.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
  });

  it('an abort never deletes a share on the coordinator\'s word, nor an active share on a party\'s broken promise', async () => {
    const harness = await harnessWith();
    // The coordinator withholds p2's confirmation: p2's share stays pending while p1 and p3 activate.
    const held: Sent[] = [];
    harness.hooks.intercept = (message) => {
      if (message.destination.kind === 'party' && message.destination.id === 'p2' && typeOf(message.body) === MessageType.dkgConfirm) {
        held.push(message);
        return [];
      }
      return [message.body];
    };
    const keygen = await harness.cluster.keygen({ keyId: 'k', threshold: 2, requestId: 'held' });
    expect(keygen.ok).toBe(true);
    harness.hooks.intercept = undefined;
    const session = deriveSessionId('cli', 'held');
    const coordinatorVault = requiredVault(harness.cluster, 'coordinator');
    const p2 = requiredParty(harness.cluster, 'p2');
    const request = parseRaw(only(sentBy(harness, 'cli', MessageType.keygenRequest), 'keygen request').body);
    const confirm = parseRaw(only(held, 'held confirm').body);
    const abortTo = async (party: string, refusal: Envelope) =>
      JSON.stringify(await createEnvelope(coordinatorVault, Date.now(), { type: MessageType.dkgAbort, session, from: 'coordinator', to: party, body: { request, refusal } }));

    // 1. A refusal provoked from p3, which finished the keygen: it does not abandon, so proves nothing.
    const p3Confirm = parseRaw(only(sentTo(harness, 'p3', MessageType.dkgConfirm), 'confirm to p3').body);
    const partial = { ...bodyOf(p3Confirm), done: (bodyOf(p3Confirm).done as Envelope[]).slice(0, 2) };
    expect(await requiredParty(harness.cluster, 'p3').handle(await freshCopy(coordinatorVault, p3Confirm, Date.now(), partial))).toMatchObject({ status: 'refused' });
    const p3Refusal = parseRaw(only(sentBy(harness, 'p3', MessageType.partyRefused), 'p3 refusal').body);
    expect(bodyOf(p3Refusal).abandoned).toBeUndefined();
    expect(await p2.handle(await abortTo('p2', p3Refusal))).toMatchObject({ status: 'refused', code: 'unproven-abort' });

    // 2. The coordinator's own word (a refusal it signed itself) is no refusal of a party.
    const forged = parseRaw(await resign(coordinatorVault, p3Refusal, { body: { ...bodyOf(p3Refusal), abandoned: true } }));
    expect(await p2.handle(await abortTo('p2', forged))).toMatchObject({ status: 'refused', code: 'bad-signature' });

    // p2's pending share survived both; the held confirmation activates it.
    expect((await p2.handle(await freshCopy(coordinatorVault, confirm, Date.now()))).status).toBe('processed');

    // 3. p3 breaks its promise (signs "abandoned" after its dkg.done): an active share is never deleted.
    const lie = parseRaw(await resign(requiredVault(harness.cluster, 'p3'), p3Refusal, { body: { ...bodyOf(p3Refusal), abandoned: true } }));
    for (const party of ['p1', 'p2']) {
      expect(await requiredParty(harness.cluster, party).handle(await abortTo(party, lie))).toMatchObject({ status: 'refused', code: 'conflict' });
    }
    expect(harness.logs.filter((l) => l.level === 'error' && l.message.includes('abort of a keygen whose share is active'))).toHaveLength(2);

    await harness.cluster.close();
    for (const party of PARTIES) {
      expect((await keyItems(harness.dir, party, 'k')).map((i) => [i.sk, i.data.status])).toEqual([['share', 'active']]);
    }
  });
});
