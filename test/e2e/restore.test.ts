/**
 * Restoring a party's table from a backup revives the nonces it held at the backup point.
 * One that was spent after that point comes back unused, and a colluding coordinator can
 * then get a second, different signing package signed with it (RFC 9591 §7.3: nonce reuse
 * allows complete key recovery). The restore procedure (docs/deploy.md) runs
 * `frostline party purge-volatile` before the party handles messages again; this test shows
 * the danger without it and the fix with it, on the local cluster, through the real CLI.
 */
import { copyFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../lib/protocol/directory.js';
import { MessageType, type Envelope } from '../../lib/protocol/messages.js';
import {
  bodyOf,
  encoder,
  freshCopy,
  makeFixture,
  openHarness,
  opensslVerifies,
  parseRaw,
  requiredParty,
  requiredVault,
  Scratch,
  storeItems,
  typeOf,
  type Harness,
  type Sent,
} from '../support/harness.js';
import { runCliInProcess } from '../support/cli.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const PARTIES = ['p1', 'p2', 'p3'];

function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0] as T;
}

function sentBy(sent: readonly Sent[], node: string, type: string): Sent[] {
  return sent.filter((m) => m.from === node && typeOf(m.body) === type);
}

function partyStore(dir: string, party: string): string {
  return join(dir, 'parties', party, 'store.sqlite');
}

async function nonceItems(dir: string, party: string) {
  const items = await storeItems(dir, party, 'nonce#');
  return { unused: items.filter((i) => i.sk === 'nonce'), consumed: items.filter((i) => i.sk === 'consumed') };
}

/** Two rounds always: the first test scripts sign.commit/sign.package (the pool counterpart opens with pools on). */
async function open(dir: string, options: { pools?: boolean } = {}): Promise<Harness> {
  const harness = await openHarness(dir, options.pools === true ? {} : { limits: { ...DEFAULT_LIMITS, noncePool: false } });
  scratch.own(harness.cluster);
  return harness;
}

/** Runs the CLI in process (the cluster on that data directory is closed) and parses its one JSON line. */
async function frostlineJson(args: readonly string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await runCliInProcess(args)) as Record<string, unknown>;
}

describe('restoring a party\'s table from a backup', () => {
  it('revives a spent nonce that a colluding coordinator can sign a second package with; purge-volatile removes it and the package is refused', async () => {
    const fixture = await makeFixture(scratch, 3, 2);
    const dir = await scratch.dir();
    await cp(fixture.dir, dir, { recursive: true });
    const message = encoder.encode('pay 10 to alice');

    // 1. Signing up to the commitments: every signing package is held back.
    const first = await open(dir);
    const held: Sent[] = [];
    first.hooks.intercept = (sent) => {
      if (sent.from === 'coordinator' && typeOf(sent.body) === MessageType.signPackage) {
        held.push(sent);
        return [];
      }
      return [sent.body];
    };
    const session = await first.cluster.initiator.requestSignature({ keyId: fixture.keyId, message });
    await first.cluster.run();
    const victimPackage = held[0];
    if (victimPackage?.destination.kind !== 'party' || held.length !== 2) throw new Error('expected two held signing packages');
    const victim = victimPackage.destination.id;
    const pkg = parseRaw(victimPackage.body);
    const pkgBody = bodyOf(pkg);
    const commitments = pkgBody.commitments as Envelope[];
    const cosigner = commitments.map((c) => c.from).find((p) => p !== victim);
    const outsider = PARTIES.find((p) => !commitments.some((c) => c.from === p));
    if (cosigner === undefined || outsider === undefined) throw new Error('unexpected signer set');
    const outsiderCommitment = parseRaw(only(sentBy(first.sent, outsider, MessageType.signCommitment), 'outsider commitment').body);
    const recommit = parseRaw(
      only(
        first.sent.filter((m) => m.destination.kind === 'party' && m.destination.id === victim && typeOf(m.body) === MessageType.signCommit),
        'sign.commit to the victim',
      ).body,
    );
    await first.cluster.close();

    // 2. The backup: the victim's store after its sign.commit, before the package.
    const backup = join(await scratch.dir('frostline-backup-'), 'store.sqlite');
    await copyFile(partyStore(dir, victim), backup);
    expect((await nonceItems(dir, victim)).unused.map((i) => i.pk)).toEqual([`nonce#${session}#1`]);

    // 3. The signing completes: the victim spends its nonce on the package.
    const second = await open(dir);
    const coordinatorVault = requiredVault(second.cluster, 'coordinator');
    for (const sent of held) {
      if (sent.destination.kind !== 'party') continue;
      const outcome = await requiredParty(second.cluster, sent.destination.id).handle(await freshCopy(coordinatorVault, parseRaw(sent.body), Date.now()));
      expect(outcome.status).toBe('processed');
    }
    await second.cluster.run();
    const result = only(second.cluster.takeResults().filter((r) => r.session === session), 'sign.result').body as { ok: boolean; signature?: string };
    expect(result.ok).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    const firstShare = bodyOf(parseRaw(only(sentBy(second.sent, victim, MessageType.signShare), 'first sign.share').body));
    await second.cluster.close();
    expect(await nonceItems(dir, victim)).toMatchObject({ unused: [], consumed: [{ pk: `nonce#${session}#1` }] });

    // 4. The restore: the backup copied back over the victim's store (cluster closed).
    await copyFile(backup, partyStore(dir, victim));
    expect((await nonceItems(dir, victim)).unused.map((i) => i.pk)).toEqual([`nonce#${session}#1`]);
    expect((await nonceItems(dir, victim)).consumed).toEqual([]);
    const unpurged = await scratch.dir();
    await cp(dir, unpurged, { recursive: true });

    // The second package: the co-signer's commitment swapped for the outsider's (genuinely
    // signed by it), re-signed by the coordinator. The victim's own commitment is unchanged:
    // only its revived nonce can answer it.
    const swapped = commitments.map((c) => (c.from === cosigner ? outsiderCommitment : c));
    const otherPackage = (harness: Harness) => freshCopy(requiredVault(harness.cluster, 'coordinator'), pkg, Date.now(), { ...pkgBody, commitments: swapped });

    // 5. The danger, without the purge: the victim signs the second package with the same nonce.
    const danger = await open(unpurged);
    const reused = await requiredParty(danger.cluster, victim).handle(await otherPackage(danger));
    expect(reused.status).toBe('processed');
    const secondShare = bodyOf(parseRaw(only(sentBy(danger.sent, victim, MessageType.signShare), 'second sign.share').body));
    // Two different packages, both carrying the victim's one commitment, each answered with a share.
    // (Compared as booleans: a failing assertion must not print a share.)
    expect(secondShare.packageHash === firstShare.packageHash).toBe(false);
    expect(secondShare.share === firstShare.share).toBe(false);
    const victimCommitment = (list: Envelope[]) => bodyOf(only(list.filter((c) => c.from === victim), 'victim commitment')).commitment;
    expect(victimCommitment(swapped)).toEqual(victimCommitment(commitments));
    await danger.cluster.close();

    // 6. The fix: `frostline party purge-volatile` on the restored store, before the party runs again.
    const purge = await frostlineJson(['party', 'purge-volatile', '--party', victim, '--data-dir', dir, '--json']);
    expect(purge).toMatchObject({ ok: true, party: victim, counts: { nonces: 1, dkgStates: 0 } });
    expect(purge.purged).toEqual([{ kind: 'nonce', pk: `nonce#${session}#1`, sk: 'nonce', keyId: fixture.keyId, expired: false }]);
    expect(await nonceItems(dir, victim)).toEqual({ unused: [], consumed: [] });

    const fixed = await open(dir);
    const party = requiredParty(fixed.cluster, victim);
    const refused = await party.handle(await otherPackage(fixed));
    expect(refused).toMatchObject({ status: 'refused', code: 'wrong-round', reason: expect.stringMatching(/no unused nonce/) });
    // The honest package again gets no share either: the nonce it was spent on is gone with the restore.
    const redelivered = await party.handle(await freshCopy(requiredVault(fixed.cluster, 'coordinator'), pkg, Date.now()));
    expect(redelivered).toMatchObject({ status: 'refused', code: 'wrong-round' });
    expect(sentBy(fixed.sent, victim, MessageType.signShare)).toEqual([]);
    expect(await nonceItems(dir, victim)).toEqual({ unused: [], consumed: [] });

    // Asked to commit again for that attempt, the party draws a fresh nonce; the package built
    // on the revived commitment is refused for not containing the party's commitment.
    const coordinator = requiredVault(fixed.cluster, 'coordinator');
    expect((await party.handle(await freshCopy(coordinator, recommit, Date.now()))).status).toBe('processed');
    const fresh = bodyOf(parseRaw(only(sentBy(fixed.sent, victim, MessageType.signCommitment), 'fresh commitment').body));
    expect(fresh.commitment).not.toEqual(victimCommitment(commitments));
    const before = await nonceItems(dir, victim);
    expect(before.unused).toHaveLength(1);
    const stale = await party.handle(await otherPackage(fixed));
    expect(stale).toMatchObject({ status: 'refused', code: 'incorrect-commitment', reason: expect.stringMatching(/does not contain this party's commitment/) });
    expect(sentBy(fixed.sent, victim, MessageType.signShare)).toEqual([]);
    expect(await nonceItems(dir, victim)).toEqual(before);

    // And the key still signs a new request.
    fixed.hooks.intercept = undefined;
    const next = encoder.encode('after the restore');
    const honest = await fixed.cluster.sign({ keyId: fixture.keyId, message: next });
    expect(honest.ok).toBe(true);
    expect(opensslVerifies(fixture.publicKey, next, honest.signature ?? '')).toBe(true);
  });

  it('one round: revives a spent pool nonce that a colluding coordinator can sign a second sign.pooled package with; purge-volatile removes every pool nonce and the package is refused', async () => {
    const fixture = await makeFixture(scratch, 3, 2);
    const dir = await scratch.dir();
    await cp(fixture.dir, dir, { recursive: true });
    const poolItems = async (party: string) => (await storeItems(dir, party, `pool#${fixture.keyId}`)).filter((i) => i.sk.startsWith('nonce#'));
    /** The unused ones: a spent nonce's item holds what it was spent on (state 'spent'). */
    const poolNonces = async (party: string) => (await poolItems(party)).filter((i) => i.data.state !== 'spent');
    const message = encoder.encode('pay 10 to bob');

    // 1. A first signature fills every party's pool; the next one runs one round, and its
    //    sign.pooled packages are held back.
    const first = await open(dir, { pools: true });
    expect((await first.cluster.sign({ keyId: fixture.keyId, message: encoder.encode('fills the pools') })).ok).toBe(true);
    const held: Sent[] = [];
    first.hooks.intercept = (sent) => {
      if (sent.from === 'coordinator' && typeOf(sent.body) === MessageType.signPooled) {
        held.push(sent);
        return [];
      }
      return [sent.body];
    };
    const session = await first.cluster.initiator.requestSignature({ keyId: fixture.keyId, message });
    await first.cluster.run();
    const victimPackage = held[0];
    if (victimPackage?.destination.kind !== 'party' || held.length !== 2) throw new Error('expected two held sign.pooled packages');
    const victim = victimPackage.destination.id;
    const pkg = parseRaw(victimPackage.body);
    const pkgBody = bodyOf(pkg);
    const entries = pkgBody.commitments as { batch: Envelope; index: number }[];
    const cosigner = entries.map((e) => e.batch.from).find((p) => p !== victim);
    const outsider = PARTIES.find((p) => !entries.some((e) => e.batch.from === p));
    if (cosigner === undefined || outsider === undefined) throw new Error('unexpected signer set');
    // The outsider's own identity-signed batch, as it published it.
    const outsiderBatch = parseRaw(only(sentBy(first.sent, outsider, MessageType.poolBatch), 'outsider batch').body);
    await first.cluster.close();
    const ownEntry = only(entries.filter((e) => e.batch.from === victim), 'victim entry');
    const spentKey = `nonce#${ownEntry.batch.session}#${ownEntry.index}`;

    // 2. The backup: the victim's store with its pool, before the package.
    const backup = join(await scratch.dir('frostline-backup-'), 'store.sqlite');
    await copyFile(partyStore(dir, victim), backup);
    const atBackup = await poolNonces(victim);
    expect(atBackup.map((i) => i.sk)).toContain(spentKey);

    // 3. The signing completes: the victim spends its pool nonce on the package.
    const second = await open(dir, { pools: true });
    const coordinatorVault = requiredVault(second.cluster, 'coordinator');
    for (const sent of held) {
      if (sent.destination.kind !== 'party') continue;
      const outcome = await requiredParty(second.cluster, sent.destination.id).handle(await freshCopy(coordinatorVault, parseRaw(sent.body), Date.now()));
      expect(outcome.status).toBe('processed');
    }
    await second.cluster.run();
    const result = only(second.cluster.takeResults().filter((r) => r.session === session), 'sign.result').body as { ok: boolean; signature?: string };
    expect(result.ok).toBe(true);
    expect(opensslVerifies(fixture.publicKey, message, result.signature ?? '')).toBe(true);
    const firstShare = bodyOf(parseRaw(only(sentBy(second.sent, victim, MessageType.signShare), 'first sign.share').body));
    await second.cluster.close();
    expect((await poolNonces(victim)).map((i) => i.sk)).not.toContain(spentKey);
    expect((await poolItems(victim)).find((i) => i.sk === spentKey)?.data.state).toBe('spent');

    // 4. The restore: the backup copied back over the victim's store (the spent record, in the nonce's own item, is unused again).
    await copyFile(backup, partyStore(dir, victim));
    expect((await poolNonces(victim)).map((i) => i.sk)).toContain(spentKey);
    expect((await poolItems(victim)).filter((i) => i.data.state === 'spent')).toEqual([]);
    const unpurged = await scratch.dir();
    await cp(dir, unpurged, { recursive: true });

    // The second package: the co-signer's entry swapped for one of the outsider's batch
    // (genuinely signed by it), re-signed by the coordinator; the victim's entry unchanged.
    const swapped = entries.map((e) => (e.batch.from === cosigner ? { batch: outsiderBatch, index: 0 } : e));
    const otherPackage = (harness: Harness) => freshCopy(requiredVault(harness.cluster, 'coordinator'), pkg, Date.now(), { ...pkgBody, commitments: swapped });

    // 5. The danger, without the purge: the victim signs the second package with the same pool nonce.
    const danger = await open(unpurged, { pools: true });
    const reused = await requiredParty(danger.cluster, victim).handle(await otherPackage(danger));
    expect(reused.status).toBe('processed');
    const secondShare = bodyOf(parseRaw(only(sentBy(danger.sent, victim, MessageType.signShare), 'second sign.share').body));
    // (Compared as booleans: a failing assertion must not print a share.)
    expect(secondShare.packageHash === firstShare.packageHash).toBe(false);
    expect(secondShare.share === firstShare.share).toBe(false);
    await danger.cluster.close();

    // 6. The fix: purge-volatile removes every unused pool nonce of the restored store (the one spent after the backup among them: restored, it is unused again).
    const purge = await frostlineJson(['party', 'purge-volatile', '--party', victim, '--data-dir', dir, '--json']);
    expect(purge).toMatchObject({ ok: true, party: victim, counts: { nonces: 0, poolNonces: atBackup.length, dkgStates: 0 } });
    expect(purge.purged).toContainEqual({ kind: 'poolNonce', pk: `pool#${fixture.keyId}`, sk: spentKey, keyId: fixture.keyId, expired: false });
    expect(await poolNonces(victim)).toEqual([]);

    const fixed = await open(dir, { pools: true });
    const party = requiredParty(fixed.cluster, victim);
    const refused = await party.handle(await otherPackage(fixed));
    expect(refused).toMatchObject({ status: 'refused', code: 'wrong-round', reason: expect.stringMatching(/no unused pool nonce/) });
    const redelivered = await party.handle(await freshCopy(requiredVault(fixed.cluster, 'coordinator'), pkg, Date.now()));
    expect(redelivered).toMatchObject({ status: 'refused', code: 'wrong-round' });
    expect(sentBy(fixed.sent, victim, MessageType.signShare)).toEqual([]);

    // And the key still signs new requests (the coordinator's cursor still lists the purged entries).
    for (const text of ['after the restore', 'and again']) {
      const next = encoder.encode(text);
      const honest = await fixed.cluster.sign({ keyId: fixture.keyId, message: next });
      expect(honest.ok, JSON.stringify(honest.error)).toBe(true);
      expect(opensslVerifies(fixture.publicKey, next, honest.signature ?? '')).toBe(true);
    }
  });
});
