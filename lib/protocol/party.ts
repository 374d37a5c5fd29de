/**
 * A party: one call of `handle()` is one inbound message, authenticated, checked for
 * replay (remembered once done, or for the steps in replay-exemptions.ts only if refused), and
 * dispatched to the step of its flow and round (keygen/party-*.ts, sign/party-*.ts). Each
 * step checks the request against this party's own policy, applies the message
 * idempotently to stored state, and answers.
 *
 * Redelivery is normal (SQS is at least once): every step first looks for the state its
 * earlier run left and, if found, answers again from it instead of drawing new randomness.
 * The message id is remembered only after the work is done, so a crash mid-round leaves
 * the message to be redelivered and completed.
 */
import { MessageReads } from './message-reads.js';
import { partyPrefetch } from './party-prefetch.js';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { AuditLog } from './audit.js';
import { authenticateEnvelope } from './envelope.js';
import { onDkgAbort } from './keygen/party-abort.js';
import { onDkgConfirm } from './keygen/party-confirm.js';
import { onDkgStart } from './keygen/party-round1.js';
import { onDkgRound2 } from './keygen/party-round2.js';
import { onDkgRound3 } from './keygen/party-round3.js';
import { MessageType, type Envelope } from './messages.js';
import { createPartyContext, type PartyContext, type PartyDeps } from './party-context.js';
import { KEYGEN_INBOUND, RESHARE_INBOUND, reportRefusal } from './party-refusal.js';
import { partyMarksProcessed } from './replay-exemptions.js';
import { ReplayGuard } from './replay-guard.js';
import { onReshareAbort } from './reshare/party-abort.js';
import { onReshareConfirm } from './reshare/party-confirm.js';
import { onReshareDeal } from './reshare/party-deal.js';
import { onReshareShares } from './reshare/party-shares.js';
import { onReshareStart } from './reshare/party-start.js';
import { onSignCommit } from './sign/party-commit.js';
import { onSignPackage } from './sign/party-package.js';
import { onPoolRefill } from './sign/party-pool-refill.js';
import { onSignPooled } from './sign/party-pooled.js';

export type { PartyDeps } from './party-context.js';

export type HandleOutcome =
  | { readonly status: 'processed'; readonly type: string; readonly session: string }
  | { readonly status: 'refused'; readonly code: string; readonly reason: string; readonly type?: string; readonly session?: string };

/** The step for each message type a party accepts, all from the coordinator. */
const STEPS: Readonly<Record<string, (ctx: PartyContext, envelope: Envelope) => Promise<void>>> = {
  [MessageType.dkgStart]: onDkgStart,
  [MessageType.dkgRound2]: onDkgRound2,
  [MessageType.dkgRound3]: onDkgRound3,
  [MessageType.dkgConfirm]: onDkgConfirm,
  [MessageType.dkgAbort]: onDkgAbort,
  [MessageType.signCommit]: onSignCommit,
  [MessageType.signPackage]: onSignPackage,
  [MessageType.poolRefill]: onPoolRefill,
  [MessageType.signPooled]: onSignPooled,
  [MessageType.reshareStart]: onReshareStart,
  [MessageType.reshareDeal]: onReshareDeal,
  [MessageType.reshareShares]: onReshareShares,
  [MessageType.reshareConfirm]: onReshareConfirm,
  [MessageType.reshareAbort]: onReshareAbort,
};

/** Message types a party accepts, all from the coordinator. */
const PARTY_INBOUND = new Set<string>([
  ...KEYGEN_INBOUND,
  ...RESHARE_INBOUND,
  MessageType.signCommit,
  MessageType.signPackage,
  MessageType.poolRefill,
  MessageType.signPooled,
]);

export class Party {
  readonly id: string;
  readonly #ctx: PartyContext;
  readonly #replays: ReplayGuard;

  readonly #reads: MessageReads;

  constructor(deps: PartyDeps) {
    this.id = deps.id;
    // Each item is read once per message (message-reads.ts); nothing is kept between messages.
    this.#reads = new MessageReads(deps.store);
    this.#ctx = createPartyContext({ ...deps, store: this.#reads });
    this.#replays = new ReplayGuard(this.#reads, this.#ctx.limits, () => this.#ctx.nowSeconds());
  }

  /** This party's audit trail (hash-chained decisions). */
  get audit(): AuditLog {
    return this.#ctx.audit;
  }

  /** The FROST identifier of a party: derived from its name, so no numbering has to agree. */
  identifierOf(party: string): string {
    return this.#ctx.identifierOf(party);
  }

  /**
   * Handles one inbound message. Returns `refused` for input that can never be accepted
   * (the caller acknowledges it); throws for failures worth a redelivery.
   */
  async handle(raw: string): Promise<HandleOutcome> {
    return this.#reads.run(() => this.#handle(raw));
  }

  async #handle(raw: string): Promise<HandleOutcome> {
    const ctx = this.#ctx;
    let envelope: Envelope | undefined;
    try {
      envelope = authenticateEnvelope(raw, {
        self: this.id,
        directory: ctx.directory,
        limits: ctx.limits,
        now: ctx.now(),
        senderRole: (type) => (PARTY_INBOUND.has(type) ? 'coordinator' : undefined),
      });
      await this.#reads.prefetch(partyPrefetch(envelope));
      await this.#replays.assertNotSeen(envelope);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      ctx.log.warn('message refused', { party: this.id, code: error.code, reason: error.message, type: envelope?.type });
      return { status: 'refused', code: error.code, reason: error.message, type: envelope?.type, session: envelope?.session };
    }

    try {
      const step = Object.hasOwn(STEPS, envelope.type) ? STEPS[envelope.type] : undefined;
      if (step === undefined) throw new RefusedError(RefusalCode.wrongRound, `a party does not accept ${envelope.type}`);
      await step(ctx, envelope);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      await reportRefusal(ctx, envelope, error);
      await this.#replays.remember(envelope);
      return { status: 'refused', code: error.code, reason: error.message, type: envelope.type, session: envelope.session };
    }
    if (partyMarksProcessed(envelope.type)) await this.#replays.remember(envelope);
    ctx.log.info('message processed', { party: this.id, type: envelope.type, session: envelope.session });
    return { status: 'processed', type: envelope.type, session: envelope.session };
  }
}
