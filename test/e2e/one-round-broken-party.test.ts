/**
 * A party that cannot decrypt its share (its master key replaced) after it filled its nonce
 * pool: the coordinator hands it a one-round package (it holds pooled commitments), its
 * handler fails on every delivery, and the embedded cluster's signing falls back to two
 * rounds with the healthy parties; the broken party is named with why, never silent, and is
 * left out of the pools from then on.
 * (The CLI's view of the same is in test/unit/cli/broken-party.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { MessageType } from '../../lib/protocol/messages.js';
import { encoder, openHarness, opensslVerifies, Scratch, typeOf, type Harness } from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const sentTo = (harness: Harness, type: string): string[] =>
  harness.sent.filter((s) => typeOf(s.body) === type).map((s) => (s.destination.kind === 'party' ? s.destination.id : s.destination.kind));

test('p1 fails to decrypt in one-round signing: the package is not answered, signing falls back to two rounds with p2, p3, and p1 is named with decrypt-failed', async () => {
  const dir = await scratch.dir();
  const healthy = await openHarness(dir, { parties: 3 });
  scratch.own(healthy.cluster);
  const keygen = await healthy.cluster.keygen({ keyId: 'k', threshold: 2 });
  expect(keygen.ok, JSON.stringify(keygen.error)).toBe(true);
  expect((await healthy.cluster.sign({ keyId: 'k', message: encoder.encode('fills the pools') })).ok).toBe(true);
  expect(sentTo(healthy, MessageType.poolBatch).length).toBe(3);
  await healthy.cluster.close();
  writeFileSync(join(dir, 'parties', 'p1', 'vault', 'master.key'), randomBytes(32), { mode: 0o600 });

  // First: p1 ties first by name among the parties with the most unclaimed entries, so it is picked.
  const harness = await openHarness(dir, {});
  scratch.own(harness.cluster);
  const message = encoder.encode('after the key change');
  const signed = await harness.cluster.sign({ keyId: 'k', message });
  expect(signed.ok, JSON.stringify(signed.error)).toBe(true);
  expect(signed.signers).toEqual(['p2', 'p3']);
  expect(opensslVerifies(keygen.publicKey ?? '', message, signed.signature ?? '')).toBe(true);
  // One round first, p1 among the signers; then two rounds (nobody excluded: silence is no proof), p1 failing again.
  expect(sentTo(harness, MessageType.signPooled)).toContain('p1');
  expect(sentTo(harness, MessageType.signCommit).sort()).toEqual(['p1', 'p2', 'p3']);
  // A handler failure, not a refusal: p1 sends nothing, and its messages are retried, then dead-lettered.
  expect(harness.sent.filter((s) => s.from === 'p1')).toEqual([]);
  expect(harness.cluster.unhealthy()).toEqual([expect.objectContaining({ party: 'p1', reason: expect.stringMatching(/^handler failed: decrypt-failed/) })]);

  // Then: a signer silent past the fallback left the pools; the next signature runs one round with p2 and p3, and p1 gets nothing.
  const from = harness.sent.length;
  const again = await harness.cluster.sign({ keyId: 'k', message: encoder.encode('and again') });
  expect(again.ok, JSON.stringify(again.error)).toBe(true);
  expect(again.signers).toEqual(['p2', 'p3']);
  const later = harness.sent.slice(from);
  expect(later.filter((s) => typeOf(s.body) === MessageType.signPooled).map((s) => (s.destination.kind === 'party' ? s.destination.id : '')).sort()).toEqual(['p2', 'p3']);
  expect(later.filter((s) => s.destination.kind === 'party' && s.destination.id === 'p1')).toEqual([]);
});
