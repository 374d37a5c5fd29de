/**
 * Test support for key lifecycle (refresh, reshare): a policy granting it, reading a party's
 * stored share (as an attacker holding that party's store and vault would), and signing
 * with a chosen set of shares directly through noble, to show which combine.
 */
import { expect } from 'vitest';
import type { LocalCluster } from '../../lib/dev/cluster.js';
import { publicFromWire } from '../../lib/protocol/frost-wire.js';
import type { PublicPackage } from '../../lib/protocol/messages.js';
import { KeyShareRecord, partyKeys } from '../../lib/protocol/party-state.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type PartyPolicy } from '../../lib/protocol/requests.js';
import { openSecret, secretContext } from '../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';
import { verifyWithNodeCrypto } from './ed25519.js';
import { encoder, requiredVault } from './harness.js';

/** The cluster's initiator may keygen, sign and refresh/reshare every key. */
export function lifecyclePolicy(extra: Partial<PartyPolicy> = {}): PartyPolicy {
  return { maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, initiators: { cli: { keygen: true, keys: ['*'], reshare: ['*'] } }, ...extra };
}

export interface OpenedShare {
  readonly party: string;
  readonly record: KeyShareRecord;
  /** The signing share (a test copy: tests may keep it). */
  readonly signingShare: Uint8Array;
}

/** A party's active share record, if any. */
export async function shareRecordOf(cluster: LocalCluster, party: string, keyId: string): Promise<KeyShareRecord | undefined> {
  const store = cluster.stores.get(party);
  if (store === undefined) throw new Error(`no store for ${party}`);
  const item = await store.get(partyKeys.keyShare(keyId));
  return item === undefined ? undefined : KeyShareRecord.parse(item.data);
}

/** Opens a party's active share from its store with its own vault. */
export async function openStoredShare(cluster: LocalCluster, party: string, keyId: string): Promise<OpenedShare> {
  const record = await shareRecordOf(cluster, party, keyId);
  if (record === undefined) throw new Error(`${party} holds no share of ${keyId}`);
  const scope = new SecretScope();
  const opened = await openSecret(requiredVault(cluster, party), secretContext(party, keyId, 'key-share'), partyKeys.keyShare(keyId), record.share, scope);
  return { party, record, signingShare: Uint8Array.from(opened) };
}

/**
 * Signs `message` with exactly these shares through noble (no coordinator, no party checks),
 * aggregating under `publicPackage`; returns the signature hex, or undefined if noble refuses.
 */
export function signWithShares(shares: readonly OpenedShare[], publicPackage: PublicPackage, message: Uint8Array): string | undefined {
  const { frost } = ed25519Suite;
  const pub = publicFromWire(ed25519Suite, publicPackage);
  const rounds = shares.map((s) => ({ s, round: frost.commit({ identifier: s.record.identifier, signingShare: s.signingShare }) }));
  const commitments = rounds.map((r) => r.round.commitments);
  const sigShares: Record<string, Uint8Array> = {};
  for (const { s, round } of rounds) {
    sigShares[s.record.identifier] = frost.signShare({ identifier: s.record.identifier, signingShare: s.signingShare }, pub, round.nonces, commitments, message);
  }
  try {
    return Buffer.from(frost.aggregate(pub, commitments, message, sigShares)).toString('hex');
  } catch {
    return undefined;
  }
}

/** Every listed t-subset signs through the cluster, each signature checked by node:crypto under `publicKey`. */
export async function expectSubsetsSign(cluster: LocalCluster, keyId: string, publicKey: string, label: string): Promise<void> {
  const message = encoder.encode(`lifecycle ${label}`);
  const result = await cluster.sign({ keyId, message });
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  expect(verifyWithNodeCrypto(publicKey, message, result.signature ?? '')).toBe(true);
}

/** What a refused refresh/reshare must leave exactly as it was: the coordinator's key record and every party's share item (with its version). */
export async function keyState(cluster: LocalCluster, keyId: string): Promise<string> {
  const parties = [...cluster.stores.keys()].filter((node) => node !== 'coordinator').sort();
  const shares = await Promise.all(parties.map(async (p) => [p, (await cluster.stores.get(p)?.get(partyKeys.keyShare(keyId))) ?? null] as const));
  return JSON.stringify({ key: (await cluster.coordinator.getKey(keyId)) ?? null, shares });
}

/** The key still signs (at its current epoch), verified with node:crypto. */
export async function expectStillSigns(cluster: LocalCluster, keyId: string, publicKey: string): Promise<void> {
  await expectSubsetsSign(cluster, keyId, publicKey, 'still usable');
}
