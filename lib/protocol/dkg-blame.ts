/**
 * Judging a DKG share accusation from signed messages alone, so that the coordinator, an
 * initiator or an auditor holding the same transcript reach the same verdict without
 * trusting anyone's word — neither the accuser's nor the coordinator's.
 *
 * The accuser reveals its X25519 ephemeral secret of the session (it has abandoned the
 * session for good, so the secret protects nothing any more). Then:
 * 1. the secret must belong to the ephemeral key in the accuser's signed round-1 package;
 * 2. with it and the accused's signed ephemeral key, the share the accused sealed for the
 *    accuser (in its signed `dkg.shares`) is opened exactly as the accuser would open it;
 * 3. the opened share is checked against the accused's signed round-1 commitment
 *    (RFC 9591 Appendix C.2 `vss_verify`).
 * If the share does not open or fails vss_verify, the accused is at fault. Otherwise — no
 * evidence, evidence that does not match, or a share that is fine — the accuser is.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { Directory } from './directory.js';
import { bytesToHex, decodeHex } from './encoding.js';
import { deriveSessionId, hasValidSignature, parseBody, verifyRelayed } from './envelope.js';
import { decodeSuiteHex } from './frost-wire.js';
import { MessageType, type BodyOf, type Envelope } from './messages.js';
import { SecretScope } from './secret-scope.js';
import { openShare } from './share-sealing.js';
import type { Suite } from './suite.js';

/** The signed messages of one keygen session that an accusation is judged against. */
export interface KeygenTranscript {
  /** The initiator's signed `keygen.request`. */
  readonly request: Envelope;
  /** Signed `dkg.round1` envelopes (at least the accuser's and the accused's). */
  readonly round1: readonly Envelope[];
  /** Signed `dkg.shares` envelopes (at least the accused's). */
  readonly shares: readonly Envelope[];
}

export interface Verdict {
  readonly accuser: string;
  readonly accused: string;
  /** True when the evidence proves the accused sent a bad share. */
  readonly holds: boolean;
  /** Who is at fault: the accused if the accusation holds, else the accuser. */
  readonly faulty: string;
  /** What was found, for people: names and facts, never secret values. */
  readonly finding: string;
}

export interface JudgeContext {
  readonly suite: Suite;
  readonly directory: Directory;
}

/**
 * Judges the accusation carried by `refusal` (a signed `party.refused`). Throws a
 * RefusedError only when the input cannot be judged at all (unsigned or altered messages,
 * another session, no accusation); every accusation that can be judged gets a verdict.
 *
 * The transcript must be the one the accuser was given. A piece missing from it counts
 * against the accuser: an honest party accuses only after receiving the accused's signed
 * package and share, and the coordinator holds all of them before it sends round 3.
 */
export function judgeAccusation(refusal: Envelope, transcript: KeygenTranscript, context: JudgeContext): Verdict {
  const { suite, directory } = context;
  if (refusal.type !== MessageType.partyRefused || !hasValidSignature(refusal, directory, 'party')) {
    throw new RefusedError(RefusalCode.badSignature, `accusation from "${refusal.from}" is not a party.refused signed by it`);
  }
  const accusation = parseBody(refusal, MessageType.partyRefused).accusation;
  if (accusation === undefined) throw new RefusedError(RefusalCode.malformed, `refusal from "${refusal.from}" accuses nobody`);

  const { request } = transcript;
  if (!hasValidSignature(request, directory, 'initiator')) {
    throw new RefusedError(RefusalCode.badSignature, 'keygen request of the transcript is not signed by its initiator');
  }
  const keygen = parseBody(request, MessageType.keygenRequest);
  const session = deriveSessionId(request.from, keygen.requestId);
  if (request.session !== session || refusal.session !== session) {
    throw new RefusedError(RefusalCode.wrongSession, 'accusation and keygen request belong to different sessions');
  }
  if (keygen.suite !== suite.id) throw new RefusedError(RefusalCode.malformed, `keygen uses suite "${keygen.suite}", judged with "${suite.id}"`);

  const accuser = refusal.from;
  const accused = accusation.accused;
  if (!keygen.parties.includes(accuser)) throw new RefusedError(RefusalCode.unexpectedSender, `"${accuser}" is not a party of this keygen`);
  const verdict = (holds: boolean, finding: string): Verdict => ({ accuser, accused, holds, faulty: holds ? accused : accuser, finding });

  if (accused === accuser || !keygen.parties.includes(accused)) return verdict(false, `"${accuser}" accuses "${accused}", which is not another party of this keygen`);
  const evidence = accusation.evidence;
  if (evidence === undefined) return verdict(false, `"${accuser}" accuses "${accused}" without evidence`);
  if (evidence.kind !== 'dkg-share' || evidence.ephemeralSecret === undefined) return verdict(false, `"${accuser}" offers ${evidence.kind} evidence in a keygen`);
  const ephemeralSecret = evidence.ephemeralSecret;

  const signed = <T extends MessageType>(envelopes: readonly Envelope[], type: T, from: string): BodyOf<T> | undefined => {
    const found = envelopes.filter((e) => e.from === from && e.type === type);
    if (found.length > 1) throw new RefusedError(RefusalCode.unexpectedSender, `transcript holds ${found.length} ${type} messages from "${from}"`);
    const [envelope] = found;
    return envelope === undefined ? undefined : verifyRelayed(envelope, { type, session, directory, role: 'party' });
  };
  const accuserRound1 = signed(transcript.round1, MessageType.dkgRound1, accuser);
  const accusedRound1 = signed(transcript.round1, MessageType.dkgRound1, accused);
  const accusedShares = signed(transcript.shares, MessageType.dkgShares, accused);
  const sealed = accusedShares !== undefined && Object.hasOwn(accusedShares.shares, accuser) ? accusedShares.shares[accuser] : undefined;
  if (accuserRound1 === undefined || accusedRound1 === undefined || sealed === undefined) {
    return verdict(false, `"${accuser}" accuses "${accused}" of a share the transcript does not hold`);
  }

  const scope = new SecretScope();
  try {
    const secret = scope.track(decodeHex(ephemeralSecret, 'evidence.ephemeralSecret', 32));
    if (bytesToHex(x25519.getPublicKey(secret)) !== accuserRound1.ephemeralKey) {
      return verdict(false, `the secret "${accuser}" revealed is not the ephemeral key of its signed round-1 package`);
    }
    // Signed packages for another key or identifier are refused by the coordinator on
    // receipt; one here was still signed by the accused for this session.
    if (accusedRound1.keyId !== keygen.keyId || accusedShares?.keyId !== keygen.keyId || accusedRound1.package.identifier !== suite.frost.Identifier.derive(accused)) {
      return verdict(true, `"${accused}" signed round-1 or round-2 data for another key or identifier`);
    }
    const binding = { session, keyId: keygen.keyId, sender: accused, recipient: accuser };
    let share: Uint8Array | undefined;
    try {
      share = openShare(secret, decodeHex(accusedRound1.ephemeralKey, 'ephemeralKey', 32), binding, sealed, scope);
    } catch {
      share = undefined; // x25519 refuses a low-order key: the accused published an unusable one
    }
    if (share === undefined) {
      return verdict(true, `the share "${accused}" sealed for "${accuser}" does not open with the ephemeral keys both signed`);
    }
    const commitment = accusedRound1.package.commitment;
    if (commitment.length !== keygen.threshold) {
      return verdict(true, `"${accused}" committed to ${commitment.length} coefficients, threshold is ${keygen.threshold}`);
    }
    try {
      // RFC 9591 Appendix C.2 vss_verify, for the accuser's identifier.
      suite.frost.validateSecret(
        { identifier: suite.frost.Identifier.derive(accuser), signingShare: share },
        {
          signers: { min: keygen.threshold, max: keygen.parties.length },
          commitments: commitment.map((c, i) => decodeSuiteHex(suite, 'element', c, `commitment[${i}]`)),
          verifyingShares: {},
        },
      );
    } catch {
      return verdict(true, `the share "${accused}" sealed for "${accuser}" fails vss_verify against its signed round-1 commitment`);
    }
    return verdict(false, `the share "${accused}" sealed for "${accuser}" opens and matches its signed round-1 commitment`);
  } finally {
    scope.wipe();
  }
}
