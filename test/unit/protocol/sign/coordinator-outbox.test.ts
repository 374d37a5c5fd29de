/** What each signing phase sends, coordinator side: derived from the stored session and the key. */
import { beforeAll, describe, expect, it } from 'vitest';
import { StoredStateError } from '../../../../lib/ports/errors.js';
import type { SignSession } from '../../../../lib/protocol/coordinator-state.js';
import { MessageType } from '../../../../lib/protocol/messages.js';
import { signOutbox, signResult } from '../../../../lib/protocol/sign/coordinator-outbox.js';
import { Cast } from '../../../support/coordinator-fixtures.js';
import { commitmentOf, freshSignSession, signSetup, type SignSetup } from '../../../support/sign-fixtures.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
beforeAll(async () => {
  setup = await signSetup(cast);
});
const toParty = (id: string) => ({ kind: 'party', id });

describe('signing outbox (coordinator)', () => {
  it('commit: sign.commit for this attempt to every eligible party, not to the excluded or refused', () => {
    const session: SignSession = { ...freshSignSession(setup), attempt: 2, excluded: ['p1'], refused: { p3: { code: 'policy', reason: 'no' } } };
    expect(signOutbox(session, setup.key)).toEqual([{ destination: toParty('p2'), session: setup.session, type: MessageType.signCommit, body: { request: setup.request, attempt: 2 } }]);
  });

  it('commit without the key record: StoredStateError, never an empty send', () => {
    expect(() => signOutbox(freshSignSession(setup), undefined)).toThrow(StoredStateError);
  });

  it('sign: the signing package (the signers’ own signed commitments, unchanged) to each signer', async () => {
    const p1 = (await commitmentOf(cast, setup, 'p1')).envelope;
    const p3 = (await commitmentOf(cast, setup, 'p3')).envelope;
    const session: SignSession = { ...freshSignSession(setup), phase: 'sign', signers: ['p1', 'p3'], commitments: { p1, p3 } };
    const body = { request: setup.request, attempt: 1, commitments: [p1, p3] };
    expect(signOutbox(session, setup.key)).toEqual([
      { destination: toParty('p1'), session: setup.session, type: MessageType.signPackage, body },
      { destination: toParty('p3'), session: setup.session, type: MessageType.signPackage, body },
    ]);
  });

  it('sign, one round: sign.pooled to each signer, with every signer’s signed pool batch and entry; without the batches a StoredStateError', async () => {
    const b1 = await cast.envelope('p1', MessageType.poolBatch, 'a1'.repeat(16), { keyId: 'k1', epoch: 0, expires: 1, commitments: [], audit: { seq: 0, hash: '00'.repeat(32) } });
    const b3 = await cast.envelope('p3', MessageType.poolBatch, 'a3'.repeat(16), { keyId: 'k1', epoch: 0, expires: 1, commitments: [], audit: { seq: 0, hash: '00'.repeat(32) } });
    const commitment = { identifier: '01'.repeat(32), hiding: '02'.repeat(32), binding: '03'.repeat(32) };
    const pooled = { p1: { batchId: 'a1'.repeat(16), index: 4, commitment }, p3: { batchId: 'a3'.repeat(16), index: 0, commitment } };
    const session: SignSession = { ...freshSignSession(setup), phase: 'sign', signers: ['p1', 'p3'], pooled, epoch: 2 };
    const body = { request: setup.request, attempt: 1, epoch: 2, commitments: [{ batch: b1, index: 4 }, { batch: b3, index: 0 }] };
    expect(signOutbox(session, undefined, { p1: b1, p3: b3 })).toEqual([
      { destination: toParty('p1'), session: setup.session, type: MessageType.signPooled, body },
      { destination: toParty('p3'), session: setup.session, type: MessageType.signPooled, body },
    ]);
    expect(() => signOutbox(session, undefined, { p1: b1 })).toThrow(StoredStateError);
    expect(() => signOutbox(session, undefined)).toThrow(StoredStateError);
  });

  it('done: the signature, the key, the message and the signers to the initiator', () => {
    const signature = 'ab'.repeat(64);
    const session: SignSession = { ...freshSignSession(setup), phase: 'done', signers: ['p1', 'p3'], signature };
    expect(signOutbox(session, setup.key)).toEqual([
      {
        destination: { kind: 'initiator', id: 'cli' },
        session: setup.session,
        type: MessageType.signResult,
        body: { requestId: 'sign-k1', keyId: 'k1', duplicate: false, signature, publicKey: setup.key.publicKey, message: setup.message, signers: ['p1', 'p3'], ok: true },
      },
    ]);
  });

  it('failed, or done without the key record: the error; a repeated request gets it marked duplicate', () => {
    const failed: SignSession = { ...freshSignSession(setup), phase: 'failed', error: { code: 'timeout', message: 'stalled' } };
    expect(signResult(failed, true, setup.key).body).toEqual({ requestId: 'sign-k1', keyId: 'k1', duplicate: true, error: { code: 'timeout', message: 'stalled' }, ok: false });
    const done: SignSession = { ...freshSignSession(setup), phase: 'done', signature: 'ab'.repeat(64) };
    expect(signResult(done, false, undefined).body).toMatchObject({ ok: false, error: { code: 'failed' } });
  });
});
