/**
 * The coordinator: trusted for liveness, never for secrecy. It relays parties' signed
 * packages unchanged, fixes signer sets, checks nonce commitments on receipt and signature
 * shares (naming a cheater and going on without it), aggregates, checks the signature with
 * OpenSSL, and answers the initiator. It never sees a share or a nonce.
 *
 * This file is the I/O around pure transitions (keygen/coordinator-*.ts, sign/coordinator-*.ts):
 * it authenticates, dispatches, stores each step with an optimistic-concurrency write, and
 * sends. A phase transition happens exactly once however many deliveries race. What is sent
 * is derived from the session's phase: a transition sends the new phase's messages; a
 * redelivery of the very message that was recorded (a crash before sending) sends them
 * again; parties answer repeats idempotently.
 */
import { coordinatorPrefetch, signingPrefetch } from './coordinator-prefetch.js';
import { MessageReads } from './message-reads.js';
import { RefusalCode, RefusedError, StoredStateError } from '../ports/errors.js';
import { retryOnConflict } from '../ports/store.js';
import { AuditAnchors, type AnchorRecord } from './audit-anchors.js';
import { CoordinatorIO, type CoordinatorDeps } from './coordinator-io.js';
import { onRequest } from './coordinator-requests.js';
import { coordinatorKeys, type CommitmentUse, type KeyRecord, type Session } from './coordinator-state.js';
import { moved, type Step, type TransitionContext } from './coordinator-step.js';
import { expireStalled, fallBackPooled, forgetPools, type StalledSession } from './coordinator-sweep.js';
import { authenticateEnvelope, parseBody } from './envelope.js';
import { applyKeygen } from './keygen/coordinator-apply.js';
import { keyCreatedMeanwhile } from './keygen/coordinator-finish.js';
import { noncePoolSettings } from './directory.js';
import { COORDINATOR, INITIATOR_REQUEST_TYPES, MessageType, type Envelope } from './messages.js';
import type { HandleOutcome } from './party.js';
import { ReplayGuard } from './replay-guard.js';
import { coordinatorMarksProcessed, coordinatorMarksReplays } from './replay-exemptions.js';
import { applySign } from './sign/coordinator-apply.js';
import { restartAtEpoch } from './sign/coordinator-attempt.js';
import { onPoolBatch } from './sign/coordinator-pool-batch.js';
import { applyReshare } from './reshare/coordinator-apply.js';
import { isFinished } from './coordinator-timeout.js';

export type { CoordinatorDeps, StalledSession };

/** What initiators send the coordinator: keygen and sign requests, and public-key lookups. */
/** What initiators send the coordinator: the same set the request intake admits. */
export const COORDINATOR_INBOUND_FROM_INITIATOR: ReadonlySet<string> = INITIATOR_REQUEST_TYPES;
/** What parties send the coordinator. */
export const COORDINATOR_INBOUND_FROM_PARTY: ReadonlySet<string> = new Set<string>([
  MessageType.dkgRound1,
  MessageType.dkgShares,
  MessageType.dkgDone,
  MessageType.signCommitment,
  MessageType.signShare,
  MessageType.reshareRound1,
  MessageType.reshareDealing,
  MessageType.reshareDone,
  MessageType.partyRefused,
  MessageType.poolBatch,
]);

export class Coordinator {
  readonly #io: CoordinatorIO;
  readonly #replays: ReplayGuard;
  readonly #anchors: AuditAnchors;

  readonly #reads: MessageReads;

  constructor(deps: CoordinatorDeps) {
    // Each item is read once per message (message-reads.ts); nothing is kept between messages.
    this.#reads = new MessageReads(deps.store);
    this.#io = new CoordinatorIO({ ...deps, store: this.#reads }, (keys) => this.#reads.prefetch(keys));
    const nowSeconds = () => this.#io.nowSeconds();
    this.#replays = new ReplayGuard(this.#reads, this.#io.limits, nowSeconds);
    this.#anchors = new AuditAnchors(this.#reads, nowSeconds);
  }

  /** The newest audit head `party` signed in a message to this coordinator (see audit-anchors.ts). */
  async auditAnchor(party: string): Promise<AnchorRecord | undefined> {
    return this.#anchors.latest(party);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    return this.#io.getKey(keyId);
  }

  async listKeys(): Promise<KeyRecord[]> {
    // A key's partition also holds its refresh/reshare lock: only the records themselves.
    const { pk, sk } = coordinatorKeys.key('');
    return this.#io.tables.keys.listByPrefix(pk, sk);
  }

  async getSession(session: string): Promise<Session | undefined> {
    return (await this.#io.tables.sessions.get(coordinatorKeys.session(session)))?.value;
  }

  /** Fails sessions stalled for `stalledAfterMs` and tells their initiators (coordinator-sweep.ts). */
  async expireStalled(stalledAfterMs: number): Promise<StalledSession[]> {
    return expireStalled(this.#io, stalledAfterMs);
  }

  /** Moves one-round attempts open for `waitedMs` to two rounds now (coordinator-sweep.ts); how many moved. */
  async fallBackPooled(waitedMs: number): Promise<number> {
    return fallBackPooled(this.#io, waitedMs);
  }

  async handle(raw: string): Promise<HandleOutcome> {
    return this.#reads.run(() => this.#handle(raw));
  }

  async #handle(raw: string): Promise<HandleOutcome> {
    let envelope: Envelope | undefined;
    try {
      envelope = authenticateEnvelope(raw, {
        self: COORDINATOR,
        directory: this.#io.deps.directory,
        limits: this.#io.limits,
        now: this.#io.now(),
        senderRole: (type) => (COORDINATOR_INBOUND_FROM_INITIATOR.has(type) ? 'initiator' : COORDINATOR_INBOUND_FROM_PARTY.has(type) ? 'party' : undefined),
      });
      await this.#reads.prefetch(coordinatorPrefetch(envelope, COORDINATOR_INBOUND_FROM_PARTY.has(envelope.type), noncePoolSettings(this.#io.limits) !== undefined));
      if (COORDINATOR_INBOUND_FROM_INITIATOR.has(envelope.type)) {
        await this.#replays.assertNotSeen(envelope);
        await onRequest(this.#io, envelope);
      } else {
        // Authenticated party messages anchor the sender's audit head, even if refused below:
        // in the session's own write when there is one, else on its own before returning. Not
        // on an infrastructure failure: the message comes back and is anchored then, and a
        // second write here would only hide the original error behind its own.
        const anchor = { envelope, written: false };
        try {
          if (coordinatorMarksReplays(envelope.type)) await this.#replays.assertNotSeen(envelope);
          await this.#onPartyMessage(envelope, anchor);
        } catch (error) {
          if (error instanceof RefusedError && !anchor.written) await this.#anchors.record(envelope);
          throw error;
        }
        if (!anchor.written) await this.#anchors.record(envelope);
      }
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      const blame = error.blame.length > 0 ? error.blame.join(', ') : undefined;
      this.#io.log.warn('message refused', { code: error.code, reason: error.message, type: envelope?.type, from: envelope?.from, blame });
      if (envelope !== undefined && error.code !== RefusalCode.replayed && coordinatorMarksReplays(envelope.type)) await this.#replays.remember(envelope);
      return { status: 'refused', code: error.code, reason: error.message, type: envelope?.type, session: envelope?.session };
    }
    if (coordinatorMarksProcessed(envelope.type, this.#io.limits)) await this.#replays.remember(envelope);
    return { status: 'processed', type: envelope.type, session: envelope.session };
  }

  // ---- party messages: the write loop ------------------------------------------------

  async #onPartyMessage(envelope: Envelope, anchor: { readonly envelope: Envelope; written: boolean }): Promise<void> {
    const io = this.#io;
    if (envelope.type === MessageType.poolBatch) {
      // A batch belongs to no session (its `session` is the batch id): its own write, with the anchor.
      anchor.written = await onPoolBatch(io, envelope, () => this.#anchors.recordOperations(anchor.envelope));
      return;
    }
    const sessionKey = coordinatorKeys.session(envelope.session);
    // Read one at most once per message, not per retry (a reshare session reads its key with its version on every try).
    let key: KeyRecord | undefined;
    await retryOnConflict(async () => {
      const stored = await io.tables.sessions.get(sessionKey);
      if (stored === undefined) throw new RefusedError(RefusalCode.wrongSession, `unknown session ${envelope.session}`);
      const session = stored.value;
      if (session.kind !== 'keygen') {
        // The key record and this commitment's claim in one round trip (the first try only).
        if (key === undefined) await this.#reads.prefetch(signingPrefetch(session.keyId, envelope));
        key ??= await io.requiredKey(session.keyId);
      }
      // Every size and check of the session comes from its key's suite, fixed at keygen.
      const suite = await io.suiteOf(key?.suite ?? parseBody(session.request, MessageType.keygenRequest).suite);
      const context: TransitionContext = { suite, directory: io.deps.directory, now: io.now() };
      let step: Step<Session>;
      // A refresh/reshare writes the key record: read with its version on every try.
      const storedKey = session.kind === 'reshare' ? await io.tables.keys.get(coordinatorKeys.key(session.keyId)) : undefined;
      if (session.kind === 'keygen') {
        step = applyKeygen(session, envelope, context);
      } else if (session.kind === 'reshare') {
        if (storedKey === undefined) throw new StoredStateError(`key record "${session.keyId}" missing for a reshare session`);
        key = storedKey.value;
        step = applyReshare(session, storedKey.value, envelope, context);
      } else if (((key ??= await io.requiredKey(session.keyId)).epoch ?? 0) !== (session.epoch ?? 0) && !isFinished(session)) {
        // A refresh or reshare switched the key meanwhile: the session's signers and shares
        // belong to the old epoch. The request itself is still good: start it again at the
        // new epoch, with fresh nonces from the new parties (the switch is invisible to the
        // application but for latency).
        step = { next: restartAtEpoch(session, key), resend: false };
      } else {
        key ??= await io.requiredKey(session.keyId);
        // Read on every try: a concurrent session may have claimed the commitment meanwhile.
        step = applySign(session, key, envelope, await this.#commitmentUse(key.keyId, envelope), context);
      }
      let next = step.next;
      if (next === undefined) {
        io.emit(step.logs);
        if (step.resend) await io.sendPhase(session, key);
        return;
      }
      let created = step.key;
      if (created !== undefined && next.kind === 'keygen' && (await io.getKey(created.keyId)) !== undefined) {
        next = keyCreatedMeanwhile(next);
        created = undefined;
      }
      const operations = [io.tables.sessions.putOperation(sessionKey, next, stored.version + 1, { kind: 'version', version: stored.version }, io.limits.sessionTtlSeconds)];
      // The key record appears in the same transaction as the transition that creates it.
      if (created !== undefined) operations.push(io.tables.keys.putOperation(coordinatorKeys.key(created.keyId), created, 1, { kind: 'absent' }));
      // A refresh/reshare moves the key record to the next epoch in the same write, only if it is still at the epoch left.
      if (step.rekey !== undefined && next.kind === 'reshare') {
        if (storedKey === undefined || (storedKey.value.epoch ?? 0) !== step.rekey.fromEpoch) {
          next = { ...next, phase: 'failed', error: { code: RefusalCode.conflict, message: `key "${next.keyId}" left epoch ${step.rekey.fromEpoch} meanwhile` } };
        } else {
          operations.push(io.tables.keys.putOperation(coordinatorKeys.key(next.keyId), step.rekey.record, storedKey.version + 1, { kind: 'version', version: storedKey.version }));
        }
      }
      // Commitment claims likewise: if another session claimed one first, the whole write
      // fails, and the retry reads that claim and refuses the commitment.
      for (const claim of step.claims ?? []) {
        operations.push(io.tables.commitments.putOperation(coordinatorKeys.commitment(claim.keyId, claim.use.party, claim.hiding), claim.use, 1, { kind: 'absent' }));
      }
      // The anchor joins the session's write where that is a transaction anyway. A signing
      // session's write is often the session alone (a share): as a plain conditional put it
      // costs half the write units of a transaction, and the anchor follows in its own small
      // put (below, as for a message that changes nothing); a crash between the two leaves
      // the anchor to the redelivery, which finds the share recorded and anchors.
      const anchorApart = next.kind === 'sign' && operations.length === 1;
      if (!anchorApart) operations.push(...(await this.#anchors.recordOperations(anchor.envelope)));
      await io.tables.backend.write(operations, io.nowSeconds());
      anchor.written = !anchorApart;
      io.emit(step.logs);
      if (moved(session, next) || step.resend) await io.sendPhase(next, key);
      if (step.forgetPools !== undefined) await forgetPools(io, next.keyId, step.forgetPools);
      if (step.refusal !== undefined) throw step.refusal;
    });
  }

  /** Who used a `sign.commitment`'s hiding element for this key before, if anyone. */
  async #commitmentUse(keyId: string, envelope: Envelope): Promise<CommitmentUse | undefined> {
    if (envelope.type !== MessageType.signCommitment) return undefined;
    const { commitment } = parseBody(envelope, MessageType.signCommitment);
    return (await this.#io.tables.commitments.get(coordinatorKeys.commitment(keyId, envelope.from, commitment.hiding)))?.value;
  }
}
