/**
 * The coordinator: trusted for liveness, never for secrecy. It relays parties' signed
 * packages unchanged, fixes signer sets, checks nonce commitments on receipt and signature
 * shares (naming a cheater and going on without it), aggregates, checks the signature with
 * OpenSSL, and answers the initiator. It never sees a share or a nonce.
 *
 * Every inbound message is applied to the session with an optimistic-concurrency write, so
 * a phase transition happens exactly once however many deliveries race. What the
 * coordinator sends is derived from the session's phase: a transition sends the new phase's
 * messages; a redelivery of the very message that was recorded (a crash before sending)
 * sends them again; parties answer repeats idempotently.
 */
import type { Clock } from '../ports/clock.js';
import { AuditAnchors, type AnchorRecord } from './audit-anchors.js';
import { ConditionFailedError, RefusalCode, RefusedError } from '../ports/errors.js';
import type { KeyVault } from '../ports/key-vault.js';
import { retryOnConflict, type ItemBackend, type WriteOperation } from '../ports/store.js';
import type { Transport } from '../ports/transport.js';
import {
  CoordinatorTables,
  coordinatorKeys,
  type CommitmentUse,
  type KeyRecord,
  type KeygenSession,
  type Session,
  type SignSession,
} from './coordinator-state.js';
import { DEFAULT_LIMITS, type Directory, type Limits } from './directory.js';
import { judgeAccusation } from './dkg-blame.js';
import { bytesToHex, decodeHex, hashCanonical } from './encoding.js';
import { authenticateEnvelope, createEnvelope, deriveSessionId, parseBody } from './envelope.js';
import { commitmentFromWire, invalidCommitment, publicFromWire, publicPackageHash, signingPackageHash, sortCommitments } from './frost-wire.js';
import { silentLogger, type Logger } from './logger.js';
import {
  COORDINATOR,
  MessageType,
  type BodyOf,
  type Envelope,
  type KeygenRequestBody,
  type NonceCommitment,
  type PartyRefusedBody,
  type ResultError,
} from './messages.js';
import type { HandleOutcome } from './party.js';
import { assertKeygenShape, requestFingerprint } from './requests.js';
import { ReplayGuard } from './replay-guard.js';
import { ed25519Suite, type Suite } from './suite.js';

export interface CoordinatorDeps {
  readonly vault: KeyVault;
  readonly store: ItemBackend;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly limits?: Limits;
  readonly suite?: Suite;
  readonly logger?: Logger;
}

const FROM_INITIATOR = new Set<string>([MessageType.keygenRequest, MessageType.signRequest, MessageType.keyRequest]);
const FROM_PARTY = new Set<string>([
  MessageType.dkgRound1,
  MessageType.dkgShares,
  MessageType.dkgDone,
  MessageType.signCommitment,
  MessageType.signShare,
  MessageType.partyRefused,
]);

type ContributionField = 'round1' | 'shares' | 'done' | 'commitments';

/** A session the sweeper failed, and the phase it had stalled in. */
export interface StalledSession {
  readonly session: Session;
  readonly stalledIn: Session['phase'];
}

/** The outcome of applying one message: a new session to store, and whether to send again. */
interface Step<S extends Session> {
  readonly next?: S;
  /** The same message was recorded before (a crash before sending): send the phase again. */
  readonly resend: boolean;
  /** Written in the same transaction as `next` (commitment claims). */
  readonly claims?: readonly WriteOperation[];
  /** The message proved its sender faulty: `next` excludes it, and the message is refused once stored. */
  readonly refusal?: RefusedError;
}

export class Coordinator {
  readonly #deps: CoordinatorDeps;
  readonly #tables: CoordinatorTables;
  readonly #replays: ReplayGuard;
  readonly #anchors: AuditAnchors;
  readonly #limits: Limits;
  readonly #suite: Suite;
  readonly #log: Logger;

  constructor(deps: CoordinatorDeps) {
    this.#deps = deps;
    this.#limits = deps.limits ?? DEFAULT_LIMITS;
    this.#suite = deps.suite ?? ed25519Suite;
    this.#log = deps.logger ?? silentLogger;
    const nowSeconds = () => Math.floor(deps.clock.now() / 1000);
    this.#tables = new CoordinatorTables(deps.store, nowSeconds);
    this.#replays = new ReplayGuard(deps.store, this.#limits, nowSeconds);
    this.#anchors = new AuditAnchors(deps.store, nowSeconds);
  }

  /** The newest audit head `party` signed in a message to this coordinator (see audit-anchors.ts). */
  async auditAnchor(party: string): Promise<AnchorRecord | undefined> {
    return this.#anchors.latest(party);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    return (await this.#tables.keys.get(coordinatorKeys.key(keyId)))?.value;
  }

  async listKeys(): Promise<KeyRecord[]> {
    return this.#tables.keys.listByPrefix('key#');
  }

  async getSession(session: string): Promise<Session | undefined> {
    return (await this.#tables.sessions.get(coordinatorKeys.session(session)))?.value;
  }

  /**
   * Fails every session still open `stalledAfterMs` after it started and tells its
   * initiator why (code `timeout`, naming the phase and the parties that never answered).
   * Run by the scheduled sweeper. A session that finishes concurrently wins: the
   * transition is the same conditional write as every other.
   */
  async expireStalled(stalledAfterMs: number): Promise<StalledSession[]> {
    const now = this.#deps.clock.now();
    const expired: StalledSession[] = [];
    for (const candidate of await this.#tables.sessions.listByPrefix('session#')) {
      if (candidate.phase === 'done' || candidate.phase === 'failed' || now - candidate.createdAt < stalledAfterMs) continue;
      const sessionKey = coordinatorKeys.session(deriveSessionId(candidate.initiator, candidate.requestId));
      const failed = await retryOnConflict(async () => {
        const stored = await this.#tables.sessions.get(sessionKey);
        if (stored === undefined || stored.value.phase === 'done' || stored.value.phase === 'failed') return undefined;
        const next = { ...stored.value, phase: 'failed' as const, error: this.#timeoutError(stored.value, now) };
        await this.#tables.sessions.replace(sessionKey, next, stored.version, this.#limits.sessionTtlSeconds);
        return { session: next, stalledIn: stored.value.phase };
      });
      if (failed === undefined) continue;
      // No dkg.abort for a timed-out keygen: there is no signed refusal to prove that it can
      // never finish. Its pending shares stay behind but block no retry (only an active share
      // takes a key id at a party).
      this.#log.warn('session timed out', { session: sessionKey.pk, kind: failed.session.kind, stalledIn: failed.stalledIn, reason: failed.session.error?.message });
      // If this send fails the sweep fails (and alarms); the initiator can still fetch the
      // outcome by repeating its request id, which answers from the stored session.
      await this.#sendOutcome(failed.session, false);
      expired.push(failed);
    }
    return expired;
  }

  #timeoutError(session: Session, now: number): ResultError {
    const waitingFor = (() => {
      if (session.kind === 'keygen') {
        const field = session.phase === 'round1' ? session.round1 : session.phase === 'round2' ? session.shares : session.done;
        return session.parties.filter((p) => !Object.hasOwn(field, p));
      }
      return session.phase === 'sign' ? session.signers.filter((p) => !Object.hasOwn(session.shares, p)) : [];
    })();
    const minutes = Math.floor((now - session.createdAt) / 60_000);
    const missing = waitingFor.length > 0 ? `; no answer from ${waitingFor.join(', ')}` : '';
    return { code: 'timeout', message: `${session.kind} session stalled in phase ${session.phase} for ${minutes} min${missing}` };
  }

  async handle(raw: string): Promise<HandleOutcome> {
    let envelope: Envelope | undefined;
    try {
      envelope = authenticateEnvelope(raw, {
        self: COORDINATOR,
        directory: this.#deps.directory,
        limits: this.#limits,
        now: this.#deps.clock.now(),
        senderRole: (type) => (FROM_INITIATOR.has(type) ? 'initiator' : FROM_PARTY.has(type) ? 'party' : undefined),
      });
      // Authenticated party messages anchor the sender's audit head here, even if refused below.
      if (FROM_PARTY.has(envelope.type)) await this.#anchors.record(envelope);
      await this.#replays.assertNotSeen(envelope);
      if (FROM_INITIATOR.has(envelope.type)) await this.#onRequest(envelope);
      else await this.#onPartyMessage(envelope);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      this.#log.warn('message refused', { code: error.code, reason: error.message, type: envelope?.type, from: envelope?.from, blame: error.blame.length > 0 ? error.blame.join(', ') : undefined });
      if (envelope !== undefined && error.code !== RefusalCode.replayed) await this.#replays.remember(envelope);
      return { status: 'refused', code: error.code, reason: error.message, type: envelope?.type, session: envelope?.session };
    }
    await this.#replays.remember(envelope);
    return { status: 'processed', type: envelope.type, session: envelope.session };
  }

  // ---- request intake --------------------------------------------------------------

  /** Public key data for an initiator; nothing is stored, so repeats are harmless. */
  async #onKeyRequest(request: Envelope): Promise<void> {
    const body = parseBody(request, MessageType.keyRequest);
    const key = await this.getKey(body.keyId);
    await this.#send({ kind: 'initiator', id: request.from }, MessageType.keyResult, request.session, request.from, {
      requestId: body.requestId,
      keyId: body.keyId,
      ok: key !== undefined,
      ...(key !== undefined
        ? { publicKey: key.publicKey, threshold: key.threshold, parties: key.parties, attestations: key.attestations }
        : { error: { code: RefusalCode.unknownKey, message: `no key "${body.keyId}"` } }),
    });
  }

  async #onRequest(request: Envelope): Promise<void> {
    if (request.type === MessageType.keyRequest) return this.#onKeyRequest(request);
    const isKeygen = request.type === MessageType.keygenRequest;
    const requestId = (request.body as { requestId?: unknown }).requestId;
    const keyId = (request.body as { keyId?: unknown }).keyId;
    try {
      const body = isKeygen ? parseBody(request, MessageType.keygenRequest) : parseBody(request, MessageType.signRequest);
      if (request.session !== deriveSessionId(request.from, body.requestId)) {
        throw new RefusedError(RefusalCode.wrongSession, 'session is not derived from the initiator and request id');
      }
      const sessionKey = coordinatorKeys.session(request.session);
      const existing = await this.#tables.sessions.get(sessionKey);
      if (existing !== undefined) return await this.#onRepeatedRequest(request, existing.value);
      const session = isKeygen
        ? await this.#newKeygenSession(request, body as KeygenRequestBody)
        : await this.#newSignSession(request, body.keyId);
      try {
        await this.#tables.sessions.create(sessionKey, session, this.#limits.sessionTtlSeconds);
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        const winner = await this.#tables.sessions.get(sessionKey);
        if (winner === undefined) throw error;
        return await this.#onRepeatedRequest(request, winner.value);
      }
      this.#log.info('session started', { session: request.session, kind: session.kind, keyId: session.keyId, initiator: request.from });
      await this.#sendPhase(session);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      // The initiator is authenticated: tell it why, then acknowledge the request.
      await this.#sendResult(request, {
        kind: isKeygen ? 'keygen' : 'sign',
        requestId: typeof requestId === 'string' ? requestId : '-',
        keyId: typeof keyId === 'string' ? keyId : '-',
        duplicate: false,
        error: { code: error.code, message: error.message },
      });
      throw error;
    }
  }

  /** A repeated requestId: the same request gets the existing result, never a second run. */
  async #onRepeatedRequest(request: Envelope, session: Session): Promise<void> {
    if (session.requestFingerprint !== requestFingerprint(request)) {
      throw new RefusedError(RefusalCode.conflict, `request id "${session.requestId}" was already used for a different request`);
    }
    if (session.phase === 'done' || session.phase === 'failed') await this.#sendOutcome(session, true);
    // The very request that created the session, delivered again: the first delivery may
    // have stored the session and failed before sending the first round, which nothing
    // else would ever send. Parties answer repeated rounds idempotently.
    else if (session.request.id === request.id) await this.#sendPhase(session);
  }

  async #newKeygenSession(request: Envelope, body: KeygenRequestBody): Promise<KeygenSession> {
    assertKeygenShape(body);
    for (const party of body.parties) {
      if (!Object.hasOwn(this.#deps.directory.parties, party)) throw new RefusedError(RefusalCode.unknownSender, `unknown party "${party}"`);
    }
    if ((await this.getKey(body.keyId)) !== undefined) {
      throw new RefusedError(RefusalCode.conflict, `key "${body.keyId}" already exists`);
    }
    return {
      ...this.#sessionBase(request, body.requestId, body.keyId),
      kind: 'keygen',
      phase: 'round1',
      threshold: body.threshold,
      parties: [...body.parties].sort(),
      round1: {},
      shares: {},
      done: {},
    };
  }

  async #newSignSession(request: Envelope, keyId: string): Promise<SignSession> {
    const key = await this.getKey(keyId);
    if (key === undefined) throw new RefusedError(RefusalCode.unknownKey, `no key "${keyId}"`);
    const requestId = (request.body as { requestId: string }).requestId;
    return {
      ...this.#sessionBase(request, requestId, keyId),
      kind: 'sign',
      phase: 'commit',
      attempt: 1,
      excluded: [],
      commitments: {},
      signers: [],
      shares: {},
    };
  }

  #sessionBase(request: Envelope, requestId: string, keyId: string) {
    return {
      request,
      requestFingerprint: requestFingerprint(request),
      initiator: request.from,
      requestId,
      keyId,
      createdAt: this.#deps.clock.now(),
      refused: {},
    };
  }

  // ---- party messages --------------------------------------------------------------

  async #onPartyMessage(envelope: Envelope): Promise<void> {
    const sessionKey = coordinatorKeys.session(envelope.session);
    // Key records never change once written: read one at most once per message, not per retry.
    let key: KeyRecord | undefined;
    await retryOnConflict(async () => {
      const stored = await this.#tables.sessions.get(sessionKey);
      if (stored === undefined) throw new RefusedError(RefusalCode.wrongSession, `unknown session ${envelope.session}`);
      const session = stored.value;
      let step: Step<Session>;
      if (session.kind === 'keygen') {
        step = this.#applyKeygen(session, envelope);
      } else {
        key ??= await this.#requiredKey(session.keyId);
        // Read on every try: a concurrent session may have claimed the commitment meanwhile.
        step = this.#applySign(session, key, envelope, await this.#commitmentUse(key.keyId, envelope));
      }
      let next = step.next;
      if (next === undefined) {
        if (step.resend) await this.#sendPhase(session, key);
        return;
      }
      const ttl = this.#limits.sessionTtlSeconds;
      if (next.kind === 'keygen' && next.phase === 'done' && session.phase !== 'done' && (await this.getKey(next.keyId)) !== undefined) {
        // Another keygen for the same key id finished first (both were admitted while neither
        // had): this one fails instead of retrying a write that can never succeed.
        next = { ...next, phase: 'failed', error: { code: RefusalCode.conflict, message: `key "${next.keyId}" was created by another keygen meanwhile` } };
      }
      const operations = [this.#tables.sessions.putOperation(sessionKey, next, stored.version + 1, { kind: 'version', version: stored.version }, ttl)];
      if (next.kind === 'keygen' && next.phase === 'done' && session.phase !== 'done') {
        // The key record appears in the same transaction as the transition that creates it.
        operations.push(this.#tables.keys.putOperation(coordinatorKeys.key(next.keyId), this.#keyRecord(next), 1, { kind: 'absent' }));
      }
      // Commitment claims likewise: if another session claimed one first, the whole write
      // fails, and the retry reads that claim and refuses the commitment.
      operations.push(...(step.claims ?? []));
      await this.#tables.backend.write(operations, Math.floor(this.#deps.clock.now() / 1000));
      if (this.#moved(session, next) || step.resend) await this.#sendPhase(next, key);
      if (step.refusal !== undefined) throw step.refusal;
    });
  }

  /** Who used a `sign.commitment`'s hiding element for this key before, if anyone. */
  async #commitmentUse(keyId: string, envelope: Envelope): Promise<CommitmentUse | undefined> {
    if (envelope.type !== MessageType.signCommitment) return undefined;
    const { commitment } = parseBody(envelope, MessageType.signCommitment);
    return (await this.#tables.commitments.get(coordinatorKeys.commitment(keyId, commitment.hiding)))?.value;
  }

  async #requiredKey(keyId: string): Promise<KeyRecord> {
    const key = await this.getKey(keyId);
    if (key === undefined) throw new Error(`key record "${keyId}" missing for a signing session`);
    return key;
  }

  #moved(before: Session, after: Session): boolean {
    if (before.phase !== after.phase) return true;
    return before.kind === 'sign' && after.kind === 'sign' && before.attempt !== after.attempt;
  }

  /** Records one party's contribution to a round; duplicates and late arrivals change nothing. */
  #contribute<S extends Session, K extends ContributionField & keyof S>(
    session: S,
    field: K,
    phase: S['phase'],
    envelope: Envelope,
    accept: (next: S) => S,
  ): Step<S> {
    const contributions = session[field] as Record<string, Envelope>;
    const existing = contributions[envelope.from];
    if (existing !== undefined) {
      if (existing.id !== envelope.id && hashCanonical(existing.body) !== hashCanonical(envelope.body) && session.phase === phase) {
        throw new RefusedError(RefusalCode.conflict, `"${envelope.from}" sent two different ${envelope.type} messages`, { blame: envelope.from });
      }
      return { resend: existing.id === envelope.id };
    }
    if (session.phase !== phase) return { resend: false };
    const next = { ...session, [field]: { ...contributions, [envelope.from]: envelope } };
    return { next: accept(next), resend: false };
  }

  #applyKeygen(session: KeygenSession, envelope: Envelope): Step<KeygenSession> {
    if (!session.parties.includes(envelope.from)) {
      throw new RefusedError(RefusalCode.protocol, `"${envelope.from}" is not a party of key "${session.keyId}"`);
    }
    const all = (record: Record<string, Envelope>) => session.parties.every((p) => Object.hasOwn(record, p));
    switch (envelope.type) {
      case MessageType.dkgRound1: {
        const body = parseBody(envelope, MessageType.dkgRound1);
        if (
          body.keyId !== session.keyId ||
          body.package.commitment.length !== session.threshold ||
          body.package.identifier !== this.#suite.frost.Identifier.derive(envelope.from)
        ) {
          throw new RefusedError(RefusalCode.protocol, `round-1 package from "${envelope.from}" does not fit key "${session.keyId}"`, { blame: envelope.from });
        }
        return this.#contribute(session, 'round1', 'round1', envelope, (next) => (all(next.round1) ? { ...next, phase: 'round2' } : next));
      }
      case MessageType.dkgShares: {
        const body = parseBody(envelope, MessageType.dkgShares);
        const recipients = Object.keys(body.shares).sort();
        const expected = session.parties.filter((p) => p !== envelope.from);
        if (body.keyId !== session.keyId || JSON.stringify(recipients) !== JSON.stringify(expected)) {
          throw new RefusedError(RefusalCode.protocol, `shares from "${envelope.from}" do not cover exactly the other parties`, { blame: envelope.from });
        }
        return this.#contribute(session, 'shares', 'round2', envelope, (next) => (all(next.shares) ? { ...next, phase: 'round3' } : next));
      }
      case MessageType.dkgDone: {
        const body = parseBody(envelope, MessageType.dkgDone);
        if (
          body.keyId !== session.keyId ||
          body.suite !== this.#suite.id ||
          body.threshold !== session.threshold ||
          JSON.stringify(body.parties) !== JSON.stringify(session.parties) ||
          publicPackageHash(body.publicPackage) !== body.publicPackageHash ||
          body.publicPackage.commitments[0] !== body.groupKey
        ) {
          throw new RefusedError(RefusalCode.protocol, `dkg.done from "${envelope.from}" is inconsistent`, { blame: envelope.from });
        }
        return this.#contribute(session, 'done', 'round3', envelope, (next) => (all(next.done) ? this.#finishKeygen(next) : next));
      }
      case MessageType.partyRefused: {
        const body = parseBody(envelope, MessageType.partyRefused);
        if (Object.hasOwn(session.refused, envelope.from) || session.phase === 'done' || session.phase === 'failed') {
          // The very refusal that failed the session, delivered again (a crash before sending): send the aborts again.
          return { resend: session.abandonment?.id === envelope.id };
        }
        // DKG needs every party: one refusal ends the keygen.
        return {
          next: {
            ...session,
            refused: { ...session.refused, [envelope.from]: { code: body.code, reason: body.reason } },
            phase: 'failed',
            error: this.#keygenRefusalError(session, envelope, body),
            ...(body.abandoned === true ? { abandonment: envelope } : {}),
          },
          resend: false,
        };
      }
      default:
        throw new RefusedError(RefusalCode.wrongRound, `${envelope.type} does not belong to a keygen session`);
    }
  }

  /**
   * Why a refused keygen failed. A party's word never blames anyone: an accusation is judged
   * on the signed transcript this session holds (dkg-blame.ts), and one whose evidence does
   * not hold names the accuser.
   */
  #keygenRefusalError(session: KeygenSession, refusal: Envelope, body: PartyRefusedBody): ResultError {
    const refused = `party "${refusal.from}" refused: ${body.reason}`;
    if (body.accusation === undefined) return { code: body.code, message: refused };
    const verdict = judgeAccusation(
      refusal,
      { request: session.request, round1: Object.values(session.round1), shares: Object.values(session.shares) },
      { suite: this.#suite, directory: this.#deps.directory },
    );
    this.#log.warn('dkg accusation judged', {
      session: refusal.session,
      accuser: verdict.accuser,
      accused: verdict.accused,
      holds: verdict.holds,
      faulty: verdict.faulty,
      finding: verdict.finding,
    });
    if (verdict.holds) {
      return { code: body.code, message: `${refused}; the coordinator checked the evidence: ${verdict.finding}`, blame: [verdict.faulty] };
    }
    return { code: 'cheater-detected', message: `party "${refusal.from}" made an accusation its evidence does not support: ${verdict.finding}`, blame: [verdict.faulty] };
  }

  /** The key exists only if every party reports the same public package. */
  #finishKeygen(session: KeygenSession): KeygenSession {
    const hashes = new Set(Object.values(session.done).map((e) => parseBody(e, MessageType.dkgDone).publicPackageHash));
    if (hashes.size !== 1) {
      return { ...session, phase: 'failed', error: { code: 'dkg-mismatch', message: 'parties finished with different public packages' } };
    }
    const first = parseBody(this.#required(session.done, this.#required(session.parties, 0)), MessageType.dkgDone);
    return { ...session, phase: 'done', publicKey: first.groupKey };
  }

  #keyRecord(session: KeygenSession): KeyRecord {
    const done = parseBody(this.#required(session.done, this.#required(session.parties, 0)), MessageType.dkgDone);
    return {
      keyId: session.keyId,
      suite: this.#suite.id,
      threshold: session.threshold,
      parties: session.parties,
      publicKey: done.groupKey,
      publicPackage: done.publicPackage,
      publicPackageHash: done.publicPackageHash,
      attestations: session.parties.map((p) => this.#required(session.done, p)),
      createdBy: session.initiator,
      session: deriveSessionId(session.initiator, session.requestId),
      createdAt: this.#deps.clock.now(),
    };
  }

  /** `priorUse`: who used a `sign.commitment`'s hiding element for this key before, if anyone. */
  #applySign(session: SignSession, key: KeyRecord, envelope: Envelope, priorUse?: CommitmentUse): Step<SignSession> {
    if (!key.parties.includes(envelope.from)) {
      throw new RefusedError(RefusalCode.protocol, `"${envelope.from}" holds no share of key "${key.keyId}"`);
    }
    switch (envelope.type) {
      case MessageType.signCommitment: {
        const body = parseBody(envelope, MessageType.signCommitment);
        if (body.attempt !== session.attempt || session.excluded.includes(envelope.from)) return { resend: false };
        if (body.commitment.identifier !== this.#suite.frost.Identifier.derive(envelope.from)) {
          throw new RefusedError(RefusalCode.protocol, `commitment from "${envelope.from}" carries another identifier`, { blame: envelope.from });
        }
        const contribute = () =>
          this.#contribute(session, 'commitments', 'commit', envelope, (next) => {
            const committed = Object.keys(next.commitments).sort();
            // The first t to commit become the signers: fixed once, by this one transition.
            return committed.length >= key.threshold ? { ...next, phase: 'sign', signers: committed } : next;
          });
        // A repeat, a second commitment for this attempt, or one for a finished session:
        // #contribute answers those, and nothing from them can reach a signing package.
        if (Object.hasOwn(session.commitments, envelope.from) || session.phase === 'done' || session.phase === 'failed') return contribute();
        const use = { session: envelope.session, attempt: session.attempt, party: envelope.from };
        const fault = invalidCommitment(this.#suite, body.commitment, envelope.from) ?? this.#reuse(key, use, priorUse);
        if (fault !== undefined) return this.#excludeCommitter(session, key, envelope.from, fault);
        const step = contribute();
        if (step.next === undefined || priorUse !== undefined) return step;
        // RFC 9591 §7.3: the commitment is claimed for this key in the same transaction that
        // puts it into the session. No TTL: a claim must outlive every session of the key
        // (keys do not expire), and at about 100 bytes per signer per signature that is cheap.
        const claim = this.#tables.commitments.putOperation(coordinatorKeys.commitment(key.keyId, body.commitment.hiding), use, 1, { kind: 'absent' });
        return { ...step, claims: [claim] };
      }
      case MessageType.signShare: {
        const body = parseBody(envelope, MessageType.signShare);
        if (body.attempt !== session.attempt || !session.signers.includes(envelope.from)) return { resend: false };
        const existing = session.shares[envelope.from];
        if (existing !== undefined || session.phase !== 'sign') return { resend: existing?.id === envelope.id };
        const commitments = this.#signerCommitments(session);
        const message = this.#requestMessage(session);
        const expectedHash = signingPackageHash({ session: envelope.session, attempt: session.attempt, keyId: key.keyId, message, commitments });
        let valid: boolean;
        try {
          valid =
            body.packageHash === expectedHash &&
            this.#suite.frost.verifyShare(
              publicFromWire(key.publicPackage),
              commitments.map(commitmentFromWire),
              decodeHex(message, 'message'),
              this.#suite.frost.Identifier.derive(envelope.from),
              decodeHex(body.share, 'share', 32),
            );
        } catch {
          // A share that is no canonical scalar (≥ L) makes noble throw: RFC 9591 §3.1
          // DeserializeScalar fails, so it is an invalid share like any other. Everything
          // else verifyShare decodes was checked before (key record, commitments on receipt).
          valid = false;
        }
        if (!valid) {
          // RFC 9591 §5.4: an invalid share identifies its sender. Retry without it.
          this.#log.warn('invalid signature share', { session: envelope.session, blame: envelope.from, attempt: session.attempt });
          return { next: this.#nextAttempt({ ...session, excluded: [...session.excluded, envelope.from] }, key, 'cheater-detected'), resend: false };
        }
        const next = { ...session, shares: { ...session.shares, [envelope.from]: envelope } };
        return { next: session.signers.every((p) => Object.hasOwn(next.shares, p)) ? this.#aggregate(next, key) : next, resend: false };
      }
      case MessageType.partyRefused: {
        const body = parseBody(envelope, MessageType.partyRefused);
        if (Object.hasOwn(session.refused, envelope.from) || session.phase === 'done' || session.phase === 'failed') return { resend: false };
        if (body.code === RefusalCode.nonceReuse) {
          this.#log.error('party refused a second package for a spent nonce', { session: envelope.session, party: envelope.from });
        }
        const next = { ...session, refused: { ...session.refused, [envelope.from]: { code: body.code, reason: body.reason } } };
        const wasSigner = session.phase === 'sign' && session.signers.includes(envelope.from) && body.attempt === session.attempt;
        if (wasSigner || this.#eligible(next, key).length < key.threshold) return { next: this.#nextAttempt(next, key, body.code), resend: false };
        return { next, resend: false };
      }
      default:
        throw new RefusedError(RefusalCode.wrongRound, `${envelope.type} does not belong to a signing session`);
    }
  }

  /** A commitment already used elsewhere (another session, attempt or party) is refused, naming its sender. */
  #reuse(key: KeyRecord, use: CommitmentUse, priorUse: CommitmentUse | undefined): RefusedError | undefined {
    if (priorUse === undefined || (priorUse.session === use.session && priorUse.attempt === use.attempt && priorUse.party === use.party)) {
      return undefined;
    }
    return new RefusedError(
      RefusalCode.commitmentReused,
      `nonce commitment from "${use.party}" was already used with key "${key.keyId}" (session ${priorUse.session}, attempt ${priorUse.attempt})`,
      { blame: use.party },
    );
  }

  /**
   * A party whose fresh commitment proves it faulty is excluded for the session. Before the
   * signers are fixed, collecting goes on without it unless too few parties remain (then
   * the session fails naming it); after, it was not a signer, so nothing else changes.
   */
  #excludeCommitter(session: SignSession, key: KeyRecord, party: string, fault: RefusedError): Step<SignSession> {
    const next = { ...session, excluded: [...session.excluded, party] };
    const tooFew = session.phase === 'commit' && this.#eligible(next, key).length < key.threshold;
    return { next: tooFew ? this.#nextAttempt(next, key, fault.code) : next, resend: false, refusal: fault };
  }

  #eligible(session: SignSession, key: KeyRecord): string[] {
    return key.parties.filter((p) => !session.excluded.includes(p) && !Object.hasOwn(session.refused, p));
  }

  /** A fresh attempt with fresh nonces from the remaining parties, or failure if too few remain. */
  #nextAttempt(session: SignSession, key: KeyRecord, reason: string): SignSession {
    const eligible = this.#eligible(session, key);
    if (eligible.length < key.threshold) {
      const refusals = Object.entries(session.refused).map(([p, r]) => `"${p}": ${r.reason}`);
      const error: ResultError =
        session.excluded.length > 0
          ? { code: 'cheater-detected', message: `parties sent invalid nonce commitments or signature shares; ${eligible.length} honest parties remain, ${key.threshold} needed`, blame: [...session.excluded] }
          : { code: this.#commonCode(session) ?? reason, message: `refused by parties: ${refusals.join('; ')}` };
      return { ...session, phase: 'failed', error };
    }
    return { ...session, phase: 'commit', attempt: session.attempt + 1, commitments: {}, signers: [], shares: {} };
  }

  #commonCode(session: SignSession): string | undefined {
    const codes = new Set(Object.values(session.refused).map((r) => r.code));
    return codes.size === 1 ? [...codes][0] : undefined;
  }

  #aggregate(session: SignSession, key: KeyRecord): SignSession {
    const commitments = this.#signerCommitments(session);
    const message = decodeHex(this.#requestMessage(session), 'message');
    const shares = Object.fromEntries(
      session.signers.map((p) => [
        this.#suite.frost.Identifier.derive(p),
        decodeHex(parseBody(this.#required(session.shares, p), MessageType.signShare).share, 'share', 32),
      ]),
    );
    const signature = this.#suite.frost.aggregate(publicFromWire(key.publicPackage), commitments.map(commitmentFromWire), message, shares);
    // Released only after an independent implementation (OpenSSL) accepts it.
    if (!this.#suite.verifyFinal(decodeHex(key.publicKey, 'publicKey', 32), message, signature)) {
      return { ...session, phase: 'failed', error: { code: 'verification-failed', message: 'aggregated signature failed OpenSSL verification' } };
    }
    return { ...session, phase: 'done', signature: bytesToHex(signature) };
  }

  #signerCommitments(session: SignSession): NonceCommitment[] {
    return sortCommitments(session.signers.map((p) => parseBody(this.#required(session.commitments, p), MessageType.signCommitment).commitment));
  }

  #requestMessage(session: SignSession): string {
    return parseBody(session.request, MessageType.signRequest).message;
  }

  // ---- sending ---------------------------------------------------------------------

  /** Sends what the session's current phase calls for (`key`: the signing key, if already read). */
  async #sendPhase(session: Session, key?: KeyRecord): Promise<void> {
    const sessionId = deriveSessionId(session.initiator, session.requestId);
    const toParty = <T extends MessageType>(party: string, type: T, body: BodyOf<T>) =>
      this.#send({ kind: 'party', id: party }, type, sessionId, party, body);
    const request = session.request;
    if (session.kind === 'keygen') {
      const round1 = () => session.parties.map((p) => this.#required(session.round1, p));
      switch (session.phase) {
        case 'round1':
          return this.#all(session.parties, (p) => toParty(p, MessageType.dkgStart, { request }));
        case 'round2':
          return this.#all(session.parties, (p) => toParty(p, MessageType.dkgRound2, { request, round1: round1() }));
        case 'round3':
          return this.#all(session.parties, (p) =>
            toParty(p, MessageType.dkgRound3, {
              request,
              round1: round1(),
              shares: session.parties.filter((q) => q !== p).map((q) => this.#required(session.shares, q)),
            }),
          );
        case 'done': {
          const done = session.parties.map((p) => this.#required(session.done, p));
          await this.#all(session.parties, (p) => toParty(p, MessageType.dkgConfirm, { request, done }));
          return this.#sendOutcome(session, false);
        }
        case 'failed': {
          // A party abandoned the keygen: the others get its signed refusal, the proof that
          // the keygen can never finish, and drop their pending shares. Failures without one
          // (timeouts, mismatched public packages) leave pending shares that block no retry.
          const refusal = session.abandonment;
          if (refusal !== undefined) {
            await this.#all(
              session.parties.filter((p) => p !== refusal.from),
              (p) => toParty(p, MessageType.dkgAbort, { request, refusal }),
            );
          }
          return this.#sendOutcome(session, false);
        }
      }
    }
    switch (session.phase) {
      case 'commit': {
        const signingKey = key ?? (await this.#requiredKey(session.keyId));
        return this.#all(this.#eligible(session, signingKey), (p) => toParty(p, MessageType.signCommit, { request, attempt: session.attempt }));
      }
      case 'sign': {
        const commitments = session.signers.map((p) => this.#required(session.commitments, p));
        return this.#all(session.signers, (p) => toParty(p, MessageType.signPackage, { request, attempt: session.attempt, commitments }));
      }
      case 'done':
      case 'failed':
        return this.#sendOutcome(session, false, key);
    }
  }

  async #sendOutcome(session: Session, duplicate: boolean, key?: KeyRecord): Promise<void> {
    if (session.kind === 'keygen') {
      return this.#sendResult(session.request, {
        kind: 'keygen',
        requestId: session.requestId,
        keyId: session.keyId,
        duplicate,
        ...(session.phase === 'done' && session.publicKey !== undefined
          ? {
              publicKey: session.publicKey,
              threshold: session.threshold,
              parties: session.parties,
              attestations: session.parties.map((p) => this.#required(session.done, p)),
            }
          : { error: session.error ?? { code: 'failed', message: 'keygen failed' } }),
      });
    }
    const signingKey = session.phase === 'done' ? (key ?? (await this.getKey(session.keyId))) : undefined;
    return this.#sendResult(session.request, {
      kind: 'sign',
      requestId: session.requestId,
      keyId: session.keyId,
      duplicate,
      ...(session.phase === 'done' && session.signature !== undefined && signingKey !== undefined
        ? { signature: session.signature, publicKey: signingKey.publicKey, message: this.#requestMessage(session), signers: session.signers }
        : { error: session.error ?? { code: 'failed', message: 'signing failed' } }),
    });
  }

  async #sendResult(
    request: Envelope,
    result: {
      kind: 'keygen' | 'sign';
      requestId: string;
      keyId: string;
      duplicate: boolean;
      error?: ResultError;
      publicKey?: string;
      threshold?: number;
      parties?: string[];
      attestations?: Envelope[];
      signature?: string;
      message?: string;
      signers?: string[];
    },
  ): Promise<void> {
    const { kind, ...fields } = result;
    const ok = fields.error === undefined;
    const destination = { kind: 'initiator' as const, id: request.from };
    if (kind === 'keygen') {
      const { signature: _s, message: _m, signers: _g, ...body } = fields;
      await this.#send(destination, MessageType.keygenResult, request.session, request.from, { ...body, ok });
    } else {
      const { threshold: _t, parties: _p, attestations: _a, ...body } = fields;
      await this.#send(destination, MessageType.signResult, request.session, request.from, { ...body, ok });
    }
  }

  async #send<T extends MessageType>(
    destination: Parameters<Transport['send']>[0],
    type: T,
    session: string,
    to: string,
    body: BodyOf<T>,
  ): Promise<void> {
    const envelope = await createEnvelope(this.#deps.vault, this.#deps.clock.now(), { type, session, from: COORDINATOR, to, body });
    await this.#deps.transport.send(destination, JSON.stringify(envelope));
  }

  async #all(parties: readonly string[], send: (party: string) => Promise<void>): Promise<void> {
    await Promise.all(parties.map(send));
  }

  #required<T>(record: Readonly<Record<string | number, T>> | readonly T[], key: string | number): T {
    const value = (record as Record<string | number, T>)[key];
    if (value === undefined) throw new Error(`session is missing "${String(key)}"`);
    return value;
  }

}
