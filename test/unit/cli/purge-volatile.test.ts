/**
 * `frostline party purge-volatile --party ID --data-dir DIR` through the CLI program: what
 * it prints (every deleted item, what was kept, the wait before the party may run again),
 * the one JSON object of --json, that a second run deletes nothing, and its usage errors.
 * The end-to-end danger and fix (a restored store on a running cluster) are in
 * test/e2e/restore.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../../lib/dev/cluster.js';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import { FrostlineError } from '../../../lib/ports/errors.js';
import type { ItemKey } from '../../../lib/ports/store.js';
import { DEFAULT_LIMITS } from '../../../lib/protocol/directory.js';
import { partyKeys } from '../../../lib/protocol/party-state.js';
import { runCliInProcess } from '../../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'frostline-purge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A cluster.json made by a real cluster: the CLI works on a data directory only if it holds one. */
let clusterFile: Promise<string> | undefined;
function templateClusterFile(): Promise<string> {
  clusterFile ??= (async () => {
    const template = join(dir, 'template');
    await (await LocalCluster.open({ dataDir: template, parties: 3 })).close();
    return join(template, 'cluster.json');
  })();
  return clusterFile;
}

/** A data directory whose party p2 holds one item of each interesting kind. */
async function dataDir(name: string): Promise<string> {
  const root = join(dir, name);
  mkdirSync(join(root, 'parties', 'p2'), { recursive: true });
  copyFileSync(await templateClusterFile(), join(root, 'cluster.json'));
  const store = await SqliteItemBackend.open(join(root, 'parties', 'p2', 'store.sqlite'));
  const put = (key: ItemKey, data: Record<string, unknown>, expiresAt?: number) =>
    ({ op: 'put', item: { ...key, data, version: 1, expiresAt }, condition: { kind: 'none' } }) as const;
  try {
    await store.write(
      [
        put(partyKeys.keyShare('k1'), { keyId: 'k1' }),
        put(partyKeys.consumed('aa', 1), { packageHash: '00', share: '00' }),
        put(partyKeys.nonce('bb', 1), { keyId: 'k1' }, nowSeconds() + 600),
        put(partyKeys.nonce('cc', 2), { keyId: 'k1' }, nowSeconds() - 600),
        // A key a hostile table writer chose: must not reach the terminal as is.
        put({ pk: 'nonce#\u001b[2J#1', sk: 'nonce' }, {}),
        put(partyKeys.dkgState('dd'), { keyId: 'k2' }, nowSeconds() + 3600),
      ],
      nowSeconds(),
    );
  } finally {
    store.close();
  }
  return root;
}

async function remaining(root: string): Promise<string[]> {
  const store = await SqliteItemBackend.open(join(root, 'parties', 'p2', 'store.sqlite'));
  try {
    return (await store.scanPrefix('')).map((i) => `${i.pk}/${i.sk}`);
  } finally {
    store.close();
  }
}

const frostline = runCliInProcess;

async function failure(args: readonly string[]): Promise<FrostlineError> {
  try {
    await frostline(args);
  } catch (error) {
    if (error instanceof FrostlineError) return error;
    throw error;
  }
  throw new Error(`frostline ${args.join(' ')} succeeded`);
}

describe('frostline party purge-volatile (local data directory)', () => {
  it('--json: one object naming every deleted item, what was kept and the wait; a second run deletes nothing', async () => {
    const root = await dataDir('json');
    const before = Date.now();
    const stdout = await frostline(['party', 'purge-volatile', '--party', 'p2', '--data-dir', root, '--json']);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(result).toMatchObject({
      ok: true,
      party: 'p2',
      counts: { nonces: 3, dkgStates: 1, reshareStates: 0 },
      kept: ['key shares', 'consumed-nonce markers', 'audit trail', 'seen-message ids', 'rate-limit windows'],
      waitSeconds: DEFAULT_LIMITS.nonceTtlSeconds,
    });
    expect(result.purged).toEqual([
      { kind: 'nonce', pk: 'nonce#\u001b[2J#1', sk: 'nonce', expired: false },
      { kind: 'nonce', pk: 'nonce#bb#1', sk: 'nonce', keyId: 'k1', expired: false },
      { kind: 'nonce', pk: 'nonce#cc#2', sk: 'nonce', keyId: 'k1', expired: true },
      { kind: 'dkgState', pk: 'dkg#dd', sk: 'state', keyId: 'k2', expired: false },
    ]);
    // JSON escapes the control character; the wait runs from the end of the purge.
    expect(lines[0]).not.toContain('\u001b');
    const waitUntil = Date.parse(String(result.waitUntil));
    expect(waitUntil).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + DEFAULT_LIMITS.nonceTtlSeconds * 1000);
    expect(result.next).toBe(`wait ${DEFAULT_LIMITS.nonceTtlSeconds} s (the nonce TTL) — until ${String(result.waitUntil)} — before running any frostline command on ${root}`);
    expect((await remaining(root)).sort()).toEqual(['key#k1/share', 'nonce#aa#1/consumed']);

    const again = JSON.parse(await frostline(['party', 'purge-volatile', '--party', 'p2', '--data-dir', root, '--json'])) as Record<string, unknown>;
    expect(again).toMatchObject({ ok: true, counts: { nonces: 0, dkgStates: 0 }, purged: [] });
    expect((await remaining(root)).sort()).toEqual(['key#k1/share', 'nonce#aa#1/consumed']);
  });

  it('prints each deleted item (terminal-safe), what was kept and the remaining step', async () => {
    const root = await dataDir('human');
    const stdout = await frostline(['party', 'purge-volatile', '--party', 'p2', '--data-dir', root]);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('party p2: purged 3 unused nonces, 1 DKG round state and 0 refresh/reshare states');
    expect(lines.slice(1, 5)).toEqual([
      '  nonce      nonce#?[2J#1',
      '  nonce      nonce#bb#1  key k1',
      '  nonce      nonce#cc#2  key k1  (already expired)',
      '  dkg state  dkg#dd  key k2',
    ]);
    expect(lines[5]).toBe('kept: key shares, consumed-nonce markers, audit trail, seen-message ids, rate-limit windows');
    expect(lines[6]).toMatch(new RegExp(`^next: wait ${DEFAULT_LIMITS.nonceTtlSeconds} s \\(the nonce TTL\\) — until \\S+Z — before running any frostline command on `));
    expect(lines).toHaveLength(7);
    expect(stdout).not.toContain('\u001b');
  });

  it('refuses an unknown party and mixed deployment options before touching anything', async () => {
    const root = await dataDir('errors');
    const unknown = await failure(['party', 'purge-volatile', '--party', 'p9', '--data-dir', root]);
    expect(unknown.code).toBe('unknown-party');
    const mixed = await failure(['party', 'purge-volatile', '--party', 'p2', '--deployment', 'a.json', '--config', 'b.json']);
    expect(mixed.code).toBe('usage');
    // With a deployment config, an unknown party is named before any AWS call.
    const config = await failure(['party', 'purge-volatile', '--party', 'p9', '--config', join(process.cwd(), 'deploy', 'example.config.json')]);
    expect(config.code).toBe('config');
    expect(config.message).toMatch(/^no party "p9" in .*example\.config\.json \(it has p1, p2, p3\)$/);
    expect(await remaining(root)).toHaveLength(6);
  });
});
