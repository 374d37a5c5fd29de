/** What each keygen phase sends, coordinator side: derived from the stored session alone, transcripts relayed unchanged. */
import { beforeAll, describe, expect, it } from 'vitest';
import { RefusalCode, StoredStateError } from '../../../../lib/ports/errors.js';
import { keygenOutbox, keygenResult } from '../../../../lib/protocol/keygen/coordinator-outbox.js';
import { MessageType } from '../../../../lib/protocol/messages.js';
import { AUDIT, Cast, keygenSession, runDkg, type DkgRun } from '../../../support/coordinator-fixtures.js';

const cast = new Cast(['p1', 'p2', 'p3']);
let run: DkgRun;
beforeAll(async () => {
  run = await runDkg(cast);
});
const PARTIES = ['p1', 'p2', 'p3'];
const toParty = (id: string) => ({ kind: 'party', id });
const toCli = { kind: 'initiator', id: 'cli' };

describe('keygen outbox (coordinator)', () => {
  it('round 1: dkg.start with the initiator’s signed request to every party', () => {
    expect(keygenOutbox(keygenSession(cast, run, 'round1'))).toEqual(
      PARTIES.map((p) => ({ destination: toParty(p), session: run.session, type: MessageType.dkgStart, body: { request: run.request } })),
    );
  });

  it('round 2: every party gets the whole signed round-1 transcript', () => {
    const round1 = PARTIES.map((p) => run.round1[p]);
    expect(keygenOutbox(keygenSession(cast, run, 'round2'))).toEqual(
      PARTIES.map((p) => ({ destination: toParty(p), session: run.session, type: MessageType.dkgRound2, body: { request: run.request, round1 } })),
    );
  });

  it('round 3: every party gets the round-1 transcript and the other parties’ signed shares, not its own', () => {
    const sent = keygenOutbox(keygenSession(cast, run, 'round3'));
    expect(sent.map((o) => [o.destination, o.type])).toEqual(PARTIES.map((p) => [toParty(p), MessageType.dkgRound3]));
    for (const { destination, body } of sent) {
      expect(body).toMatchObject({ shares: PARTIES.filter((p) => p !== destination.id).map((p) => run.shares[p]) });
    }
  });

  it('done: the n attestations to every party, then the result with the key and its attestations', () => {
    const done = PARTIES.map((p) => run.done[p]);
    const groupKey = (run.done.p1?.body as { groupKey: string }).groupKey;
    const session = { ...keygenSession(cast, run, 'round3'), phase: 'done' as const, done: { ...run.done }, publicKey: groupKey };
    const sent = keygenOutbox(session);
    expect(sent.slice(0, 3)).toEqual(PARTIES.map((p) => ({ destination: toParty(p), session: run.session, type: MessageType.dkgConfirm, body: { request: run.request, done } })));
    expect(sent[3]).toEqual({
      destination: toCli,
      session: run.session,
      type: MessageType.keygenResult,
      body: { requestId: 'keygen-k1', keyId: 'k1', duplicate: false, publicKey: groupKey, threshold: 2, parties: PARTIES, attestations: done, ok: true },
    });
  });

  it('failed by an abandoning refusal: the signed refusal to every other party, then the error', async () => {
    const refusal = await cast.envelope('p2', MessageType.partyRefused, run.session, { inResponseTo: MessageType.dkgRound3, code: 'protocol', reason: 'x', abandoned: true, audit: AUDIT });
    const error = { code: RefusalCode.protocol, message: 'party "p2" refused: x' };
    const session = { ...keygenSession(cast, run, 'round3'), phase: 'failed' as const, abandonment: refusal, error };
    expect(keygenOutbox(session)).toEqual([
      { destination: toParty('p1'), session: run.session, type: MessageType.dkgAbort, body: { request: run.request, refusal } },
      { destination: toParty('p3'), session: run.session, type: MessageType.dkgAbort, body: { request: run.request, refusal } },
      { destination: toCli, session: run.session, type: MessageType.keygenResult, body: { requestId: 'keygen-k1', keyId: 'k1', duplicate: false, error, ok: false } },
    ]);
  });

  it('failed without a refusal (a timeout): only the error, and a repeated request gets it marked duplicate', () => {
    const session = { ...keygenSession(cast, run, 'round2'), phase: 'failed' as const, error: { code: 'timeout', message: 'stalled' } };
    expect(keygenOutbox(session).map((o) => o.type)).toEqual([MessageType.keygenResult]);
    expect(keygenResult(session, true).body).toMatchObject({ duplicate: true, ok: false, error: { code: 'timeout' } });
  });

  it('a stored session missing a package its phase requires throws StoredStateError', () => {
    const session = { ...keygenSession(cast, run, 'round2'), round1: { p1: run.round1.p1 ?? run.request } };
    expect(() => keygenOutbox(session)).toThrow(StoredStateError);
  });
});
