/**
 * DKG round 1, party side (`dkg.start` → `dkg.round1`): draw the polynomial and an X25519
 * ephemeral key, publish the package, keep the secrets sealed. A session gets exactly one
 * round-1 package from this party: a redelivery answers from the stored state, and once
 * that state is gone (expired, reaped) the session marker refuses a second one.
 */
import { RefusalCode, RefusedError, StoredStateError } from '../../ports/errors.js';
import { dkgLifetimes } from '../directory.js';
import { bytesToHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { round1ToWire } from '../frost-wire.js';
import { MessageType, type Envelope, type KeygenRequestBody, type Round1Package } from '../messages.js';
import { decide } from '../party-audit.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { partyKeys, type DkgRound1State, type DkgSessionRecord, type DkgStateRecord } from '../party-state.js';
import { sealSecret } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';
import { ephemeralPublicKey, newEphemeralSecret } from '../share-sealing.js';
import { packRoundSecret } from './noble-dkg-state.js';
import { checkKeygenRequest, keyShareOfSession, openSession } from './party-session.js';
import { ownRound1Hash } from './transcripts.js';

export interface Round1Output {
  /** What this party publishes. */
  readonly ownPackage: Round1Package;
  readonly ephemeralKey: string;
  /** The round secret to seal (`packRoundSecret`), owned by the caller's scope. */
  readonly secret: Uint8Array;
}

/** Pure step (apart from fresh randomness): this party's round 1 for a checked keygen request. */
export function startRound1(view: PartyView, keygen: Pick<KeygenRequestBody, 'threshold' | 'parties'>, scope: SecretScope): Round1Output {
  const { frost } = view.suite;
  const round1 = frost.DKG.round1(view.identifierOf(view.id), { min: keygen.threshold, max: keygen.parties.length });
  try {
    const ephemeral = newEphemeralSecret(scope);
    return {
      ownPackage: round1ToWire(round1.public),
      ephemeralKey: bytesToHex(ephemeralPublicKey(ephemeral)),
      secret: packRoundSecret(view.suite, ephemeral, round1.secret, scope),
    };
  } finally {
    frost.DKG.clean(round1.secret);
  }
}

/** Thin step: decide (audited), produce round 1 once per session, answer with its package. */
export async function onDkgStart(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const { request } = parseBody(envelope, MessageType.dkgStart);
  const { keygen, done } = await decide(ctx, 'keygen', session, request, async () => {
    const checked = checkKeygenRequest(ctx, request, session);
    return { keygen: checked, done: await keyShareOfSession(ctx, checked.keyId, session) };
  });
  if (done !== undefined) return;
  const marker = await openSession(ctx, session);

  const stateKey = partyKeys.dkgState(session);
  let state: DkgStateRecord | undefined = (await ctx.tables.dkgStates.get(stateKey))?.value;
  if (state === undefined) {
    if (marker !== undefined) {
      // Round 1 was produced for this session and its state is gone (expired, or reaped): a second,
      // different round-1 package for one session is never published.
      throw new RefusedError(RefusalCode.sessionClosed, 'this party already produced round 1 of this keygen session and its round state is gone; use a new request id');
    }
    const created: DkgRound1State = await ctx.withSecrets(async (scope) => {
      const output = startRound1(ctx.forSuite(keygen.suite), keygen, scope);
      return {
        step: 1,
        keyId: keygen.keyId,
        suite: keygen.suite,
        threshold: keygen.threshold,
        parties: [...keygen.parties],
        ownPackage: output.ownPackage,
        ephemeralKey: output.ephemeralKey,
        secret: await sealSecret(ctx.vault, ctx.secretContext(keygen.keyId, 'dkg-state'), stateKey, output.secret, scope),
      };
    });
    const { stateSeconds, sessionSeconds } = dkgLifetimes(ctx.limits);
    const record: DkgSessionRecord = { keyId: keygen.keyId, status: 'started', round1Hash: ownRound1Hash(created) };
    state = await writeOrAdopt(
      async () => {
        // One transaction: the state and the marker that outlives it appear together.
        await ctx.tables.backend.write(
          [
            ctx.tables.dkgStates.putOperation(stateKey, created, 1, { kind: 'absent' }, stateSeconds),
            ctx.tables.dkgSessions.putOperation(partyKeys.dkgSession(session), record, 1, { kind: 'absent' }, sessionSeconds),
          ],
          ctx.nowSeconds(),
        );
        return created;
      },
      // A concurrent delivery of the same start won the race: answer with its package.
      async () => (await ctx.tables.dkgStates.get(stateKey))?.value,
    );
  } else if (marker?.value.round1Hash !== undefined && marker.value.round1Hash !== ownRound1Hash(state)) {
    // Both were written in one transaction: a mismatch means the table was altered.
    throw new StoredStateError('stored DKG state does not match the round-1 package recorded for this session');
  }
  await ctx.send(MessageType.dkgRound1, session, { keyId: keygen.keyId, package: state.ownPackage, ephemeralKey: state.ephemeralKey });
}
