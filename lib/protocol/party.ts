/**
 * A party's round logic. One call of `handle()` is one inbound message: authenticated,
 * checked against this party's own policy, applied idempotently to stored state, answered.
 *
 * Redelivery is normal (SQS is at least once): every handler first looks for the state its
 * earlier run left and, if found, answers again from it instead of drawing new randomness.
 * The message id is remembered only after the work is done, so a crash mid-round leaves
 * the message to be redelivered and completed.
 */
import { z } from 'zod';
import { ConditionFailedError, NonceReuseError, RefusalCode, RefusedError } from '../ports/errors.js';
import type { Clock } from '../ports/clock.js';
import type { KeyVault } from '../ports/key-vault.js';
import { retryOnConflict, type ItemBackend, type WriteOperation } from '../ports/store.js';
import type { Transport } from '../ports/transport.js';
import { DEFAULT_LIMITS, dkgLifetimes, type Directory, type Limits } from './directory.js';
import { assertApprovalQuorum } from './approvals.js';
import { AuditLog } from './audit.js';
import { bytesToHex, concatBytes, decodeHex, hashCanonical, sha256Hex } from './encoding.js';
import { authenticateEnvelope, createEnvelope, parseBody, verifyRelayed } from './envelope.js';
import {
  commitmentFromWire,
  commitmentToWire,
  invalidCommitment,
  publicFromWire,
  publicPackageHash,
  publicToWire,
  round1FromWire,
  round1ToWire,
  round1TranscriptHash,
  signingPackageHash,
  sortCommitments,
} from './frost-wire.js';
import { silentLogger, type Logger } from './logger.js';
import {
  COORDINATOR,
  EnvelopeSchema,
  MessageType,
  type BodyOf,
  type DkgRound1Body,
  type Envelope,
  type KeygenRequestBody,
  type NonceCommitment,
  type SealedShare,
} from './messages.js';
import {
  partyKeys,
  PartyTables,
  type ConsumedNonceRecord,
  type DkgSessionRecord,
  type DkgStateRecord,
  type KeyShareRecord,
  type StoredRefusal,
} from './party-state.js';
import { RateLimiter } from './rate-limit.js';
import { ReplayGuard } from './replay-guard.js';
import {
  assertMayKeygen,
  assertMaySign,
  keyRules,
  requestFingerprint,
  verifyKeygenRequest,
  verifySignRequest,
  type PartyPolicy,
} from './requests.js';
import { openSecret, sealSecret, secretContext } from './sealed-item.js';
import { commitRound1 } from './nonce-generation.js';
import { withSecretScope, type SecretScope, type SecretScopeObserver } from './secret-scope.js';
import { ephemeralPublicKey, newEphemeralSecret, openShare, sealShare } from './share-sealing.js';
import { ed25519Suite, type Suite } from './suite.js';

export interface PartyDeps {
  readonly id: string;
  readonly vault: KeyVault;
  readonly store: ItemBackend;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly policy: PartyPolicy;
  readonly limits?: Limits;
  readonly suite?: Suite;
  readonly logger?: Logger;
  /** Test hook: sees every secret scope after it was wiped. */
  readonly onSecretsWiped?: SecretScopeObserver;
}

export type HandleOutcome =
  | { readonly status: 'processed'; readonly type: string; readonly session: string }
  | { readonly status: 'refused'; readonly code: string; readonly reason: string; readonly type?: string; readonly session?: string };

const SCALAR_BYTES = 32;

/** What a party sends: each of these bodies carries an audit anchor. */
type PartyMessageType =
  | typeof MessageType.dkgRound1
  | typeof MessageType.dkgShares
  | typeof MessageType.dkgDone
  | typeof MessageType.signCommitment
  | typeof MessageType.signShare
  | typeof MessageType.partyRefused;

const KEYGEN_INBOUND = new Set<string>([
  MessageType.dkgStart,
  MessageType.dkgRound2,
  MessageType.dkgRound3,
  MessageType.dkgConfirm,
  MessageType.dkgAbort,
]);

/** Message types a party accepts, all from the coordinator. */
const PARTY_INBOUND = new Set<string>([...KEYGEN_INBOUND, MessageType.signCommit, MessageType.signPackage]);

/** Every keygen message to a party carries the initiator's signed request. */
const RequestCarrier = z.object({ request: EnvelopeSchema });

/** What round 3 comes to: this party's share, or an accusation with its evidence. */
type Round3Outcome =
  | { readonly kind: 'share'; readonly record: KeyShareRecord }
  | { readonly kind: 'accuse'; readonly accused: string; readonly reason: string; readonly ephemeralSecret: string };

/** A keygen refusal after which this party has abandoned the session for good. */
class KeygenAbandonedError extends RefusedError {
  override readonly name = 'KeygenAbandonedError';
  constructor(readonly refusal: StoredRefusal) {
    super(refusal.code, refusal.reason);
  }
}

/** What this party published in round 1: it never publishes another package for the session. */
function ownRound1Hash(state: DkgStateRecord): string {
  return hashCanonical({ package: state.ownPackage, ephemeralKey: state.ephemeralKey });
}

export class Party {
  readonly id: string;
  readonly #deps: PartyDeps;
  readonly #tables: PartyTables;
  readonly #audit: AuditLog;
  readonly #rates: RateLimiter;
  readonly #replays: ReplayGuard;
  readonly #limits: Limits;
  readonly #suite: Suite;
  readonly #log: Logger;
  readonly #identifiers = new Map<string, string>();
  readonly #nowSeconds: () => number;

  constructor(deps: PartyDeps) {
    this.id = deps.id;
    this.#deps = deps;
    this.#limits = deps.limits ?? DEFAULT_LIMITS;
    this.#suite = deps.suite ?? ed25519Suite;
    this.#log = deps.logger ?? silentLogger;
    const nowSeconds = () => Math.floor(deps.clock.now() / 1000);
    this.#nowSeconds = nowSeconds;
    this.#tables = new PartyTables(deps.store, nowSeconds);
    this.#audit = new AuditLog(deps.store, deps.id, nowSeconds);
    this.#rates = new RateLimiter(deps.store, nowSeconds);
    this.#replays = new ReplayGuard(deps.store, this.#limits, nowSeconds);
  }

  /** This party's audit trail (hash-chained decisions). */
  get audit(): AuditLog {
    return this.#audit;
  }

  /** The FROST identifier of a party: derived from its name, so no numbering has to agree. */
  identifierOf(party: string): string {
    let identifier = this.#identifiers.get(party);
    if (identifier === undefined) {
      identifier = this.#suite.frost.Identifier.derive(party);
      this.#identifiers.set(party, identifier);
    }
    return identifier;
  }

  /**
   * Handles one inbound message. Returns `refused` for input that can never be accepted
   * (the caller acknowledges it); throws for failures worth a redelivery.
   */
  async handle(raw: string): Promise<HandleOutcome> {
    let envelope: Envelope | undefined;
    try {
      envelope = authenticateEnvelope(raw, {
        self: this.id,
        directory: this.#deps.directory,
        limits: this.#limits,
        now: this.#deps.clock.now(),
        senderRole: (type) => (PARTY_INBOUND.has(type) ? 'coordinator' : undefined),
      });
      await this.#replays.assertNotSeen(envelope);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      this.#log.warn('message refused', { party: this.id, code: error.code, reason: error.message, type: envelope?.type });
      return { status: 'refused', code: error.code, reason: error.message, type: envelope?.type, session: envelope?.session };
    }

    try {
      await this.#dispatch(envelope);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      await this.#reportRefusal(envelope, error);
      await this.#replays.remember(envelope);
      return { status: 'refused', code: error.code, reason: error.message, type: envelope.type, session: envelope.session };
    }
    await this.#replays.remember(envelope);
    this.#log.info('message processed', { party: this.id, type: envelope.type, session: envelope.session });
    return { status: 'processed', type: envelope.type, session: envelope.session };
  }

  async #dispatch(envelope: Envelope): Promise<void> {
    switch (envelope.type) {
      case MessageType.dkgStart:
        return this.#onDkgStart(envelope);
      case MessageType.dkgRound2:
        return this.#onDkgRound2(envelope);
      case MessageType.dkgRound3:
        return this.#onDkgRound3(envelope);
      case MessageType.dkgConfirm:
        return this.#onDkgConfirm(envelope);
      case MessageType.dkgAbort:
        return this.#onDkgAbort(envelope);
      case MessageType.signCommit:
        return this.#onSignCommit(envelope);
      case MessageType.signPackage:
        return this.#onSignPackage(envelope);
      default:
        throw new RefusedError(RefusalCode.wrongRound, `a party does not accept ${envelope.type}`);
    }
  }

  // ---- keygen ----------------------------------------------------------------------

  #requestContext(session: string) {
    return { directory: this.#deps.directory, limits: this.#limits, now: this.#deps.clock.now(), session };
  }

  /** Checks a keygen request this party is asked to take part in. */
  #checkKeygenRequest(request: Envelope, session: string): KeygenRequestBody {
    const body = verifyKeygenRequest(request, this.#requestContext(session));
    assertMayKeygen(this.#deps.policy, request.from);
    if (!body.parties.includes(this.id)) {
      throw new RefusedError(RefusalCode.wrongRecipient, `"${this.id}" is not a party of key "${body.keyId}"`);
    }
    for (const party of body.parties) {
      if (!Object.hasOwn(this.#deps.directory.parties, party)) {
        throw new RefusedError(RefusalCode.unknownSender, `key "${body.keyId}" names unknown party "${party}"`);
      }
    }
    return body;
  }

  /** The active share of a key and this session's pending share, as stored. */
  async #sharesOf(keyId: string, session: string) {
    const active = await this.#tables.keyShares.get(partyKeys.keyShare(keyId));
    const pending = await this.#tables.keyShares.get(partyKeys.pendingShare(keyId, session));
    return { active, pending, own: active?.value.session === session ? active.value : pending?.value };
  }

  /**
   * This session's share, pending or active, when round 3 already stored it (a late or
   * repeated message). Only an active share of another keygen takes the key id: pending
   * shares of keygens that never confirmed block nothing.
   */
  async #keyShareOfSession(keyId: string, session: string): Promise<KeyShareRecord | undefined> {
    const { active, own } = await this.#sharesOf(keyId, session);
    if (active !== undefined && active.value.session !== session) {
      throw new RefusedError(RefusalCode.conflict, `key "${keyId}" already exists from another keygen`);
    }
    return own;
  }

  /** The session's marker; refuses every message of a session this party abandoned or saw aborted. */
  async #openSession(session: string) {
    const marker = await this.#tables.dkgSessions.get(partyKeys.dkgSession(session));
    if (marker?.value.status === 'abandoned') {
      throw new KeygenAbandonedError(marker.value.refusal ?? { code: RefusalCode.sessionClosed, reason: 'this party abandoned this keygen session' });
    }
    if (marker?.value.status === 'aborted') {
      throw new RefusedError(RefusalCode.sessionClosed, 'this keygen session was aborted: another party abandoned it');
    }
    return marker;
  }

  async #onDkgStart(envelope: Envelope): Promise<void> {
    const { request } = parseBody(envelope, MessageType.dkgStart);
    const { keygen, done } = await this.#decide('keygen', envelope.session, request, async () => {
      const checked = this.#checkKeygenRequest(request, envelope.session);
      return { keygen: checked, done: await this.#keyShareOfSession(checked.keyId, envelope.session) };
    });
    if (done !== undefined) return;
    const marker = await this.#openSession(envelope.session);

    const stateKey = partyKeys.dkgState(envelope.session);
    let state = (await this.#tables.dkgStates.get(stateKey))?.value;
    if (state === undefined) {
      if (marker !== undefined) {
        // Round 1 was produced for this session and its state is gone (expired, or reaped): a second,
        // different round-1 package for one session is never published.
        throw new RefusedError(RefusalCode.sessionClosed, 'this party already produced round 1 of this keygen session and its round state is gone; use a new request id');
      }
      const created = await this.#withSecrets((scope) => this.#createDkgState(envelope.session, keygen, scope));
      const { stateSeconds, sessionSeconds } = dkgLifetimes(this.#limits);
      const record: DkgSessionRecord = { keyId: keygen.keyId, status: 'started', round1Hash: ownRound1Hash(created) };
      try {
        // One transaction: the state and the marker that outlives it appear together.
        await this.#tables.backend.write(
          [
            this.#tables.dkgStates.putOperation(stateKey, created, 1, { kind: 'absent' }, stateSeconds),
            this.#tables.dkgSessions.putOperation(partyKeys.dkgSession(envelope.session), record, 1, { kind: 'absent' }, sessionSeconds),
          ],
          this.#nowSeconds(),
        );
        state = created;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        // A concurrent delivery of the same start won the race: answer with its package.
        state = (await this.#tables.dkgStates.get(stateKey))?.value;
        if (state === undefined) throw error;
      }
    } else if (marker?.value.round1Hash !== undefined && marker.value.round1Hash !== ownRound1Hash(state)) {
      // Both were written in one transaction: a mismatch means the table was altered.
      throw new Error('stored DKG state does not match the round-1 package recorded for this session');
    }
    await this.#send(MessageType.dkgRound1, envelope.session, {
      keyId: keygen.keyId,
      package: state.ownPackage,
      ephemeralKey: state.ephemeralKey,
    });
  }

  async #createDkgState(session: string, keygen: KeygenRequestBody, scope: SecretScope): Promise<DkgStateRecord> {
    const { frost } = this.#suite;
    const signers = { min: keygen.threshold, max: keygen.parties.length };
    const round1 = frost.DKG.round1(this.identifierOf(this.id), signers);
    try {
      const ephemeral = newEphemeralSecret(scope);
      const coefficients = round1.secret.coefficients ?? [];
      const secret = scope.track(
        concatBytes(ephemeral, ...coefficients.map((c) => scope.track(frost.utils.Fn.toBytes(c)))),
      );
      const stateKey = partyKeys.dkgState(session);
      return {
        keyId: keygen.keyId,
        threshold: keygen.threshold,
        parties: [...keygen.parties],
        step: 1,
        ownPackage: round1ToWire(round1.public),
        ephemeralKey: bytesToHex(ephemeralPublicKey(ephemeral)),
        secret: await sealSecret(this.#deps.vault, this.#context(keygen.keyId, 'dkg-state'), stateKey, secret, scope),
      };
    } finally {
      frost.DKG.clean(round1.secret);
    }
  }

  /**
   * Verifies the relayed round-1 transcript: exactly one package per party, each signed by
   * that party, and our own package exactly as we sent it (else the coordinator altered it).
   */
  #verifyRound1Transcript(envelopes: readonly Envelope[], session: string, state: DkgStateRecord): Record<string, DkgRound1Body> {
    const byParty: Record<string, DkgRound1Body> = {};
    for (const relayed of envelopes) {
      const body = verifyRelayed(relayed, { type: MessageType.dkgRound1, session, directory: this.#deps.directory, role: 'party' });
      if (!state.parties.includes(relayed.from) || Object.hasOwn(byParty, relayed.from)) {
        throw new RefusedError(RefusalCode.protocol, `round-1 transcript has an unexpected or repeated package from "${relayed.from}"`);
      }
      // No blame from here: the coordinator checks key id and identifier on receipt, from
      // the same signed envelope, and attributes it there. This party's word adds nothing.
      if (body.keyId !== state.keyId || body.package.identifier !== this.identifierOf(relayed.from)) {
        throw new RefusedError(RefusalCode.protocol, `round-1 package from "${relayed.from}" is for another key or identifier`);
      }
      byParty[relayed.from] = body;
    }
    if (Object.keys(byParty).length !== state.parties.length) {
      throw new RefusedError(RefusalCode.protocol, `round-1 transcript has ${Object.keys(byParty).length} of ${state.parties.length} packages`);
    }
    const own = byParty[this.id];
    if (own === undefined || own.ephemeralKey !== state.ephemeralKey || hashCanonical(own.package) !== hashCanonical(state.ownPackage)) {
      throw new RefusedError(RefusalCode.protocol, 'round-1 transcript does not contain this party\'s package unchanged');
    }
    return byParty;
  }

  /** Rebuilds noble's DKG round state from the stored secret; runs round 2 (deterministic) on it. */
  #restoreDkgRound2(state: DkgStateRecord, secret: Uint8Array, round1: Record<string, DkgRound1Body>, scope: SecretScope) {
    const { frost } = this.#suite;
    const Fn = frost.utils.Fn;
    const coefficientBytes = secret.subarray(SCALAR_BYTES);
    const coefficients: bigint[] = [];
    for (let offset = 0; offset < coefficientBytes.length; offset += SCALAR_BYTES) {
      coefficients.push(Fn.fromBytes(coefficientBytes.subarray(offset, offset + SCALAR_BYTES)));
    }
    const dkgSecret = {
      identifier: Fn.fromBytes(decodeHex(this.identifierOf(this.id), 'identifier', SCALAR_BYTES)),
      coefficients,
      commitment: state.ownPackage.commitment.map((c) => decodeHex(c, 'commitment', 32)),
      signers: { min: state.threshold, max: state.parties.length },
      step: 1 as const,
    };
    const others = state.parties.filter((p) => p !== this.id).map((p) => round1FromWire(this.#required(round1, p).package));
    let outgoing: ReturnType<typeof frost.DKG.round2>;
    try {
      outgoing = frost.DKG.round2(dkgSecret, others);
    } catch (error) {
      frost.DKG.clean(dkgSecret);
      throw new RefusedError(RefusalCode.protocol, `a round-1 package was rejected: ${(error as Error).message}`);
    }
    for (const pkg of Object.values(outgoing)) scope.track(pkg.signingShare);
    return { dkgSecret, others, outgoing, ephemeral: secret.subarray(0, SCALAR_BYTES) };
  }

  async #onDkgRound2(envelope: Envelope): Promise<void> {
    const body = parseBody(envelope, MessageType.dkgRound2);
    const keygen = this.#checkKeygenRequest(body.request, envelope.session);
    if ((await this.#keyShareOfSession(keygen.keyId, envelope.session)) !== undefined) return;
    await this.#openSession(envelope.session);
    const stateKey = partyKeys.dkgState(envelope.session);
    const stored = await this.#tables.dkgStates.get(stateKey);
    if (stored === undefined) throw new RefusedError(RefusalCode.wrongRound, 'round 2 for a session without round-1 state');
    const state = stored.value;
    const round1 = this.#verifyRound1Transcript(body.round1, envelope.session, state);
    const round1Hash = round1TranscriptHash(round1);

    let shares = state.sharesOutput;
    if (state.step === 2) {
      if (state.round1Hash !== round1Hash) {
        throw new RefusedError(RefusalCode.conflict, 'round 2 repeated with a different round-1 transcript');
      }
    } else {
      shares = await this.#withSecrets(async (scope) => {
        const secret = await openSecret(this.#deps.vault, this.#context(state.keyId, 'dkg-state'), stateKey, state.secret, scope);
        const { dkgSecret, outgoing, ephemeral } = this.#restoreDkgRound2(state, secret, round1, scope);
        try {
          const sealed: Record<string, SealedShare> = {};
          for (const recipient of state.parties.filter((p) => p !== this.id)) {
            const share = outgoing[this.identifierOf(recipient)];
            if (share === undefined) throw new Error(`round 2 produced no share for "${recipient}"`);
            const recipientKey = decodeHex(this.#required(round1, recipient).ephemeralKey, 'ephemeralKey', 32);
            const binding = { session: envelope.session, keyId: state.keyId, sender: this.id, recipient };
            sealed[recipient] = sealShare(ephemeral, recipientKey, binding, share.signingShare, scope);
          }
          return sealed;
        } finally {
          this.#suite.frost.DKG.clean(dkgSecret);
        }
      });
      try {
        await this.#tables.dkgStates.replace(stateKey, { ...state, step: 2, round1Hash, sharesOutput: shares }, stored.version, dkgLifetimes(this.#limits).stateSeconds);
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        const winner = (await this.#tables.dkgStates.get(stateKey))?.value;
        if (winner?.step !== 2 || winner.round1Hash !== round1Hash) throw error;
        shares = winner.sharesOutput;
      }
    }
    if (shares === undefined) throw new Error('round-2 output missing from stored state');
    await this.#send(MessageType.dkgShares, envelope.session, { keyId: state.keyId, shares });
  }

  async #onDkgRound3(envelope: Envelope): Promise<void> {
    const body = parseBody(envelope, MessageType.dkgRound3);
    const keygen = this.#checkKeygenRequest(body.request, envelope.session);
    const done = await this.#keyShareOfSession(keygen.keyId, envelope.session);
    if (done !== undefined) return this.#sendDone(envelope.session, done);
    const marker = await this.#openSession(envelope.session);

    const stateKey = partyKeys.dkgState(envelope.session);
    const stored = await this.#tables.dkgStates.get(stateKey);
    if (stored === undefined || stored.value.step !== 2) {
      throw new RefusedError(RefusalCode.wrongRound, 'round 3 for a session that has not completed round 2');
    }
    const state = stored.value;
    const round1 = this.#verifyRound1Transcript(body.round1, envelope.session, state);
    if (round1TranscriptHash(round1) !== state.round1Hash) {
      throw new RefusedError(RefusalCode.conflict, 'round 3 carries a different round-1 transcript than round 2');
    }
    const sealedFrom = this.#verifySharesTranscript(body.shares, envelope.session, state);
    // Sealed under the active share's table key, so that confirmation promotes the pending
    // item by copying it (no decrypt and re-encrypt). The status field, not the AAD, tells
    // pending from active; a writer who could move the blob could flip that field anyway.
    const activeKey = partyKeys.keyShare(state.keyId);

    const outcome = await this.#withSecrets(async (scope): Promise<Round3Outcome> => {
      const secret = await openSecret(this.#deps.vault, this.#context(state.keyId, 'dkg-state'), stateKey, state.secret, scope);
      const { dkgSecret, others, ephemeral } = this.#restoreDkgRound2(state, secret, round1, scope);
      // The evidence of an accusation: public once sent, and sent only after abandoning.
      const accuse = (accused: string, reason: string): Round3Outcome => ({ kind: 'accuse', accused, reason, ephemeralSecret: bytesToHex(ephemeral) });
      try {
        const received: { sender: string; identifier: string; signingShare: Uint8Array }[] = [];
        for (const [sender, sealed] of Object.entries(sealedFrom)) {
          const senderKey = decodeHex(this.#required(round1, sender).ephemeralKey, 'ephemeralKey', 32);
          const binding = { session: envelope.session, keyId: state.keyId, sender, recipient: this.id };
          const share = openShare(ephemeral, senderKey, binding, sealed, scope);
          if (share === undefined) return accuse(sender, `sealed share from "${sender}" does not open`);
          received.push({ sender, identifier: this.identifierOf(sender), signingShare: share });
        }
        let key: ReturnType<Suite['frost']['DKG']['round3']>;
        try {
          key = this.#suite.frost.DKG.round3(dkgSecret, others, received);
        } catch (error) {
          // Round 3 says only that some share was wrong; find out whose (costs nothing on
          // the happy path, where round 3 has already checked every share).
          for (const { sender, signingShare } of received) {
            if (!this.#shareMatchesCommitment(signingShare, this.#required(round1, sender), state)) {
              return accuse(sender, `round-2 share from "${sender}" does not match its round-1 commitment`);
            }
          }
          throw new RefusedError(RefusalCode.protocol, `round 3 failed: ${(error as Error).message}`);
        }
        const signingShare = scope.track(key.secret.signingShare);
        const publicPackage = publicToWire(key.public);
        const record: KeyShareRecord = {
          keyId: state.keyId,
          session: envelope.session,
          suite: this.#suite.id,
          threshold: state.threshold,
          parties: [...state.parties],
          identifier: this.identifierOf(this.id),
          share: await sealSecret(this.#deps.vault, this.#context(state.keyId, 'key-share'), activeKey, signingShare, scope),
          publicPackage,
          publicPackageHash: publicPackageHash(publicPackage),
          groupKey: this.#required(publicPackage.commitments, 0),
          status: 'pending',
          createdAt: this.#deps.clock.now(),
        };
        return { kind: 'share', record };
      } finally {
        this.#suite.frost.DKG.clean(dkgSecret);
      }
    });

    if (outcome.kind === 'accuse') {
      const refusal: StoredRefusal = {
        code: RefusalCode.protocol,
        reason: outcome.reason,
        accusation: { accused: outcome.accused, evidence: { kind: 'dkg-share', ephemeralSecret: outcome.ephemeralSecret } },
      };
      // The ephemeral secret opens every share sent to this party in this session, so it is
      // revealed only once abandoning is durable: state deleted, marker `abandoned`, in one
      // transaction that excludes finishing. If a concurrent delivery finished the session
      // instead, nothing is revealed.
      const abandoned = await this.#abandon(envelope.session, state.keyId, refusal);
      if (abandoned === undefined) throw new RefusedError(RefusalCode.protocol, outcome.reason);
      throw new KeygenAbandonedError(abandoned);
    }
    const { record } = outcome;
    try {
      // One transaction: the pending share appears exactly when the round state disappears
      // and the session is marked finished (which excludes abandoning it).
      await this.#tables.backend.write(
        [
          this.#tables.keyShares.putOperation(partyKeys.pendingShare(record.keyId, envelope.session), record, 1, { kind: 'absent' }),
          { op: 'delete', key: stateKey, condition: { kind: 'version', version: stored.version } },
          this.#tables.dkgSessions.putOperation(
            partyKeys.dkgSession(envelope.session),
            { keyId: record.keyId, status: 'finished', ...(marker?.value.round1Hash !== undefined ? { round1Hash: marker.value.round1Hash } : {}) },
            (marker?.version ?? 0) + 1,
            marker !== undefined ? { kind: 'version', version: marker.version } : { kind: 'absent' },
            dkgLifetimes(this.#limits).sessionSeconds,
          ),
        ],
        this.#nowSeconds(),
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const winner = await this.#keyShareOfSession(record.keyId, envelope.session);
      if (winner === undefined) throw error;
      return this.#sendDone(envelope.session, winner);
    }
    await this.#sendDone(envelope.session, record);
  }

  /**
   * After a refused keygen message: abandons the session for good, so that the other
   * parties may drop their pending shares (see `#onDkgAbort`). Returns the refusal to send
   * with `abandoned: true` (an earlier one, if the session was already abandoned), or
   * undefined when this party cannot promise that: it holds a share of the session (it may
   * have sent `dkg.done`) or the session was aborted already.
   */
  async #abandon(session: string, keyId: string, refusal: StoredRefusal): Promise<StoredRefusal | undefined> {
    const markerKey = partyKeys.dkgSession(session);
    const stateKey = partyKeys.dkgState(session);
    return retryOnConflict(async () => {
      const marker = await this.#tables.dkgSessions.get(markerKey);
      if (marker?.value.status === 'abandoned') return marker.value.refusal ?? refusal;
      if (marker?.value.status === 'finished' || marker?.value.status === 'aborted') return undefined;
      // A share without a live marker (the marker expired): still no promise to make.
      if ((await this.#sharesOf(keyId, session)).own !== undefined) return undefined;
      const state = await this.#tables.dkgStates.get(stateKey);
      // The marker's version condition excludes a concurrent round 3 finishing the session.
      await this.#tables.backend.write(
        [
          this.#tables.dkgSessions.putOperation(
            markerKey,
            { keyId, status: 'abandoned', ...(marker?.value.round1Hash !== undefined ? { round1Hash: marker.value.round1Hash } : {}), refusal },
            (marker?.version ?? 0) + 1,
            marker !== undefined ? { kind: 'version', version: marker.version } : { kind: 'absent' },
            dkgLifetimes(this.#limits).sessionSeconds,
          ),
          ...(state !== undefined ? [{ op: 'delete' as const, key: stateKey, condition: { kind: 'version' as const, version: state.version } }] : []),
        ],
        this.#nowSeconds(),
      );
      this.#log.warn('keygen session abandoned', { party: this.id, session, code: refusal.code, accused: refusal.accusation?.accused });
      return refusal;
    });
  }

  /** The abandonment that follows refusing a keygen message whose request verifies, if any. */
  async #abandonAfterRefusal(envelope: Envelope, error: RefusedError): Promise<StoredRefusal | undefined> {
    if (error instanceof KeygenAbandonedError) return error.refusal;
    // A message whose request does not verify says nothing reliable about the session it names.
    const carried = RequestCarrier.safeParse(envelope.body);
    if (!carried.success) return undefined;
    let keygen: KeygenRequestBody;
    try {
      keygen = verifyKeygenRequest(carried.data.request, this.#requestContext(envelope.session));
    } catch (cause) {
      if (cause instanceof RefusedError) return undefined;
      throw cause;
    }
    if (!keygen.parties.includes(this.id)) return undefined;
    return this.#abandon(envelope.session, keygen.keyId, { code: error.code, reason: error.message.slice(0, 500) });
  }

  /**
   * RFC 9591 App. C.2 `vss_verify` for one sender's share: a share that does not match its
   * sender's round-1 commitment names that sender.
   */
  #shareMatchesCommitment(share: Uint8Array, senderRound1: DkgRound1Body, state: DkgStateRecord): boolean {
    const commitments = senderRound1.package.commitment.map((c, i) => decodeHex(c, `commitment[${i}]`, 32));
    try {
      this.#suite.frost.validateSecret(
        { identifier: this.identifierOf(this.id), signingShare: share },
        { signers: { min: state.threshold, max: state.parties.length }, commitments, verifyingShares: {} },
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * One signed `dkg.shares` from every other party, each carrying a share sealed to us.
   * No blame here: the coordinator checks on receipt, from the same signed envelope, that
   * each party's shares cover exactly the other parties of the key, and attributes it there.
   */
  #verifySharesTranscript(envelopes: readonly Envelope[], session: string, state: DkgStateRecord): Record<string, SealedShare> {
    const sealedFrom: Record<string, SealedShare> = {};
    for (const relayed of envelopes) {
      const body = verifyRelayed(relayed, { type: MessageType.dkgShares, session, directory: this.#deps.directory, role: 'party' });
      if (relayed.from === this.id || !state.parties.includes(relayed.from) || Object.hasOwn(sealedFrom, relayed.from)) {
        throw new RefusedError(RefusalCode.protocol, `unexpected or repeated shares from "${relayed.from}"`);
      }
      const sealed = Object.hasOwn(body.shares, this.id) ? body.shares[this.id] : undefined;
      if (body.keyId !== state.keyId || sealed === undefined) {
        throw new RefusedError(RefusalCode.protocol, `shares from "${relayed.from}" hold nothing for "${this.id}"`);
      }
      sealedFrom[relayed.from] = sealed;
    }
    if (Object.keys(sealedFrom).length !== state.parties.length - 1) {
      throw new RefusedError(RefusalCode.protocol, `round 3 has shares from ${Object.keys(sealedFrom).length} of ${state.parties.length - 1} parties`);
    }
    return sealedFrom;
  }

  async #sendDone(session: string, share: KeyShareRecord): Promise<void> {
    await this.#send(MessageType.dkgDone, session, {
      keyId: share.keyId,
      suite: share.suite,
      threshold: share.threshold,
      parties: [...share.parties].sort(),
      groupKey: share.groupKey,
      publicPackageHash: share.publicPackageHash,
      publicPackage: share.publicPackage,
    });
  }

  async #onDkgConfirm(envelope: Envelope): Promise<void> {
    const body = parseBody(envelope, MessageType.dkgConfirm);
    const keygen = this.#checkKeygenRequest(body.request, envelope.session);
    const { active, pending, own } = await this.#sharesOf(keygen.keyId, envelope.session);
    if (own === undefined) {
      throw new RefusedError(RefusalCode.wrongRound, `no share of key "${keygen.keyId}" from this session to confirm`);
    }
    const confirmed = new Set<string>();
    for (const relayed of body.done) {
      const done = verifyRelayed(relayed, { type: MessageType.dkgDone, session: envelope.session, directory: this.#deps.directory, role: 'party' });
      if (!keygen.parties.includes(relayed.from)) throw new RefusedError(RefusalCode.protocol, `confirmation from non-party "${relayed.from}"`);
      if (done.keyId !== keygen.keyId || done.publicPackageHash !== own.publicPackageHash) {
        throw new RefusedError(RefusalCode.conflict, `party "${relayed.from}" finished with a different public package`);
      }
      confirmed.add(relayed.from);
    }
    if (confirmed.size !== keygen.parties.length) {
      throw new RefusedError(RefusalCode.protocol, `only ${confirmed.size} of ${keygen.parties.length} parties confirmed`);
    }
    if (active?.value.session === envelope.session) return;
    const alreadyActive = () => new RefusedError(RefusalCode.conflict, `key "${keygen.keyId}" is already active from another keygen`);
    if (active !== undefined || pending === undefined) throw alreadyActive();
    const shareKey = partyKeys.keyShare(keygen.keyId);
    try {
      // One transaction: the share becomes active (taking the key id) exactly when its
      // pending item disappears, so an abort can no longer find it; and only if no other
      // keygen's share took the key id first.
      await this.#tables.backend.write(
        [
          this.#tables.keyShares.putOperation(shareKey, { ...pending.value, status: 'active' }, 1, { kind: 'absent' }),
          { op: 'delete', key: partyKeys.pendingShare(keygen.keyId, envelope.session), condition: { kind: 'version', version: pending.version } },
        ],
        this.#nowSeconds(),
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const winner = await this.#tables.keyShares.get(shareKey);
      if (winner?.value.session === envelope.session) return;
      if (winner !== undefined) throw alreadyActive();
      throw error;
    }
  }

  /**
   * Another party abandoned this keygen: its signed refusal, relayed unchanged, promises it
   * holds no share of the session and never will, so the keygen can never be confirmed and
   * this party's round state and pending share are dropped. Never on the coordinator's word
   * alone (the refusal must be signed by a party of this keygen and say `abandoned`), and
   * never an active share.
   */
  async #onDkgAbort(envelope: Envelope): Promise<void> {
    const body = parseBody(envelope, MessageType.dkgAbort);
    const keygen = this.#checkKeygenRequest(body.request, envelope.session);
    const refusal = verifyRelayed(body.refusal, { type: MessageType.partyRefused, session: envelope.session, directory: this.#deps.directory, role: 'party' });
    if (!keygen.parties.includes(body.refusal.from)) {
      throw new RefusedError(RefusalCode.protocol, `abort relays a refusal from "${body.refusal.from}", not a party of key "${keygen.keyId}"`);
    }
    if (refusal.abandoned !== true) {
      throw new RefusedError(RefusalCode.protocol, `the relayed refusal of "${body.refusal.from}" does not abandon the keygen, so it does not prove the keygen cannot finish`);
    }
    const markerKey = partyKeys.dkgSession(envelope.session);
    const stateKey = partyKeys.dkgState(envelope.session);
    await retryOnConflict(async () => {
      const { active, pending } = await this.#sharesOf(keygen.keyId, envelope.session);
      if (active?.value.session === envelope.session) {
        // Every party confirmed this keygen, the abandoning party included: its refusal contradicts its own dkg.done.
        this.#log.error('possible attack: abort of a keygen whose share is active', { party: this.id, session: envelope.session, abandonedBy: body.refusal.from });
        throw new RefusedError(RefusalCode.conflict, `key "${keygen.keyId}" is active from this keygen; an abort never deletes an active share`);
      }
      const marker = await this.#tables.dkgSessions.get(markerKey);
      const state = await this.#tables.dkgStates.get(stateKey);
      const closed = marker?.value.status === 'abandoned' || marker?.value.status === 'aborted';
      if (closed && pending === undefined && state === undefined) return; // nothing left: a repeated abort
      const deletions: WriteOperation[] = [];
      if (pending !== undefined) deletions.push({ op: 'delete', key: partyKeys.pendingShare(keygen.keyId, envelope.session), condition: { kind: 'version', version: pending.version } });
      if (state !== undefined) deletions.push({ op: 'delete', key: stateKey, condition: { kind: 'version', version: state.version } });
      // The marker turns `aborted` in the same transaction, so no later round 3 recreates a share.
      const next: DkgSessionRecord = closed && marker !== undefined
        ? marker.value
        : { keyId: keygen.keyId, status: 'aborted', ...(marker?.value.round1Hash !== undefined ? { round1Hash: marker.value.round1Hash } : {}) };
      await this.#tables.backend.write(
        [
          ...deletions,
          this.#tables.dkgSessions.putOperation(
            markerKey,
            next,
            (marker?.version ?? 0) + 1,
            marker !== undefined ? { kind: 'version', version: marker.version } : { kind: 'absent' },
            dkgLifetimes(this.#limits).sessionSeconds,
          ),
        ],
        this.#nowSeconds(),
      );
      this.#log.info('keygen aborted by another party\'s refusal', { party: this.id, session: envelope.session, abandonedBy: body.refusal.from, pendingShareDeleted: pending !== undefined });
    });
  }

  // ---- signing ---------------------------------------------------------------------

  /** Request, policy and key checks shared by both signing rounds. */
  async #checkSignRequest(request: Envelope, session: string) {
    const sign = verifySignRequest(request, this.#requestContext(session));
    const message = decodeHex(sign.message, 'message');
    assertMaySign(this.#deps.policy, request.from, sign.keyId, message.length);
    const share = await this.#tables.keyShares.get(partyKeys.keyShare(sign.keyId));
    if (share === undefined) throw new RefusedError(RefusalCode.unknownKey, `this party holds no share of key "${sign.keyId}"`);
    if (share.value.status !== 'active') {
      throw new RefusedError(RefusalCode.policy, `key "${sign.keyId}" is not confirmed by every party yet`);
    }
    return { sign, message, share: share.value, fingerprint: requestFingerprint(request) };
  }

  async #onSignCommit(envelope: Envelope): Promise<void> {
    const body = parseBody(envelope, MessageType.signCommit);
    const { sign, share, fingerprint } = await this.#decide('sign', envelope.session, body.request, async () => {
      const checked = await this.#checkSignRequest(body.request, envelope.session);
      await this.#checkSignRules(checked.sign, body.request.from, envelope.session);
      return checked;
    });
    const nonceKey = partyKeys.nonce(envelope.session, body.attempt);

    let commitment = (await this.#tables.nonces.get(nonceKey))?.value.commitment;
    if (commitment === undefined) {
      if ((await this.#tables.consumed.get(partyKeys.consumed(envelope.session, body.attempt))) !== undefined) {
        return; // this attempt's nonce is already spent; a late commit request needs no answer
      }
      const record = await this.#withSecrets(async (scope) => {
        const signingShare = await openSecret(this.#deps.vault, this.#context(sign.keyId, 'key-share'), partyKeys.keyShare(sign.keyId), share.share, scope);
        // RFC 9591 §5.1: nonces are hedged with the signing share and fresh CSPRNG output,
        // generated in buffers we own and wipe (noble's commit() leaves the share behind).
        const generated = commitRound1(this.#suite, { identifier: share.identifier, signingShare });
        const nonces = scope.alloc(2 * SCALAR_BYTES);
        nonces.set(scope.track(generated.nonces.hiding), 0);
        nonces.set(scope.track(generated.nonces.binding), SCALAR_BYTES);
        return {
          keyId: sign.keyId,
          attempt: body.attempt,
          requestFingerprint: fingerprint,
          commitment: commitmentToWire(generated.commitments),
          nonces: await sealSecret(this.#deps.vault, this.#context(sign.keyId, 'nonce'), nonceKey, nonces, scope),
        };
      });
      try {
        await this.#tables.nonces.create(nonceKey, record, this.#limits.nonceTtlSeconds);
        commitment = record.commitment;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        commitment = (await this.#tables.nonces.get(nonceKey))?.value.commitment;
        if (commitment === undefined) throw error;
      }
    }
    await this.#send(MessageType.signCommitment, envelope.session, { attempt: body.attempt, commitment });
  }

  async #onSignPackage(envelope: Envelope): Promise<void> {
    const body = parseBody(envelope, MessageType.signPackage);
    const { sign, message, share, fingerprint } = await this.#checkSignRequest(body.request, envelope.session);
    const commitments = this.#verifyCommitments(body.commitments, envelope.session, body.attempt, share);
    const packageHash = signingPackageHash({
      session: envelope.session,
      attempt: body.attempt,
      keyId: sign.keyId,
      message: sign.message,
      commitments,
    });
    const consumedKey = partyKeys.consumed(envelope.session, body.attempt);
    const nonceKey = partyKeys.nonce(envelope.session, body.attempt);

    const spent = await this.#tables.consumed.get(consumedKey);
    if (spent !== undefined) return this.#answerSpent(envelope.session, body.attempt, packageHash, fingerprint, spent.value);

    const nonce = await this.#tables.nonces.get(nonceKey);
    if (nonce === undefined) {
      throw new RefusedError(RefusalCode.wrongRound, 'no unused nonce for this session and attempt (expired or never committed)');
    }
    // The nonce was committed after this party checked one request (approvals, rate limit,
    // audit). The package must be for exactly that request, not another one the initiator
    // signed under the same request id (the fingerprint covers the key id too).
    await this.#assertSameRequest(envelope, body.request, nonce.value.requestFingerprint, body.attempt);
    const own = commitments.find((c) => c.identifier === share.identifier);
    // frost-rs habit: check our own commitment is in the package before touching the nonce.
    if (own === undefined || own.hiding !== nonce.value.commitment.hiding || own.binding !== nonce.value.commitment.binding) {
      throw new RefusedError(RefusalCode.protocol, 'signing package does not contain this party\'s commitment');
    }

    const signatureShare = await this.#withSecrets(async (scope) => {
      const signingShare = await openSecret(this.#deps.vault, this.#context(sign.keyId, 'key-share'), partyKeys.keyShare(sign.keyId), share.share, scope);
      const nonceBytes = await openSecret(this.#deps.vault, this.#context(sign.keyId, 'nonce'), nonceKey, nonce.value.nonces, scope);
      const nonces = { hiding: nonceBytes.subarray(0, SCALAR_BYTES), binding: nonceBytes.subarray(SCALAR_BYTES) };
      try {
        // Registered for wiping: if a concurrent delivery spends the nonce first, this share
        // (same nonce, maybe another package) must never be sent, and should not linger.
        const signatureShareBytes = scope.track(
          this.#suite.frost.signShare(
            { identifier: share.identifier, signingShare },
            publicFromWire(share.publicPackage),
            nonces,
            commitments.map(commitmentFromWire),
            message,
          ),
        );
        return bytesToHex(signatureShareBytes);
      } catch (error) {
        throw new RefusedError(RefusalCode.protocol, `signing package rejected: ${(error as Error).message}`);
      }
    });

    try {
      // The race this closes: two deliveries of different packages for one nonce. Only the
      // delivery that deletes the nonce also records what it was spent on; the other fails
      // its condition and is answered from that record (or refused) below.
      await this.#tables.backend.write(
        [
          { op: 'delete', key: nonceKey, condition: { kind: 'version', version: nonce.version } },
          this.#tables.consumed.putOperation(
            consumedKey,
            { requestFingerprint: fingerprint, packageHash, share: signatureShare },
            1,
            { kind: 'absent' },
            this.#limits.sessionTtlSeconds,
          ),
        ],
        Math.floor(this.#deps.clock.now() / 1000),
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const winner = await this.#tables.consumed.get(consumedKey);
      if (winner === undefined) throw error;
      return this.#answerSpent(envelope.session, body.attempt, packageHash, fingerprint, winner.value);
    }
    await this.#send(MessageType.signShare, envelope.session, { attempt: body.attempt, packageHash, share: signatureShare });
  }

  /**
   * Refuses (and audits) a signing package whose request is not the one the nonce was
   * committed for. The fingerprint covers the initiator, key id, message, request id and
   * approvals, so the key id is bound too.
   */
  async #assertSameRequest(envelope: Envelope, request: Envelope, committedFingerprint: string, attempt: number): Promise<void> {
    if (requestFingerprint(request) === committedFingerprint) return;
    this.#log.error('possible attack: signing package for another request than the committed one', { party: this.id, session: envelope.session, attempt });
    const error = new RefusedError(RefusalCode.requestMismatch, 'signing package is for another request than the one this party committed its nonce for');
    await this.#audit.append(`sign#${envelope.session}#${attempt}#mismatch#${requestFingerprint(request)}`, {
      ...this.#auditEntry('sign', envelope.session, request),
      decision: 'refused',
      code: error.code,
      reason: error.message,
    });
    throw error;
  }

  /** A spent nonce answers only the package (and request) it was spent on. */
  async #answerSpent(session: string, attempt: number, packageHash: string, fingerprint: string, spent: ConsumedNonceRecord): Promise<void> {
    if (spent.packageHash !== packageHash || spent.requestFingerprint !== fingerprint) {
      this.#log.error('possible attack: a different signing package for a spent nonce', { party: this.id, session, attempt });
      throw new NonceReuseError('nonce already spent on a different signing package; refusing (reuse would leak the share)');
    }
    await this.#send(MessageType.signShare, session, { attempt, packageHash, share: spent.share });
  }

  /** Each relayed commitment is signed by its party, for this session and attempt, once, and is made of valid elements. */
  #verifyCommitments(envelopes: readonly Envelope[], session: string, attempt: number, share: KeyShareRecord): NonceCommitment[] {
    const seen = new Set<string>();
    const list: NonceCommitment[] = [];
    for (const relayed of envelopes) {
      const body = verifyRelayed(relayed, { type: MessageType.signCommitment, session, directory: this.#deps.directory, role: 'party' });
      if (!share.parties.includes(relayed.from) || seen.has(relayed.from)) {
        throw new RefusedError(RefusalCode.protocol, `unexpected or repeated commitment from "${relayed.from}"`);
      }
      if (body.attempt !== attempt || body.commitment.identifier !== this.identifierOf(relayed.from)) {
        throw new RefusedError(RefusalCode.protocol, `commitment from "${relayed.from}" is for another attempt or identifier`);
      }
      // Before any nonce is touched: a bad element would make signShare fail with no culprit.
      const invalid = invalidCommitment(this.#suite, body.commitment, relayed.from);
      if (invalid !== undefined) throw invalid;
      seen.add(relayed.from);
      list.push(body.commitment);
    }
    if (list.length < share.threshold) {
      throw new RefusedError(RefusalCode.protocol, `signing package has ${list.length} commitments, threshold is ${share.threshold}`);
    }
    return sortCommitments(list);
  }

  /** Approval quorum and rate limit: checked once, when the party decides to commit. */
  async #checkSignRules(sign: { requestId: string; keyId: string; message: string; approvals?: { approver: string; sig: string }[] | undefined }, initiator: string, session: string): Promise<void> {
    const rules = keyRules(this.#deps.policy, sign.keyId);
    if (rules.approvals !== undefined) {
      const request = { initiator, requestId: sign.requestId, keyId: sign.keyId, message: sign.message };
      assertApprovalQuorum(rules.approvals, request, sign.approvals ?? [], this.#deps.directory);
    }
    if (rules.rateLimit !== undefined) {
      const admitted = await this.#rates.admit(`${sign.keyId}#${initiator}`, session, rules.rateLimit, this.#deps.clock.now());
      if (!admitted) {
        throw new RefusedError(
          RefusalCode.policy,
          `rate limit: "${initiator}" may sign at most ${rules.rateLimit.max} times per ${rules.rateLimit.windowSeconds} s with key "${sign.keyId}"`,
        );
      }
    }
  }

  /**
   * Runs the checks of a keygen or signing decision and appends the decision, approved or
   * refused, to the audit trail before anything is committed.
   */
  async #decide<T>(kind: 'keygen' | 'sign', session: string, request: Envelope, check: () => Promise<T>): Promise<T> {
    const entry = this.#auditEntry(kind, session, request);
    let result: T;
    try {
      result = await check();
    } catch (error) {
      if (error instanceof RefusedError) {
        await this.#audit.append(`${kind}#${session}#refused`, { ...entry, decision: 'refused', code: error.code, reason: error.message.slice(0, 500) });
      }
      throw error;
    }
    await this.#audit.append(`${kind}#${session}#approved`, { ...entry, decision: 'approved' });
    return result;
  }

  /** What the audit trail records of a request (never the message itself: its hash). */
  #auditEntry(kind: 'keygen' | 'sign', session: string, request: Envelope) {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 128) : '-');
    const message = body.message;
    return {
      kind,
      session,
      requestId: text(body.requestId),
      initiator: request.from,
      keyId: text(body.keyId),
      ...(kind === 'sign' && typeof message === 'string' && /^(?:[0-9a-f]{2})*$/.test(message)
        ? { messageSha256: sha256Hex(decodeHex(message, 'message')) }
        : {}),
      at: this.#deps.clock.now(),
    };
  }

  // ---- plumbing --------------------------------------------------------------------

  #context(keyId: string, purpose: 'key-share' | 'dkg-state' | 'nonce') {
    return secretContext(this.id, keyId, purpose);
  }

  #withSecrets<T>(work: (scope: SecretScope) => Promise<T>): Promise<T> {
    return withSecretScope(work, this.#deps.onSecretsWiped);
  }

  #required<T>(record: Readonly<Record<string | number, T>> | readonly T[], key: string | number): T {
    const value = (record as Record<string | number, T>)[key];
    if (value === undefined) throw new RefusedError(RefusalCode.protocol, `missing entry "${String(key)}"`);
    return value;
  }

  /** Sends to the coordinator; every party message carries this party's audit-chain head. */
  async #send<T extends PartyMessageType>(type: T, session: string, fields: Omit<BodyOf<T>, 'audit'>): Promise<void> {
    const body = { ...fields, audit: await this.#audit.head() } as BodyOf<T>;
    const envelope = await createEnvelope(this.#deps.vault, this.#deps.clock.now(), { type, session, from: this.id, to: COORDINATOR, body });
    await this.#deps.transport.send({ kind: 'coordinator' }, JSON.stringify(envelope));
  }

  /**
   * Tells the coordinator why a message was refused. Blame is never this party's word: a
   * keygen refusal may carry an accusation with evidence anyone can check (dkg-blame.ts),
   * and says `abandoned` when this party gave the session up for good.
   */
  async #reportRefusal(envelope: Envelope, error: RefusedError): Promise<void> {
    const attempt = (envelope.body as { attempt?: unknown }).attempt;
    this.#log.warn('request refused', { party: this.id, code: error.code, reason: error.message, type: envelope.type, session: envelope.session });
    const abandoned = KEYGEN_INBOUND.has(envelope.type) ? await this.#abandonAfterRefusal(envelope, error) : undefined;
    await this.#send(MessageType.partyRefused, envelope.session, {
      inResponseTo: envelope.type,
      ...(typeof attempt === 'number' ? { attempt } : {}),
      code: abandoned?.code ?? error.code,
      reason: (abandoned?.reason ?? error.message).slice(0, 500),
      ...(abandoned !== undefined ? { abandoned: true } : {}),
      ...(abandoned?.accusation !== undefined ? { accusation: abandoned.accusation } : {}),
      // Signing: name whose signed message failed (e.g. an invalid commitment). The evidence
      // is that party's own signed envelope, which the coordinator already holds and checks.
      ...(!KEYGEN_INBOUND.has(envelope.type) && error.blame[0] !== undefined ? { accusation: { accused: error.blame[0] } } : {}),
    });
  }

}
