/** Key lookup, coordinator side: answered from the registry, attestations included. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import { keyResult } from '../../../../lib/protocol/lookup/coordinator-key-request.js';
import { MessageType, type Envelope } from '../../../../lib/protocol/messages.js';
import { Cast } from '../../../support/coordinator-fixtures.js';
import { signSetup, type SignSetup } from '../../../support/sign-fixtures.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
let request: Envelope;
beforeAll(async () => {
  setup = await signSetup(cast);
  request = await cast.envelope('cli', MessageType.keyRequest, 'cd'.repeat(16), { requestId: 'q1', keyId: 'k1' });
});

describe('key lookup (coordinator)', () => {
  it('a known key: its public data and attestations, to the initiator that asked, in its session', () => {
    expect(keyResult(request, { requestId: 'q1', keyId: 'k1' }, setup.key)).toEqual({
      destination: { kind: 'initiator', id: 'cli' },
      session: 'cd'.repeat(16),
      type: MessageType.keyResult,
      body: { requestId: 'q1', keyId: 'k1', ok: true, publicKey: setup.key.publicKey, threshold: 2, parties: ['p1', 'p2', 'p3'], attestations: [] },
    });
  });

  it('an unknown key: unknown-key', () => {
    expect(keyResult(request, { requestId: 'q1', keyId: 'k9' }, undefined).body).toEqual({
      requestId: 'q1',
      keyId: 'k9',
      ok: false,
      error: { code: RefusalCode.unknownKey, message: 'no key "k9"' },
    });
  });
});
