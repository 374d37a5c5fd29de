/**
 * The signed keygen transcripts a party is given, checked before any secret is touched:
 * every relayed envelope signed by its party, for this session, once, and consistent with
 * this party's round state. Pure: no store, no vault.
 *
 * No blame from here: the coordinator checks key id, identifier and recipients on receipt,
 * from the same signed envelopes, and attributes faults there. This party's word adds nothing.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { hashCanonical } from '../encoding.js';
import { verifyRelayed } from '../envelope.js';
import { round1FromWire, type FrostRound1 } from '../frost-wire.js';
import { MessageType, type DkgRound1Body, type Envelope, type SealedShare } from '../messages.js';
import type { PartyView } from '../party-context.js';
import type { DkgStateRecord } from '../party-state.js';

/** Each party's verified round-1 body, by party name. */
export type Round1Transcript = Readonly<Record<string, DkgRound1Body>>;

/** The round state fields a transcript is checked against. */
type StateView = Pick<DkgStateRecord, 'keyId' | 'parties' | 'ownPackage' | 'ephemeralKey'>;

/** What this party published in round 1: it never publishes another package for the session. */
export function ownRound1Hash(state: Pick<DkgStateRecord, 'ownPackage' | 'ephemeralKey'>): string {
  return hashCanonical({ package: state.ownPackage, ephemeralKey: state.ephemeralKey });
}

/** An entry a verified transcript must hold. */
export function entryOf<T>(record: Readonly<Record<string | number, T>> | readonly T[], key: string | number): T {
  const value = (record as Record<string | number, T>)[key];
  if (value === undefined) throw new RefusedError(RefusalCode.incompleteTranscript, `missing entry "${String(key)}"`);
  return value;
}

/**
 * Exactly one round-1 package per party, each signed by that party, and our own package
 * exactly as we sent it (else the coordinator altered it).
 */
export function verifyRound1Transcript(view: PartyView, envelopes: readonly Envelope[], session: string, state: StateView): Round1Transcript {
  const byParty: Record<string, DkgRound1Body> = {};
  for (const relayed of envelopes) {
    const body = verifyRelayed(relayed, { type: MessageType.dkgRound1, session, directory: view.directory, role: 'party' });
    if (!state.parties.includes(relayed.from) || Object.hasOwn(byParty, relayed.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `round-1 transcript has an unexpected or repeated package from "${relayed.from}"`);
    }
    if (body.keyId !== state.keyId || body.package.identifier !== view.identifierOf(relayed.from)) {
      throw new RefusedError(RefusalCode.inconsistentPackage, `round-1 package from "${relayed.from}" is for another key or identifier`);
    }
    byParty[relayed.from] = body;
  }
  if (Object.keys(byParty).length !== state.parties.length) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `round-1 transcript has ${Object.keys(byParty).length} of ${state.parties.length} packages`);
  }
  const own = byParty[view.id];
  if (own === undefined || own.ephemeralKey !== state.ephemeralKey || hashCanonical(own.package) !== hashCanonical(state.ownPackage)) {
    throw new RefusedError(RefusalCode.transcriptMismatch, 'round-1 transcript does not contain this party\'s package unchanged');
  }
  return byParty;
}

/** The other parties' round-1 packages in noble's form, in the order of the key's party list. */
export function otherRound1Packages(view: PartyView, parties: readonly string[], round1: Round1Transcript): FrostRound1[] {
  return parties.filter((p) => p !== view.id).map((p) => round1FromWire(view.suite, entryOf(round1, p).package));
}

/** One signed `dkg.shares` from every other party, each carrying a share sealed to us. */
export function verifySharesTranscript(view: PartyView, envelopes: readonly Envelope[], session: string, state: StateView): Record<string, SealedShare> {
  const sealedFrom: Record<string, SealedShare> = {};
  for (const relayed of envelopes) {
    const body = verifyRelayed(relayed, { type: MessageType.dkgShares, session, directory: view.directory, role: 'party' });
    if (relayed.from === view.id || !state.parties.includes(relayed.from) || Object.hasOwn(sealedFrom, relayed.from)) {
      throw new RefusedError(RefusalCode.unexpectedSender, `unexpected or repeated shares from "${relayed.from}"`);
    }
    const sealed = Object.hasOwn(body.shares, view.id) ? body.shares[view.id] : undefined;
    if (body.keyId !== state.keyId || sealed === undefined) {
      throw new RefusedError(RefusalCode.missingShare, `shares from "${relayed.from}" hold nothing for "${view.id}"`);
    }
    sealedFrom[relayed.from] = sealed;
  }
  if (Object.keys(sealedFrom).length !== state.parties.length - 1) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `round 3 has shares from ${Object.keys(sealedFrom).length} of ${state.parties.length - 1} parties`);
  }
  return sealedFrom;
}
