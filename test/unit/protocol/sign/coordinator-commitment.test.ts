/**
 * Signing round 1, coordinator side: commitments checked on receipt (RFC 9591 §3.1 valid
 * elements, §7.3 never reused with the key); a faulty one excludes its signed sender and is
 * refused naming it; the first t honest commitments fix the signers.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import type { SignSession } from '../../../../lib/protocol/coordinator-state.js';
import { onCommitment } from '../../../../lib/protocol/sign/coordinator-commitment.js';
import { Cast, identifierOf } from '../../../support/coordinator-fixtures.js';
import { commitmentOf, freshSignSession, signSetup, type SignSetup } from '../../../support/sign-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
/** The same key with threshold 3: every party is needed. */
let strict: SignSetup;
beforeAll(async () => {
  setup = await signSetup(cast);
  strict = await signSetup(cast, { threshold: 3 });
});

const IDENTITY = ed25519.Point.ZERO.toHex();
const commit = (session: SignSession, party: string, s: SignSetup = setup) => commitmentOf(cast, s, party).then(({ envelope }) => onCommitment(session, s.key, envelope, undefined, cast.context()));

describe('signing round 1 (coordinator)', () => {
  it('records a fresh commitment and claims it for the key in the same write', async () => {
    const { envelope, commitment } = await commitmentOf(cast, setup, 'p2');
    const step = onCommitment(freshSignSession(setup), setup.key, envelope, undefined, cast.context());
    expect(step.next).toMatchObject({ phase: 'commit', commitments: { p2: envelope } });
    expect(step.claims).toEqual([{ keyId: 'k1', hiding: commitment.hiding, use: { session: setup.session, attempt: 1, party: 'p2' } }]);
    expect(step.refusal).toBeUndefined();
  });

  it('the t-th commitment fixes the signers (sorted) and moves to signing', async () => {
    const first = (await commit(freshSignSession(setup), 'p3')).next;
    if (first === undefined) throw new Error('not recorded');
    const step = await commit(first, 'p1');
    expect(step.next).toMatchObject({ phase: 'sign', signers: ['p1', 'p3'] });
  });

  it('a commitment after the signers were fixed, or for another attempt, or from an excluded party, changes nothing', async () => {
    const signing = (await commit((await commit(freshSignSession(setup), 'p1')).next ?? freshSignSession(setup), 'p2')).next;
    if (signing?.phase !== 'sign') throw new Error('signers not fixed');
    expect(await commit(signing, 'p3')).toEqual({ resend: false });
    const second = await commitmentOf(cast, setup, 'p1', 2);
    expect(onCommitment(freshSignSession(setup), setup.key, second.envelope, undefined, cast.context())).toEqual({ resend: false });
    expect(await commit({ ...freshSignSession(setup), excluded: ['p1'] }, 'p1')).toEqual({ resend: false });
  });

  it('the same commitment again asks for a resend; a different one in the same attempt is equivocation', async () => {
    const { envelope } = await commitmentOf(cast, setup, 'p1');
    const session = onCommitment(freshSignSession(setup), setup.key, envelope, undefined, cast.context()).next;
    if (session === undefined) throw new Error('not recorded');
    expect(onCommitment(session, setup.key, envelope, undefined, cast.context())).toEqual({ resend: true });
    const other = await commitmentOf(cast, setup, 'p1');
    expect(refusal(() => onCommitment(session, setup.key, other.envelope, undefined, cast.context()))).toMatchObject({ code: RefusalCode.equivocation, blame: ['p1'] });
  });

  it('refuses a commitment under another party’s identifier (wrong-identifier), naming its sender, session unchanged', async () => {
    const { envelope } = await commitmentOf(cast, setup, 'p2', 1, (c) => ({ ...c, identifier: identifierOf('p1') }));
    const session = freshSignSession(setup);
    const before = structuredClone(session);
    expect(refusal(() => onCommitment(session, setup.key, envelope, undefined, cast.context()))).toMatchObject({ code: RefusalCode.wrongIdentifier, blame: ['p2'] });
    expect(session).toEqual(before);
  });

  it('an invalid element (the identity) excludes its sender and is refused naming it; collecting goes on without it', async () => {
    const { envelope } = await commitmentOf(cast, setup, 'p3', 1, (c) => ({ ...c, hiding: IDENTITY }));
    const step = onCommitment(freshSignSession(setup), setup.key, envelope, undefined, cast.context());
    expect(step.refusal).toMatchObject({ code: RefusalCode.invalidCommitment, blame: ['p3'] });
    expect(step.next).toMatchObject({ phase: 'commit', attempt: 1, excluded: ['p3'], commitments: {} });
    expect(step.claims).toBeUndefined();
  });

  it('an invalid element when every party is needed fails the session (cheater-detected naming it)', async () => {
    const { envelope } = await commitmentOf(cast, strict, 'p3', 1, (c) => ({ ...c, binding: IDENTITY }));
    const step = onCommitment(freshSignSession(strict), strict.key, envelope, undefined, cast.context());
    expect(step.refusal?.code).toBe(RefusalCode.invalidCommitment);
    expect(step.next).toMatchObject({ phase: 'failed', error: { code: 'cheater-detected', blame: ['p3'] } });
  });

  it('a commitment used before with this key (another session) excludes its sender (commitment-reused)', async () => {
    const { envelope } = await commitmentOf(cast, setup, 'p2');
    const priorUse = { session: 'cd'.repeat(16), attempt: 1, party: 'p2' };
    const step = onCommitment(freshSignSession(setup), setup.key, envelope, priorUse, cast.context());
    expect(step.refusal).toMatchObject({ code: RefusalCode.commitmentReused, blame: ['p2'] });
    expect(step.next).toMatchObject({ excluded: ['p2'], commitments: {} });
  });

  it('a claim this very session made (a retried write) is no reuse: recorded, and not claimed twice', async () => {
    const { envelope } = await commitmentOf(cast, setup, 'p2');
    const step = onCommitment(freshSignSession(setup), setup.key, envelope, { session: setup.session, attempt: 1, party: 'p2' }, cast.context());
    expect(step.refusal).toBeUndefined();
    expect(step.next?.commitments).toEqual({ p2: envelope });
    expect(step.claims).toBeUndefined();
  });

  it('a faulty commitment from a non-signer after the signers were fixed excludes it, and nothing else changes', async () => {
    const signing = (await commit((await commit(freshSignSession(setup), 'p1')).next ?? freshSignSession(setup), 'p2')).next;
    if (signing?.phase !== 'sign') throw new Error('signers not fixed');
    const { envelope } = await commitmentOf(cast, setup, 'p3', 1, (c) => ({ ...c, hiding: IDENTITY }));
    const step = onCommitment(signing, setup.key, envelope, undefined, cast.context());
    expect(step.refusal?.code).toBe(RefusalCode.invalidCommitment);
    expect(step.next).toEqual({ ...signing, excluded: ['p3'] });
  });
});
