import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyVault } from '../../../lib/adapters/local/file-key-vault.js';
import { RefusalCode } from '../../../lib/ports/errors.js';
import { DEFAULT_LIMITS, type Directory } from '../../../lib/protocol/directory.js';
import { createEnvelope, deriveSessionId } from '../../../lib/protocol/envelope.js';
import { MessageType, type Envelope } from '../../../lib/protocol/messages.js';
import {
  assertKeygenShape,
  assertMayKeygen,
  assertMaySign,
  verifyKeygenRequest,
  verifySignRequest,
  type PartyPolicy,
} from '../../../lib/protocol/requests.js';
import { ed25519Suite } from '../../../lib/protocol/suite.js';
import { Scratch } from '../../support/harness.js';
import { refusal } from '../../support/refusal.js';

const scratch = new Scratch();
let initiator: FileKeyVault;
let foreign: FileKeyVault;
let directory: Directory;
const NOW = 1_800_000_000_000;

beforeAll(async () => {
  const dir = await scratch.dir();
  initiator = await FileKeyVault.open(join(dir, 'cli'));
  foreign = await FileKeyVault.open(join(dir, 'foreign'));
  const coordinator = await FileKeyVault.open(join(dir, 'coordinator'));
  directory = { coordinator: await coordinator.identityPublicKey(), parties: {}, initiators: { cli: await initiator.identityPublicKey() } };
});
afterAll(() => scratch.cleanup());

const context = (session: string, now = NOW) => ({ directory, limits: DEFAULT_LIMITS, now, session });

async function signRequest(options: { from?: string; vault?: FileKeyVault; requestId?: string; ts?: number; body?: Record<string, unknown> } = {}) {
  const requestId = options.requestId ?? 'req-1';
  const from = options.from ?? 'cli';
  return createEnvelope(options.vault ?? initiator, options.ts ?? NOW, {
    type: MessageType.signRequest,
    session: deriveSessionId(from, requestId),
    from,
    to: 'coordinator',
    body: { requestId, keyId: 'k1', message: 'deadbeef', ...options.body } as never,
  });
}

async function keygenRequest(body: Record<string, unknown> = {}) {
  const requestId = 'kg-1';
  return createEnvelope(initiator, NOW, {
    type: MessageType.keygenRequest,
    session: deriveSessionId('cli', requestId),
    from: 'cli',
    to: 'coordinator',
    body: { requestId, keyId: 'k1', suite: ed25519Suite.id, threshold: 2, parties: ['p1', 'p2', 'p3'], ...body } as never,
  });
}

function alter(request: Envelope, body: Record<string, unknown>): Envelope {
  return { ...request, body: { ...(request.body as Record<string, unknown>), ...body } };
}

describe('initiator requests: the signature covers every field', () => {
  it('accepts an untouched sign request and returns its body', async () => {
    const request = await signRequest();
    expect(verifySignRequest(request, context(request.session))).toEqual({ requestId: 'req-1', keyId: 'k1', message: 'deadbeef' });
  });

  it.each([
    ['keyId', { keyId: 'k2' }],
    ['message', { message: 'deadbeee' }],
    ['requestId', { requestId: 'req-2' }],
  ])('refuses a request whose %s was changed after signing (coordinator substitution)', async (_field, change) => {
    const request = await signRequest();
    expect(refusal(() => verifySignRequest(alter(request, change), context(request.session))).code).toBe(RefusalCode.badSignature);
  });

  it('refuses a request with an added option that was not signed', async () => {
    const request = await signRequest();
    const error = refusal(() => verifySignRequest(alter(request, { extra: true }), context(request.session)));
    expect([RefusalCode.badSignature, RefusalCode.malformed]).toContain(error.code);
  });

  it('refuses a request signed by a foreign key under an authorised name', async () => {
    const request = await signRequest({ vault: foreign });
    expect(refusal(() => verifySignRequest(request, context(request.session))).code).toBe(RefusalCode.badSignature);
  });

  it('refuses a request from an initiator nobody pinned', async () => {
    const request = await signRequest({ from: 'mallory', vault: foreign });
    expect(refusal(() => verifySignRequest(request, context(request.session))).code).toBe(RefusalCode.unauthorisedInitiator);
  });

  it('refuses a request carried in another session (replay into another request)', async () => {
    const request = await signRequest();
    const other = deriveSessionId('cli', 'req-2');
    expect(refusal(() => verifySignRequest(request, context(other))).code).toBe(RefusalCode.wrongSession);
  });

  it('refuses a request too old to start new work', async () => {
    const request = await signRequest({ ts: NOW - DEFAULT_LIMITS.maxRequestAgeMs - 1 });
    expect(refusal(() => verifySignRequest(request, context(request.session))).code).toBe(RefusalCode.stale);
  });

  it('refuses a keygen request whose threshold or parties were changed after signing', async () => {
    const request = await keygenRequest();
    expect(verifyKeygenRequest(request, context(request.session)).threshold).toBe(2);
    for (const change of [{ threshold: 3 }, { parties: ['p1', 'p2', 'p4'] }, { keyId: 'k9' }]) {
      expect(refusal(() => verifyKeygenRequest(alter(request, change), context(request.session))).code).toBe(RefusalCode.badSignature);
    }
  });
});

describe('party policy', () => {
  const policy: PartyPolicy = {
    maxMessageBytes: 32,
    initiators: {
      cli: { keygen: false, keys: ['k1'] },
      ops: { keygen: true, keys: ['*'] },
    },
  };

  it('allows a granted initiator and key up to the message limit', () => {
    expect(() => assertMaySign(policy, 'cli', 'k1', 32)).not.toThrow();
    expect(() => assertMaySign(policy, 'ops', 'any-key', 1)).not.toThrow();
    expect(() => assertMayKeygen(policy, 'ops')).not.toThrow();
  });

  it('refuses an unknown initiator', () => {
    expect(refusal(() => assertMaySign(policy, 'mallory', 'k1', 1)).code).toBe(RefusalCode.unauthorisedInitiator);
    expect(refusal(() => assertMayKeygen(policy, 'mallory')).code).toBe(RefusalCode.unauthorisedInitiator);
    // Prototype keys are not grants.
    expect(refusal(() => assertMaySign(policy, 'constructor', 'k1', 1)).code).toBe(RefusalCode.unauthorisedInitiator);
  });

  it('refuses a key the initiator was not granted', () => {
    expect(refusal(() => assertMaySign(policy, 'cli', 'k2', 1)).code).toBe(RefusalCode.unauthorisedInitiator);
  });

  it('refuses keygen to an initiator allowed only to sign', () => {
    expect(refusal(() => assertMayKeygen(policy, 'cli')).code).toBe(RefusalCode.unauthorisedInitiator);
  });

  it('refuses a message over maxMessageBytes', () => {
    expect(refusal(() => assertMaySign(policy, 'cli', 'k1', 33)).code).toBe(RefusalCode.policy);
  });
});

describe('keygen shape', () => {
  const body = { requestId: 'kg-1', keyId: 'k1', suite: ed25519Suite.id, threshold: 2, parties: ['p1', 'p2', 'p3'] };

  it('accepts 2-of-3 and n-of-n', () => {
    expect(() => assertKeygenShape(body)).not.toThrow();
    expect(() => assertKeygenShape({ ...body, threshold: 3 })).not.toThrow();
  });

  it.each([1, 0, -1])('refuses threshold %i: one party alone must never sign', (threshold) => {
    expect(refusal(() => assertKeygenShape({ ...body, threshold })).code).toBe(RefusalCode.malformed);
  });

  it('refuses a threshold-1 request even when the initiator signed it', async () => {
    const request = await keygenRequest({ threshold: 1 });
    expect(refusal(() => verifyKeygenRequest(request, context(request.session))).code).toBe(RefusalCode.malformed);
  });

  it('refuses a threshold above the number of parties, duplicate parties and unknown suites', () => {
    expect(refusal(() => assertKeygenShape({ ...body, threshold: 4 })).code).toBe(RefusalCode.malformed);
    expect(refusal(() => assertKeygenShape({ ...body, parties: ['p1', 'p2', 'p2'] })).code).toBe(RefusalCode.malformed);
    expect(refusal(() => assertKeygenShape({ ...body, suite: 'FROST-SECP256K1-SHA256-v1' })).code).toBe(RefusalCode.malformed);
  });
});
