/**
 * `frostline refresh|reshare|repair` on the local cluster: each moves key k1 to a new epoch
 * with the same group key, and after each a signature from the new shares verifies with
 * node:crypto under the key keygen printed. A reshare to a party name the cluster lacks
 * creates that party (pinned in cluster.json, so in every directory). Bad input is one
 * usage line, and creates nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../support/cli.js';
import { verifyWithNodeCrypto } from '../../support/ed25519.js';

let dataDir: string;
let groupKey: string;
const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
const cli = async (...args: string[]) => json(await runCliInProcess([...args, '--data-dir', dataDir, '--json']));

/** Signs `text` with k1 and checks the signature with node:crypto under the keygen's group key. */
async function signsUnderGroupKey(text: string): Promise<void> {
  const signed = await cli('sign', '--key', 'k1', '--message', text);
  expect(signed).toMatchObject({ ok: true, publicKey: groupKey });
  expect(verifyWithNodeCrypto(groupKey, new TextEncoder().encode(text), String(signed.signature))).toBe(true);
}

const clusterParties = () => Object.keys((JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { parties: Record<string, unknown> }).parties).sort();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'frostline-cli-lifecycle-'));
  groupKey = String((await cli('keygen', '--key-id', 'k1')).publicKey);
});
afterAll(async () => {
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('bad input: one usage line, nothing created', () => {
  it.each([
    [['reshare', '--key', 'k1', '--parties', 'p1,p2', '--threshold', '3'], /^--threshold 3 is larger than --parties 2$/],
    [['reshare', '--key', 'k1', '--parties', 'p1,p1,p2', '--threshold', '2'], /names repeat/],
    [['reshare', '--key', 'k1', '--parties', 'p1,p2,p7', '--threshold', '2', '--dealers', 'p1,p7'], /^--dealers p7: not a current party of key "k1" \(its parties: p1, p2, p3\)$/],
    [['reshare', '--key', 'k1', '--parties', 'p1,p2,p7', '--threshold', '2', '--dealers', 'p1'], /^--dealers p1: key "k1" needs at least 2 dealers \(its threshold\)$/],
    [['repair', '--key', 'k1', '--party', 'p9'], /^--party p9: key "k1" has no share there \(its parties: p1, p2, p3\)$/],
    [['reshare', '--key', 'k1', '--parties', 'p1,Bad', '--threshold', '2'], /expected a-z, 0-9/],
  ])('%j', async (args, message) => {
    await expect(runCliInProcess([...args, '--data-dir', dataDir])).rejects.toThrow(message);
    expect(existsSync(join(dataDir, 'parties', 'p7'))).toBe(false);
    expect(clusterParties()).toEqual(['p1', 'p2', 'p3']);
  });

  it('an unknown key is refused by name', async () => {
    await expect(runCliInProcess(['refresh', '--key', 'nope', '--data-dir', dataDir])).rejects.toThrow(/no key "nope"/);
  });
});

describe('refresh, reshare to a new party, repair: same group key, signatures verify', () => {
  it('refresh: epoch 1, same set and threshold', async () => {
    expect(await cli('refresh', '--key', 'k1')).toMatchObject({ ok: true, keyId: 'k1', epoch: 1, publicKey: groupKey, threshold: 2, parties: ['p1', 'p2', 'p3'] });
    await signsUnderGroupKey('after refresh');
  });

  it('reshare to p1,p2,p4 (p4 new): p4 created and pinned, p3 out, 2-of-3 at epoch 2', async () => {
    const result = await cli('reshare', '--key', 'k1', '--parties', 'p1,p2,p4', '--threshold', '2');
    expect(result).toMatchObject({ ok: true, epoch: 2, publicKey: groupKey, threshold: 2, parties: ['p1', 'p2', 'p4'], newParties: ['p4'] });
    expect(clusterParties()).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(await cli('key', '--key', 'k1')).toMatchObject({ parties: ['p1', 'p2', 'p4'], threshold: 2, publicKey: groupKey, epoch: 2 });
    await signsUnderGroupKey('after reshare');
    expect(await cli('keys')).toMatchObject({ keys: [{ keyId: 'k1', epoch: 2, parties: ['p1', 'p2', 'p4'] }] });
  });

  it('repair p2: every other party deals, epoch 3, signing goes on', async () => {
    expect(await cli('repair', '--key', 'k1', '--party', 'p2')).toMatchObject({ ok: true, epoch: 3, parties: ['p1', 'p2', 'p4'], threshold: 2, publicKey: groupKey });
    await signsUnderGroupKey('after repair');
  });
});
