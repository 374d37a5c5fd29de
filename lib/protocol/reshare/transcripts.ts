/**
 * The signed refresh/reshare transcripts a party is given, checked before any secret is
 * touched: every relayed envelope signed by its sender for this session, exactly one per
 * expected sender, naming the epoch being left, and this party's own round 1 unchanged.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { hashCanonical } from '../encoding.js';
import { verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope, type ReshareDealingBody, type ReshareRound1Body } from '../messages.js';
import type { PartyView } from '../party-context.js';
import type { ReshareStateRecord } from '../party-state.js';

export type ReshareRound1Transcript = Readonly<Record<string, ReshareRound1Body>>;
export type DealingsTranscript = Readonly<Record<string, ReshareDealingBody>>;

type StateView = Pick<ReshareStateRecord, 'keyId' | 'fromEpoch' | 'fromPackageHash' | 'ephemeralKey' | 'dealers' | 'parties'>;

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
    byParty[relayed.from] = body;
  }
  if (Object.keys(byParty).length !== expected.length) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `round-1 transcript has ${Object.keys(byParty).length} of ${expected.length} entries`);
  }
  const own = byParty[view.id];
  if (own === undefined || own.ephemeralKey !== state.ephemeralKey) {
    throw new RefusedError(RefusalCode.transcriptMismatch, "round-1 transcript does not contain this party's entry unchanged");
  }
  return byParty;
}

/** What a dealing is bound to: the round-1 entries (ephemeral keys) it was sealed to. */
export function reshareRound1Hash(round1: ReshareRound1Transcript): string {
  return hashCanonical(Object.fromEntries(Object.entries(round1).map(([party, body]) => [party, { epoch: body.epoch, ephemeralKey: body.ephemeralKey }])));
}

export function verifyDealings(view: PartyView, envelopes: readonly Envelope[], session: string, state: StateView): DealingsTranscript {
  const byDealer: Record<string, ReshareDealingBody> = {};
  for (const relayed of envelopes) {
    const body = verifyRelayed(relayed, { type: MessageType.reshareDealing, session, directory: view.directory, role: 'party' });
    if (!state.dealers.includes(relayed.from) || Object.hasOwn(byDealer, relayed.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `unexpected or repeated dealing from "${relayed.from}"`);
    }
    if (body.keyId !== state.keyId || body.epoch !== state.fromEpoch || body.publicPackageHash !== state.fromPackageHash) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `dealing of "${relayed.from}" is for another key, epoch or package`);
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
