/**
 * Judging an accusation against a refresh/reshare dealer, from the signed transcript alone
 * (anyone holding it can run this, the coordinator does): the accused's signed dealing, the
 * current epoch's attestations, the round-1 entries, and the accuser's evidence. A bad
 * constant commitment needs no secret; a bad share is shown by the accuser's receiving
 * secret for the accused dealer (never its session secret), revealed only after it
 * abandoned the session.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { verifyKeyAttestations } from '../attestation.js';
import type { ReshareSession } from '../coordinator-state.js';
import type { TransitionContext } from '../coordinator-step.js';
import { bytesToHex, decodeHex } from '../encoding.js';
import { hasValidSignature, parseBody, verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope } from '../messages.js';
import { SecretScope } from '../secret-scope.js';
import { openShare } from '../share-sealing.js';
import { checkDealingCommitments, shareMatchesDealing } from './dealing.js';
import { isUsableX25519Key, RESHARE_SHARE_PURPOSE } from './receive-keys.js';
import { round1HashOf } from './transcripts.js';

export interface DealingVerdict {
  readonly accuser: string;
  readonly accused: string;
  readonly holds: boolean;
  readonly faulty: string;
  readonly finding: string;
}

export function judgeDealingAccusation(refusal: Envelope, session: ReshareSession, context: Pick<TransitionContext, 'suite' | 'directory'>): DealingVerdict {
  const { suite, directory } = context;
  if (refusal.type !== MessageType.partyRefused || !hasValidSignature(refusal, directory, 'party')) {
    throw new RefusedError(RefusalCode.badSignature, `accusation from "${refusal.from}" is not a party.refused signed by it`);
  }
  const accusation = parseBody(refusal, MessageType.partyRefused).accusation;
  if (accusation === undefined) throw new RefusedError(RefusalCode.malformed, `refusal from "${refusal.from}" accuses nobody`);
  const accuser = refusal.from;
  const accused = accusation.accused;
  const verdict = (holds: boolean, finding: string): DealingVerdict => ({ accuser, accused, holds, faulty: holds ? accused : accuser, finding });
  if (!session.parties.includes(accuser) || !session.dealers.includes(accused)) return verdict(false, `"${accuser}" accuses "${accused}", which is not a dealer it received from`);
  const evidence = accusation.evidence;
  if (evidence === undefined || (evidence.kind !== 'reshare-share' && evidence.kind !== 'reshare-commitment')) return verdict(false, `"${accuser}" accuses "${accused}" without dealing evidence`);
  const dealingEnvelope = Object.hasOwn(session.dealings, accused) ? session.dealings[accused] : undefined;
  if (dealingEnvelope === undefined) return verdict(false, `the transcript holds no dealing of "${accused}"`);
  const dealing = verifyRelayed(dealingEnvelope, { type: MessageType.reshareDealing, session: refusal.session, directory, role: 'party' });
  const current = verifyKeyAttestations(session.attestations, directory.parties, { keyId: session.keyId });
  // The dealing is judged against the epoch and transcript it signed it was dealt on: the ones the accuser checked it against.
  if (dealing.keyId !== session.keyId || dealing.epoch !== current.epoch || dealing.publicPackageHash !== current.publicPackageHash) {
    return verdict(false, `the dealing "${accused}" signed is not of the attested epoch of key "${session.keyId}"`);
  }
  if (dealing.round1Hash !== round1HashOf(session)) return verdict(false, `the dealing "${accused}" signed was dealt on another round-1 transcript`);
  const id = (party: string) => suite.frost.Identifier.derive(party);
  if (evidence.kind === 'reshare-commitment') {
    const verifyingShare = current.publicPackage.verifyingShares[id(accused)];
    const wrong = checkDealingCommitments(suite, {
      mode: session.mode,
      threshold: session.threshold,
      commitments: dealing.commitments,
      dealer: id(accused),
      dealers: session.dealers.map(id),
      ...(verifyingShare !== undefined ? { dealerVerifyingShare: verifyingShare } : {}),
    });
    return wrong === undefined ? verdict(false, `the commitments "${accused}" signed hold`) : verdict(true, `the commitments "${accused}" signed are wrong: ${wrong}`);
  }
  const accuserRound1 = Object.hasOwn(session.round1, accuser) ? session.round1[accuser] : undefined;
  const accusedRound1 = Object.hasOwn(session.round1, accused) ? session.round1[accused] : undefined;
  const sealed = Object.hasOwn(dealing.shares, accuser) ? dealing.shares[accuser] : undefined;
  if (accuserRound1 === undefined || accusedRound1 === undefined || sealed === undefined || evidence.receiveSecret === undefined) {
    return verdict(false, `the transcript or evidence lacks what shows a share of "${accused}" to "${accuser}"`);
  }
  const accuserEntry = verifyRelayed(accuserRound1, { type: MessageType.reshareRound1, session: refusal.session, directory, role: 'party' });
  const accusedEntry = verifyRelayed(accusedRound1, { type: MessageType.reshareRound1, session: refusal.session, directory, role: 'party' });
  const receiveKey = accuserEntry.receiveKeys?.[accused];
  // A key the coordinator should have refused on receipt: the accused could not be shown at fault with it.
  if (receiveKey === undefined || !isUsableX25519Key(accusedEntry.ephemeralKey)) return verdict(false, `the round-1 keys do not show a share of "${accused}" to "${accuser}"`);
  const scope = new SecretScope();
  try {
    const secret = scope.track(decodeHex(evidence.receiveSecret, 'evidence.receiveSecret', 32));
    if (bytesToHex(x25519.getPublicKey(secret)) !== receiveKey) return verdict(false, `the secret "${accuser}" revealed is not its round-1 receiving key for "${accused}"`);
    const binding = { session: refusal.session, keyId: session.keyId, sender: accused, recipient: accuser };
    const share = openShare(secret, decodeHex(accusedEntry.ephemeralKey, 'ephemeralKey', 32), binding, sealed, scope, RESHARE_SHARE_PURPOSE);
    if (share === undefined) return verdict(true, `the share "${accused}" sealed to "${accuser}" does not open`);
    return shareMatchesDealing(suite, session.mode, id(accuser), share, dealing.commitments)
      ? verdict(false, `the share "${accused}" sent "${accuser}" matches its commitments`)
      : verdict(true, `the share "${accused}" sent "${accuser}" does not match its signed commitments`);
  } finally {
    scope.wipe();
  }
}
