/** `frostline keygen --suite`: the key's suite in --json output, and signing and verifying follow it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { KeygenOptionsSchema, validated } from '../../../lib/client/options-schema.js';
import { suiteFor } from '../../../lib/protocol/suites.js';
import { runCliInProcess } from '../../support/cli.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'frostline-cli-suites-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const json = (out: string) => JSON.parse(out) as Record<string, unknown>;

describe('--suite', () => {
  it('secp256k1-tr: keygen prints the suite and an x-only key; sign and verify use BIP340', async () => {
    const keygen = json(await runCliInProcess(['keygen', '--key-id', 'tr', '--suite', 'secp256k1-tr', '--data-dir', dataDir, '--json']));
    expect(keygen).toMatchObject({ ok: true, keyId: 'tr', suite: 'secp256k1-tr' });
    expect(keygen.publicKey).toMatch(/^[0-9a-f]{64}$/);
    const digest = bytesToHex(sha256(new TextEncoder().encode('tx')));
    const signed = json(await runCliInProcess(['sign', '--key', 'tr', '--message-hex', digest, '--data-dir', dataDir, '--json']));
    expect(signed).toMatchObject({ ok: true, suite: 'secp256k1-tr', publicKey: keygen.publicKey });
    const signature = String(signed.signature);
    expect(signature).toMatch(/^[0-9a-f]{128}$/);
    expect(json(await runCliInProcess(['verify', '--key', 'tr', '--message-hex', digest, '--signature', signature, '--data-dir', dataDir, '--json']))).toMatchObject({ ok: true, valid: true });
    const other = bytesToHex(sha256(new TextEncoder().encode('other')));
    expect(json(await runCliInProcess(['verify', '--key', 'tr', '--message-hex', other, '--signature', signature, '--data-dir', dataDir, '--json']))).toMatchObject({ ok: false, valid: false });
  });

  it('an unknown suite is refused in one line listing the valid ones (CLI, SDK options, registry)', async () => {
    await expect(runCliInProcess(['keygen', '--key-id', 'x', '--suite', 'p256', '--data-dir', dataDir])).rejects.toThrow(/'p256' is invalid\. Allowed choices are ed25519, secp256k1-tr, ed448/);
    expect(() => suiteFor('p256')).toThrow('unknown suite "p256": expected one of ed25519, secp256k1-tr, ed448');
    // The SDK: `client.keygen({ suite })` validates its options with this schema first.
    expect(() => validated(KeygenOptionsSchema, { keyId: 'k', threshold: 2, parties: ['p1', 'p2'], suite: 'p256' }, 'keygen')).toThrow(
      'keygen: options.suite: expected one of ed25519, secp256k1-tr, ed448',
    );
  });
});
