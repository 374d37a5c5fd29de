/**
 * `frostline derive` and `frostline sign --path` on the local cluster: the child key printed
 * by derive is the one sign's signature verifies under (node:crypto), and not the parent;
 * `xpub` refuses an Ed25519 key and a hardened path is refused, each in one line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../support/cli.js';
import { verifyWithNodeCrypto } from '../../support/ed25519.js';
import * as secp from 'tiny-secp256k1';

let dataDir: string;
const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'frostline-cli-derive-'));
  await runCliInProcess(['keygen', '--key-id', 'kd', '--data-dir', dataDir, '--json']);
});
afterAll(async () => {
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('frostline derive / sign --path', () => {
  it('sign --path m/0/7 signs under the key derive prints, not under the parent', async () => {
    const parent = json(await runCliInProcess(['key', '--key', 'kd', '--data-dir', dataDir, '--json']));
    const derived = json(await runCliInProcess(['derive', '--key', 'kd', '--path', 'm/0/7', '--data-dir', dataDir, '--json']));
    expect(derived).toMatchObject({ ok: true, keyId: 'kd', path: 'm/0/7' });
    expect(derived.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(derived.publicKey).not.toBe(parent.publicKey);
    const signed = json(await runCliInProcess(['sign', '--key', 'kd', '--path', 'm/0/7', '--message', 'child', '--data-dir', dataDir, '--json']));
    expect(signed).toMatchObject({ ok: true, publicKey: derived.publicKey, path: 'm/0/7' });
    const message = new TextEncoder().encode('child');
    expect(verifyWithNodeCrypto(String(derived.publicKey), message, String(signed.signature))).toBe(true);
    expect(verifyWithNodeCrypto(String(parent.publicKey), message, String(signed.signature))).toBe(false);
  });

  it('refuses xpub for an Ed25519 key and a hardened path, in one line', async () => {
    await expect(runCliInProcess(['xpub', '--key', 'kd', '--data-dir', dataDir])).rejects.toThrow(/^xpub export needs a secp256k1-tr key; key "kd" uses suite "FROST-ED25519-SHA512-v1"$/);
    await expect(runCliInProcess(['derive', '--key', 'kd', '--path', "m/0'", '--data-dir', dataDir])).rejects.toThrow(/^hardened step "0'" is not supported/);
  });
});

describe('frostline derive / sign --taproot on a secp256k1-tr key', () => {
  it('derive --taproot --merkle-root prints the output key that sign --taproot --merkle-root signs under (libsecp256k1)', async () => {
    await runCliInProcess(['keygen', '--key-id', 'kt', '--suite', 'secp256k1-tr', '--data-dir', dataDir, '--json']);
    const root = 'ab'.repeat(32);
    const args = ['--key', 'kt', '--path', 'm/0/7', '--merkle-root', root, '--data-dir', dataDir, '--json'];
    const derived = json(await runCliInProcess(['derive', ...args]));
    expect(derived).toMatchObject({ ok: true, path: 'm/0/7', taproot: { merkleRoot: root } });
    const digest = 'cd'.repeat(32);
    const signed = json(await runCliInProcess(['sign', ...args, '--message-hex', digest]));
    expect(signed).toMatchObject({ ok: true, publicKey: derived.publicKey, taproot: { merkleRoot: root } });
    expect(secp.verifySchnorr(Buffer.from(digest, 'hex'), Buffer.from(String(derived.publicKey), 'hex'), Buffer.from(String(signed.signature), 'hex'))).toBe(true);
    expect(json(await runCliInProcess(['xpub', '--key', 'kt', '--data-dir', dataDir, '--json']))).toMatchObject({ ok: true, xpub: expect.stringMatching(/^xpub/) });
  });
});
