/** Keygen intake, coordinator side: a checked request becomes a session in round 1; what the coordinator must refuse, it refuses. */
import { describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { deriveSessionId } from '../../../../lib/protocol/envelope.js';
import { newKeygenSession } from '../../../../lib/protocol/keygen/coordinator-intake.js';
import { MessageType } from '../../../../lib/protocol/messages.js';
import { requestFingerprint } from '../../../../lib/protocol/requests.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Cast, NOW } from '../../../support/coordinator-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
const session = deriveSessionId('cli', 'r1');
const body = (changes: Partial<{ threshold: number; parties: string[]; suite: string }> = {}) => ({
  requestId: 'r1',
  keyId: 'k1',
  suite: ed25519Suite.id,
  threshold: 2,
  parties: ['p3', 'p1', 'p2'],
  ...changes,
});
const intake = { directory: cast.directory, now: NOW, keyExists: false };

describe('keygen intake (coordinator)', () => {
  it('starts round 1 with the parties sorted, nothing collected, and the request bound by its fingerprint', async () => {
    const request = await cast.envelope('cli', MessageType.keygenRequest, session, body());
    expect(newKeygenSession(request, body(), intake)).toEqual({
      request,
      requestFingerprint: requestFingerprint(request),
      initiator: 'cli',
      requestId: 'r1',
      keyId: 'k1',
      createdAt: NOW,
      refused: {},
      kind: 'keygen',
      phase: 'round1',
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
      round1: {},
      shares: {},
      done: {},
    });
  });

  it('refuses a party the directory does not know (unknown-sender)', async () => {
    const request = await cast.envelope('cli', MessageType.keygenRequest, session, body({ parties: ['p1', 'p2', 'mallory'] }));
    const error = refusal(() => newKeygenSession(request, body({ parties: ['p1', 'p2', 'mallory'] }), intake));
    expect(error.code).toBe(RefusalCode.unknownSender);
    expect(error.message).toContain('mallory');
  });

  it('refuses a key id that already exists (conflict)', async () => {
    const request = await cast.envelope('cli', MessageType.keygenRequest, session, body());
    expect(refusal(() => newKeygenSession(request, body(), { ...intake, keyExists: true })).code).toBe(RefusalCode.conflict);
  });

  it.each([
    ['a threshold of 1', { threshold: 1 }],
    ['a threshold above the party count', { threshold: 4 }],
    ['a duplicate party', { parties: ['p1', 'p1', 'p2'] }],
    ['an unknown ciphersuite', { suite: 'FROST-NOPE' }],
  ])('refuses %s as malformed', async (_what, changes) => {
    const request = await cast.envelope('cli', MessageType.keygenRequest, session, body(changes));
    expect(refusal(() => newKeygenSession(request, body(changes), intake)).code).toBe(RefusalCode.malformed);
  });
});
