/**
 * The signed refresh/reshare transcripts a party is given, checked before any secret is
 * touched: every relayed envelope signed by its sender for this session, exactly one per
 * expected sender, naming the epoch being left, and this party's own round 1 unchanged.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { hashCanonical } from '../encoding.js';
import { parseBody, verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope, type ReshareDealingBody, type ReshareRound1Body } from '../messages.js';
import type { PartyView } from '../party-context.js';
import type { ReshareStateRecord } from '../party-state.js';
import { isUsableX25519Key } from './receive-keys.js';

export type ReshareRound1Transcript = Readonly<Record<string, ReshareRound1Body>>;
export type DealingsTranscript = Readonly<Record<string, ReshareDealingBody>>;

type StateView = Pick<ReshareStateRecord, 'keyId' | 'fromEpoch' | 'fromPackageHash' | 'ephemeralKey' | 'receiveKeys' | 'dealers' | 'parties'>;

/** The participants of a state's plan: dealers and new parties. */
export function participantsOf(state: Pick<ReshareStateRecord, 'dealers' | 'parties'>): string[] {
  return [...new Set([...state.dealers, ...state.parties])].sort();
}

export function verifyReshareRound1(view: PartyView, envelopes: readonly Envelope[], session: string, state: StateView): ReshareRound1Transcript {
  const expected = participantsOf(state);
  const byParty: Record<string, ReshareRound1Body> = {};
  for (const relayed of envelopes) {
    const body = verifyRelayed(relayed, { type: MessageType.reshareRound1, session, directory: view.directory, role: 'party' });
    if (!expected.includes(relayed.from) || Object.hasOwn(byParty, relayed.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `round-1 transcript has an unexpected or repeated entry from "${relayed.from}"`);
    }
    if (body.keyId !== state.keyId || body.epoch !== state.fromEpoch) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `round 1 of "${relayed.from}" is for another key or epoch`);
    }
    if (state.dealers.includes(relayed.from) && body.publicPackageHash !== state.fromPackageHash) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `dealer "${relayed.from}" holds another public package than the attested one`);
    }
    const wrongKeys = round1KeysProblem(body, relayed.from, state);
    if (wrongKeys !== undefined) throw new RefusedError(RefusalCode.inconsistentPackage, wrongKeys);
    byParty[relayed.from] = body;
  }
  if (Object.keys(byParty).length !== expected.length) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `round-1 transcript has ${Object.keys(byParty).length} of ${expected.length} entries`);
  }
  const own = byParty[view.id];
  if (own === undefined || own.ephemeralKey !== state.ephemeralKey || JSON.stringify(own.receiveKeys ?? null) !== JSON.stringify(state.receiveKeys ?? null)) {
    throw new RefusedError(RefusalCode.transcriptMismatch, "round-1 transcript does not contain this party's entry unchanged");
  }
  return byParty;
}

/**
 * What is wrong with a participant's round-1 keys, if anything (checked by every party and by
 * the coordinator on receipt): every key usable (no low-order X25519 point); a new party
 * publishes exactly one receiving key per dealer, a dealer that is not a new party none.
 */
export function round1KeysProblem(body: ReshareRound1Body, from: string, plan: Pick<ReshareStateRecord, 'dealers' | 'parties'>): string | undefined {
  if (!isUsableX25519Key(body.ephemeralKey)) return `round 1 of "${from}" carries an unusable (low-order) X25519 key`;
  if (!plan.parties.includes(from)) return body.receiveKeys === undefined ? undefined : `round 1 of "${from}" carries receiving keys but "${from}" receives nothing`;
  const keys = body.receiveKeys ?? {};
  if (JSON.stringify(Object.keys(keys).sort()) !== JSON.stringify([...plan.dealers].sort())) return `round 1 of "${from}" does not carry exactly one receiving key per dealer`;
  if (!Object.values(keys).every(isUsableX25519Key)) return `round 1 of "${from}" carries an unusable (low-order) receiving key`;
  return undefined;
}

/** What a dealing is bound to: the round-1 entries (sending and receiving keys) it was sealed to. */
export function reshareRound1Hash(round1: ReshareRound1Transcript): string {
  return hashCanonical(
    Object.fromEntries(Object.entries(round1).map(([party, body]) => [party, { epoch: body.epoch, ephemeralKey: body.ephemeralKey, ...(body.receiveKeys !== undefined ? { receiveKeys: body.receiveKeys } : {}) }])),
  );
}

/** The hash of a session's round-1 transcript as the coordinator holds it (each entry checked on receipt). */
export function round1HashOf(session: { readonly round1: Readonly<Record<string, Envelope>> }): string {
  return reshareRound1Hash(Object.fromEntries(Object.entries(session.round1).map(([party, envelope]) => [party, parseBody(envelope, MessageType.reshareRound1)])));
}

/** The dealings, each signed by a dealer for this session, epoch and package, and sealed on `round1Hash` (the transcript this party checked). */
export function verifyDealings(view: PartyView, envelopes: readonly Envelope[], session: string, state: StateView, round1Hash: string): DealingsTranscript {
  const byDealer: Record<string, ReshareDealingBody> = {};
  for (const relayed of envelopes) {
    const body = verifyRelayed(relayed, { type: MessageType.reshareDealing, session, directory: view.directory, role: 'party' });
    if (!state.dealers.includes(relayed.from) || Object.hasOwn(byDealer, relayed.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `unexpected or repeated dealing from "${relayed.from}"`);
    }
    if (body.keyId !== state.keyId || body.epoch !== state.fromEpoch || body.publicPackageHash !== state.fromPackageHash) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `dealing of "${relayed.from}" is for another key, epoch or package`);
    }
    if (body.round1Hash !== round1Hash) {
      throw new RefusedError(RefusalCode.transcriptMismatch, `dealing of "${relayed.from}" was dealt on another round-1 transcript than the one relayed here`);
    }
    if (JSON.stringify(Object.keys(body.shares).sort()) !== JSON.stringify([...state.parties].sort())) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `dealing of "${relayed.from}" does not hold exactly one share per new party`);
    }
    byDealer[relayed.from] = body;
  }
  if (Object.keys(byDealer).length !== state.dealers.length) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `${Object.keys(byDealer).length} of ${state.dealers.length} dealings`);
  }
  return byDealer;
}
