/** What the coordinator's transitions share: the refusal shape, timeouts, and refused-request results. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode, RefusedError, StoredStateError } from '../../../lib/ports/errors.js';
import { refusedRequestResult } from '../../../lib/protocol/coordinator-outbox.js';
import type { SignSession } from '../../../lib/protocol/coordinator-state.js';
import { moved, required } from '../../../lib/protocol/coordinator-step.js';
import { timedOut } from '../../../lib/protocol/coordinator-timeout.js';
import { MessageType } from '../../../lib/protocol/messages.js';
import { Cast, NOW, keygenSession, runDkg, type DkgRun } from '../../support/coordinator-fixtures.js';
import { freshSignSession, signSetup, type SignSetup } from '../../support/sign-fixtures.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
let run: DkgRun;
beforeAll(async () => {
  setup = await signSetup(cast);
  run = await runDkg(cast);
});

describe('RefusedError blame', () => {
  it('is a list: none, one name, or several', () => {
    expect(new RefusedError(RefusalCode.malformed, 'x').blame).toEqual([]);
    expect(new RefusedError(RefusalCode.equivocation, 'x', { blame: 'p1' }).blame).toEqual(['p1']);
    expect(new RefusedError(RefusalCode.protocol, 'x', { blame: ['p1', 'p2'] }).blame).toEqual(['p1', 'p2']);
  });
});

describe('coordinator step helpers', () => {
  it('required: a missing entry of a stored session is a StoredStateError (retried and alarmed), not a refusal', () => {
    expect(required({ a: 1 }, 'a', 'thing')).toBe(1);
    expect(() => required({ a: 1 }, 'b', 'thing')).toThrow(StoredStateError);
    expect(() => required({}, 'toString', 'thing')).toThrow(StoredStateError);
  });

  it('moved: a new phase or a new attempt', () => {
    const session = freshSignSession(setup);
    expect(moved(session, session)).toBe(false);
    expect(moved(session, { ...session, phase: 'sign' })).toBe(true);
    expect(moved(session, { ...session, attempt: 2 })).toBe(true);
  });
});

describe('timeouts (coordinator)', () => {
  it('a stalled signing session fails naming the signers that never sent a share', () => {
    const session: SignSession = { ...freshSignSession(setup), phase: 'sign', signers: ['p1', 'p3'], shares: { p1: setup.request } };
    expect(timedOut(session, NOW + 5 * 60_000)).toMatchObject({
      phase: 'failed',
      error: { code: 'timeout', message: 'sign session stalled in phase sign for 5 min; no answer from p3' },
    });
  });

  it('a stalled keygen fails naming the parties missing from its round', () => {
    const session = { ...keygenSession(cast, run, 'round2'), shares: { p2: run.request } };
    expect(timedOut(session, NOW + 60_000).error).toEqual({ code: 'timeout', message: 'keygen session stalled in phase round2 for 1 min; no answer from p1, p3' });
  });
});

describe('refused requests (coordinator)', () => {
  it('the initiator is told why, in a result of its request’s kind', () => {
    const error = { code: RefusalCode.unknownKey, message: 'no key "k1"' };
    expect(refusedRequestResult(setup.request, error)).toEqual({
      destination: { kind: 'initiator', id: 'cli' },
      session: setup.session,
      type: MessageType.signResult,
      body: { requestId: 'sign-k1', keyId: 'k1', duplicate: false, error, ok: false },
    });
    expect(refusedRequestResult(run.request, error).type).toBe(MessageType.keygenResult);
  });

  it('a body without a usable request id or key id is answered with "-"', () => {
    const odd = { ...setup.request, body: null };
    expect(refusedRequestResult(odd, { code: RefusalCode.malformed, message: 'x' }).body).toMatchObject({ requestId: '-', keyId: '-' });
  });
});
