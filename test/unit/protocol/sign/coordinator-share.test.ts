/**
 * Signing round 2, coordinator side: each signature share checked on receipt for its signing
 * package and canonical encoding; with all shares in, the signature is aggregated, shares are
 * verified (RFC 9591 §5.4) only if it fails, and an invalid one excludes its signed sender and
 * starts a fresh attempt; a signature is released only if OpenSSL accepts it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode } from '../../../../lib/ports/errors.js';
import type { SignSession } from '../../../../lib/protocol/coordinator-state.js';
import { parseBody } from '../../../../lib/protocol/envelope.js';
import { MessageType } from '../../../../lib/protocol/messages.js';
import { aggregate } from '../../../../lib/protocol/sign/coordinator-aggregate.js';
import { onCommitment } from '../../../../lib/protocol/sign/coordinator-commitment.js';
import { onShare } from '../../../../lib/protocol/sign/coordinator-share.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Cast } from '../../../support/coordinator-fixtures.js';
import { commitmentOf, freshSignSession, shareOf, signSetup, type Committed, type SignSetup } from '../../../support/sign-fixtures.js';
import { verifyWithNodeCrypto } from '../../../support/ed25519.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let setup: SignSetup;
let strict: SignSetup;
beforeAll(async () => {
  setup = await signSetup(cast);
  strict = await signSetup(cast, { threshold: 3 });
});

/** A session whose signers (`signers`) have committed; their nonces, to sign with. */
async function signing(s: SignSetup, signers: readonly string[]): Promise<{ session: SignSession; committed: Record<string, Committed> }> {
  let session = freshSignSession(s);
  const committed: Record<string, Committed> = {};
  for (const party of signers) {
    const c = await commitmentOf(cast, s, party);
    committed[party] = c;
    session = onCommitment(session, s.key, c.envelope, undefined, cast.context()).next ?? session;
  }
  if (session.phase !== 'sign') throw new Error('signers not fixed');
  return { session, committed };
}
const noncesOf = (committed: Record<string, Committed>, party: string) => {
  const c = committed[party];
  if (c === undefined) throw new Error(`${party} did not commit`);
  return c.nonces;
};
const bump = (share: string) => (share[0] === '0' ? '1' : '0') + share.slice(1);

describe('signing round 2 (coordinator)', () => {
  it('records each valid share; with the last, aggregates a signature OpenSSL accepts', async () => {
    const { session, committed } = await signing(setup, ['p1', 'p3']);
    const first = onShare(session, setup.key, await shareOf(cast, setup, session, 'p3', noncesOf(committed, 'p3')), cast.context());
    expect(first.next).toMatchObject({ phase: 'sign' });
    const last = onShare(first.next ?? session, setup.key, await shareOf(cast, setup, session, 'p1', noncesOf(committed, 'p1')), cast.context());
    expect(last.next?.phase).toBe('done');
    const signature = last.next?.kind === 'sign' ? last.next.signature : undefined;
    expect(verifyWithNodeCrypto(setup.key.publicKey, Buffer.from(setup.message, 'hex'), signature ?? '')).toBe(true);
  });

  it.each([
    ['a wrong share', bump],
    ['a share that is no canonical scalar (≥ L)', () => 'ff'.repeat(32)],
  ])('%s excludes its sender and starts attempt 2 without it, logged with invalid-share', async (_what, change) => {
    const signed = await signing(setup, ['p1', 'p2']);
    const { committed } = signed;
    // The honest share first: a wrong canonical share is only found when the last share is in.
    const session = onShare(signed.session, setup.key, await shareOf(cast, setup, signed.session, 'p1', noncesOf(committed, 'p1')), cast.context()).next ?? signed.session;
    const before = structuredClone(session);
    const step = onShare(session, setup.key, await shareOf(cast, setup, session, 'p2', noncesOf(committed, 'p2'), change), cast.context());
    expect(step.next).toMatchObject({ phase: 'commit', attempt: 2, excluded: ['p2'], commitments: {}, signers: [], shares: {} });
    expect(step.logs).toEqual([{ level: 'warn', message: 'invalid signature share', fields: { session: setup.session, blame: 'p2', attempt: 1, code: RefusalCode.invalidShare } }]);
    expect(session).toEqual(before);
  });

  it('a share for another signing package (package hash) is invalid too', async () => {
    const { session, committed } = await signing(setup, ['p1', 'p2']);
    const honest = await shareOf(cast, setup, session, 'p1', noncesOf(committed, 'p1'));
    const other = await cast.envelope('p1', MessageType.signShare, setup.session, { ...parseBody(honest, MessageType.signShare), packageHash: 'ee'.repeat(32) });
    expect(onShare(session, setup.key, other, cast.context()).next).toMatchObject({ attempt: 2, excluded: ['p1'] });
  });

  it('an invalid share when every party is needed fails the session (cheater-detected naming it)', async () => {
    const signed = await signing(strict, ['p1', 'p2', 'p3']);
    const { committed } = signed;
    let session = signed.session;
    for (const p of ['p1', 'p2']) session = onShare(session, strict.key, await shareOf(cast, strict, signed.session, p, noncesOf(committed, p)), cast.context()).next ?? session;
    const step = onShare(session, strict.key, await shareOf(cast, strict, session, 'p3', noncesOf(committed, 'p3'), bump), cast.context());
    expect(step.next).toMatchObject({ phase: 'failed', error: { code: 'cheater-detected', blame: ['p3'] } });
  });

  it('a wrong canonical share is found at aggregation: only its sender is blamed, not the honest signer whose share came last; attempt 2 with p3 signs', async () => {
    const { session, committed } = await signing(setup, ['p1', 'p2']);
    const cheated = onShare(session, setup.key, await shareOf(cast, setup, session, 'p2', noncesOf(committed, 'p2'), bump), cast.context());
    // Well formed: recorded without judgement until every share is in.
    expect(cheated.next).toMatchObject({ phase: 'sign', attempt: 1, excluded: [] });
    expect(cheated.logs).toBeUndefined();
    const recorded = cheated.next ?? session;
    const before = structuredClone(recorded);
    const step = onShare(recorded, setup.key, await shareOf(cast, setup, session, 'p1', noncesOf(committed, 'p1')), cast.context());
    expect(step.next).toMatchObject({ phase: 'commit', attempt: 2, excluded: ['p2'], commitments: {}, signers: [], shares: {} });
    expect(step.next?.signature).toBeUndefined();
    expect(step.logs).toEqual([{ level: 'warn', message: 'invalid signature share', fields: { session: setup.session, blame: 'p2', attempt: 1, code: RefusalCode.invalidShare } }]);
    expect(recorded).toEqual(before);

    // Attempt 2: the honest p1 and the third party p3 sign; the signature verifies with node:crypto.
    let retry = step.next ?? session;
    const again: Record<string, Committed> = {};
    for (const party of ['p1', 'p3']) {
      again[party] = await commitmentOf(cast, setup, party, 2);
      retry = onCommitment(retry, setup.key, again[party].envelope, undefined, cast.context()).next ?? retry;
    }
    expect(retry).toMatchObject({ phase: 'sign', attempt: 2, signers: ['p1', 'p3'] });
    const signers = retry;
    for (const party of ['p3', 'p1']) retry = onShare(retry, setup.key, await shareOf(cast, setup, signers, party, noncesOf(again, party)), cast.context()).next ?? retry;
    expect(retry).toMatchObject({ phase: 'done', excluded: ['p2'] });
    expect(verifyWithNodeCrypto(setup.key.publicKey, Buffer.from(setup.message, 'hex'), retry.signature ?? '')).toBe(true);
  });

  it.each([
    ['names no share', []],
    ['names an identifier that is no signer', ['00'.repeat(32)]],
  ])('aggregation that fails and %s fails the session, blaming nobody', async (_what, cheaters) => {
    const { session, committed } = await signing(setup, ['p1', 'p2']);
    const shares = { p1: await shareOf(cast, setup, session, 'p1', noncesOf(committed, 'p1')), p2: await shareOf(cast, setup, session, 'p2', noncesOf(committed, 'p2')) };
    // Cannot happen with a consistent key package and canonical shares (if each share verifies,
    // so does their sum): a stand-in for noble's AggErr checks that nobody is blamed then.
    const failing = {
      ...ed25519Suite,
      frost: {
        ...ed25519Suite.frost,
        aggregate: () => {
          throw Object.assign(new Error('aggregation failed'), { cheaters });
        },
      },
    };
    const after = aggregate({ ...session, shares }, setup.key, failing);
    expect(after).toMatchObject({ phase: 'failed', excluded: [], error: { code: 'verification-failed' } });
    expect(after.error?.blame).toBeUndefined();
    expect(after.signature).toBeUndefined();
  });

  it('a share from a non-signer, for another attempt, or outside the signing phase changes nothing; the same share again asks for a resend only once the session moved on', async () => {
    const { session, committed } = await signing(setup, ['p1', 'p2']);
    const share = await shareOf(cast, setup, session, 'p1', noncesOf(committed, 'p1'));
    const fromP3 = await cast.envelope('p3', MessageType.signShare, setup.session, parseBody(share, MessageType.signShare));
    expect(onShare(session, setup.key, fromP3, cast.context())).toEqual({ resend: false });
    expect(onShare({ ...session, attempt: 2 }, setup.key, share, cast.context())).toEqual({ resend: false });
    expect(onShare({ ...session, phase: 'failed' }, setup.key, share, cast.context())).toEqual({ resend: false });
    const recorded = onShare(session, setup.key, share, cast.context()).next;
    if (recorded === undefined) throw new Error('not recorded');
    // Still waiting for p2's share: recording p1's sent nothing, so there is nothing to send again.
    expect(onShare(recorded, setup.key, share, cast.context())).toEqual({ resend: false });
    // Finished (its outcome may not have been sent before a crash): the outcome again, for the very envelope only.
    expect(onShare({ ...recorded, phase: 'done' }, setup.key, share, cast.context())).toEqual({ resend: true });
    const copy = await cast.envelope('p1', MessageType.signShare, setup.session, parseBody(share, MessageType.signShare));
    expect(onShare({ ...recorded, phase: 'done' }, setup.key, copy, cast.context())).toEqual({ resend: false });
  });

  it('a signature OpenSSL does not accept is never released (verification-failed)', async () => {
    const { session, committed } = await signing(setup, ['p1', 'p2']);
    const shares = { p1: await shareOf(cast, setup, session, 'p1', noncesOf(committed, 'p1')), p2: await shareOf(cast, setup, session, 'p2', noncesOf(committed, 'p2')) };
    const sceptical = { ...ed25519Suite, verifyFinal: () => false };
    expect(aggregate({ ...session, shares }, setup.key, sceptical)).toMatchObject({ phase: 'failed', error: { code: 'verification-failed' } });
    expect(aggregate({ ...session, shares }, setup.key, ed25519Suite).phase).toBe('done');
  });
});
