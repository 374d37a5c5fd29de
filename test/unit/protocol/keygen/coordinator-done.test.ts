/**
 * DKG round 3 and the end of a keygen, coordinator side: each party's signed attestation is
 * checked on receipt; with all n in, the key exists only if they agree, and its record carries
 * all n attestations.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode, StoredStateError } from '../../../../lib/ports/errors.js';
import type { KeygenSession } from '../../../../lib/protocol/coordinator-state.js';
import { onDone } from '../../../../lib/protocol/keygen/coordinator-done.js';
import { finishKeygen, keyCreatedMeanwhile, keyRecord } from '../../../../lib/protocol/keygen/coordinator-finish.js';
import { MessageType, type DkgDoneBody, type Envelope } from '../../../../lib/protocol/messages.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';
import { Cast, NOW, keygenSession, runDkg, type DkgRun } from '../../../support/coordinator-fixtures.js';
import { refusal } from '../../../support/refusal.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let run: DkgRun;
let other: DkgRun;
beforeAll(async () => {
  run = await runDkg(cast);
  other = await runDkg(cast);
});

const doneOf = (party: string, from: DkgRun = run): Envelope => {
  const envelope = from.done[party];
  if (envelope === undefined) throw new Error(`no dkg.done of ${party}`);
  return envelope;
};
const bodyOf = (party: string) => doneOf(party).body as DkgDoneBody;
const signedDone = (from: string, change: (body: DkgDoneBody) => DkgDoneBody) => cast.envelope(from, MessageType.dkgDone, run.session, change(bodyOf(from)));

function collect(session: KeygenSession, parties: readonly string[]): KeygenSession {
  let current = session;
  for (const party of parties) current = onDone(current, doneOf(party), cast.context()).next ?? current;
  return current;
}

describe('DKG round 3 (coordinator)', () => {
  it('with every attestation in: done, the group key set, and a key record carrying all n attestations', () => {
    const session = collect(keygenSession(cast, run, 'round3'), ['p1', 'p2']);
    const step = onDone(session, doneOf('p3'), cast.context());
    expect(step.next).toMatchObject({ phase: 'done', publicKey: bodyOf('p1').groupKey });
    expect(step.key).toEqual({
      keyId: 'k1',
      suite: ed25519Suite.id,
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
      publicKey: bodyOf('p1').groupKey,
      publicPackage: bodyOf('p1').publicPackage,
      publicPackageHash: bodyOf('p1').publicPackageHash,
      attestations: [doneOf('p1'), doneOf('p2'), doneOf('p3')],
      createdBy: 'cli',
      session: run.session,
      createdAt: NOW,
    });
  });

  it('before the last attestation: recorded, no key yet', () => {
    const step = onDone(keygenSession(cast, run, 'round3'), doneOf('p2'), cast.context());
    expect(step.next?.phase).toBe('round3');
    expect(step.key).toBeUndefined();
  });

  it('parties that finished with different public packages fail the keygen (dkg-mismatch), and no key is made', async () => {
    // p3 attests the public package of another DKG run: consistent in itself, but another key.
    const otherP3 = await cast.envelope('p3', MessageType.dkgDone, run.session, doneOf('p3', other).body as DkgDoneBody);
    const session = collect(keygenSession(cast, run, 'round3'), ['p1', 'p2']);
    const step = onDone(session, otherP3, cast.context());
    expect(step.next).toMatchObject({ phase: 'failed', error: { code: 'dkg-mismatch' } });
    expect(step.key).toBeUndefined();
  });

  it.each([
    ['another key id', (b: DkgDoneBody) => ({ ...b, keyId: 'k2' })],
    ['another suite', (b: DkgDoneBody) => ({ ...b, suite: 'FROST-OTHER' })],
    ['another threshold', (b: DkgDoneBody) => ({ ...b, threshold: 3 })],
    ['another party set', (b: DkgDoneBody) => ({ ...b, parties: ['p1', 'p2'] })],
    ['a hash that is not its public package’s', (b: DkgDoneBody) => ({ ...b, publicPackageHash: '00'.repeat(32) })],
    ['a group key that is not its public package’s', (b: DkgDoneBody) => ({ ...b, groupKey: b.publicPackage.commitments[1] ?? '' })],
  ])('refuses an attestation with %s (inconsistent-package), naming its sender, session unchanged', async (_what, change) => {
    const session = keygenSession(cast, run, 'round3');
    const before = structuredClone(session);
    const envelope = await signedDone('p2', change);
    expect(refusal(() => onDone(session, envelope, cast.context()))).toMatchObject({ code: RefusalCode.inconsistentPackage, blame: ['p2'] });
    expect(session).toEqual(before);
  });

  it('an attestation after the keygen finished changes nothing', () => {
    const done = onDone(collect(keygenSession(cast, run, 'round3'), ['p1', 'p2']), doneOf('p3'), cast.context()).next;
    if (done === undefined) throw new Error('not finished');
    expect(onDone(done, doneOf('p3'), cast.context())).toEqual({ resend: true });
  });
});

describe('finishing a keygen (coordinator)', () => {
  it('a key created meanwhile by another keygen for the same id fails this one (conflict)', () => {
    const done = finishKeygen(collect(keygenSession(cast, run, 'round3'), ['p1', 'p2', 'p3']));
    expect(keyCreatedMeanwhile(done)).toMatchObject({ phase: 'failed', error: { code: RefusalCode.conflict } });
  });

  it('a stored session missing an attestation its phase requires is a StoredStateError, not a refusal', () => {
    const session = { ...keygenSession(cast, run, 'round3'), done: { p2: doneOf('p2'), p3: doneOf('p3') } };
    expect(() => keyRecord(session, cast.context())).toThrow(StoredStateError);
  });
});
