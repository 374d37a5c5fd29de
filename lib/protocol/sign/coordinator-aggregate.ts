/**
 * The end of a signing attempt, coordinator side: with every signer's share in, the signature
 * is aggregated (RFC 9591 §5.3) and released only after an independent implementation
 * (OpenSSL, libsecp256k1: the key's suite's `verifyFinal`) accepts it. Shares are verified
 * one by one (§5.4) only when the aggregate does not verify, as frost-rs does: noble's
 * `aggregate` then names every signer whose share fails, and exactly those are excluded.
 */
import type { KeyRecord, SignSession } from '../coordinator-state.js';
import { required } from '../coordinator-step.js';
import { bytesToHex, decodeHex } from '../encoding.js';
import { parseBody } from '../envelope.js';
import { commitmentFromWire, decodeSuiteHex, sortCommitments, type FrostPublic } from '../frost-wire.js';
import { derivationOf, signingPackage } from './signing-key.js';
import { verifierKeyHex } from '../derivation/key.js';
import { MessageType, type NonceCommitment } from '../messages.js';
import type { Suite } from '../suite.js';
import { nextAttempt } from './coordinator-attempt.js';

/**
 * The session done (signature released), failed, or on to a fresh attempt without the
 * signers whose shares are invalid (`excluded` grows by exactly those; the caller logs them).
 */
export function aggregate(session: SignSession, key: KeyRecord, suite: Suite): SignSession {
  const commitments = signerCommitments(session);
  const message = decodeHex(requestMessage(session), 'message');
  const byIdentifier = new Map(session.signers.map((p) => [suite.frost.Identifier.derive(p), p]));
  const shares = Object.fromEntries(
    [...byIdentifier].map(([id, p]) => [id, decodeSuiteHex(suite, 'scalar', parseBody(required(session.shares, p, 'sign.share'), MessageType.signShare).share, 'share')]),
  );
  // With a path, aggregation, blame and the final check are under the child key: a share is
  // judged against the verifying share its signer signed with, and a signature is released
  // only if it verifies under the very key the result will name.
  const signingKey = sessionSigningKey(session, key, suite);
  let signature: Uint8Array;
  try {
    signature = suite.frost.aggregate(signingKey.publicPackage, commitments.map((c) => commitmentFromWire(suite, c)), message, shares);
  } catch (error) {
    const cheaters = cheatersOf(error, byIdentifier);
    if (cheaters === undefined || cheaters.length === 0) {
      // Every share verified on its own yet their sum did not (or aggregation refused before
      // judging any share): no signer is provably at fault, so nobody is blamed.
      return { ...session, phase: 'failed', error: { code: 'verification-failed', message: 'signature shares did not aggregate to a valid signature and none is invalid on its own' } };
    }
    return nextAttempt({ ...session, excluded: [...session.excluded, ...cheaters] }, key, 'cheater-detected');
  }
  if (!suite.verifyFinal(decodeSuiteHex(suite, 'publicKey', signingKey.publicKey, 'publicKey'), message, signature)) {
    return { ...session, phase: 'failed', error: { code: 'verification-failed', message: `aggregated signature failed independent ${suite.name} verification` } };
  }
  return { ...session, phase: 'done', signature: bytesToHex(signature) };
}

/**
 * The signers noble's aggregation error names (its `cheaters`: identifiers whose share fails
 * RFC 9591 §5.4 verification), as party names; undefined if the error is no such error or
 * names an identifier that is no signer's (then the names cannot be trusted for blame).
 */
function cheatersOf(error: unknown, byIdentifier: ReadonlyMap<string, string>): string[] | undefined {
  if (!(error instanceof Error) || !('cheaters' in error) || !Array.isArray(error.cheaters)) return undefined;
  const names: string[] = [];
  for (const id of error.cheaters as unknown[]) {
    const name = typeof id === 'string' ? byIdentifier.get(id) : undefined;
    if (name === undefined) return undefined;
    names.push(name);
  }
  return names;
}

/** The signers' commitments of the current attempt (pooled ones for a one-round attempt), in the order every participant uses. */
export function signerCommitments(session: SignSession): NonceCommitment[] {
  const { pooled } = session;
  if (pooled !== undefined) return sortCommitments(session.signers.map((p) => required(pooled, p, 'pooled commitment').commitment));
  return sortCommitments(session.signers.map((p) => parseBody(required(session.commitments, p, 'sign.commitment'), MessageType.signCommitment).commitment));
}

/** The key this session signs under (hex group key and package): the key's own, or its child at the request's path. */
export function sessionSigningKey(session: SignSession, key: KeyRecord, suite: Suite): { publicKey: string; publicPackage: FrostPublic; path: string | undefined } {
  const request = parseBody(session.request, MessageType.signRequest);
  const { path } = request;
  const derivation = derivationOf(key, request);
  return {
    publicKey: derivation === undefined ? key.publicKey : verifierKeyHex(derivation),
    publicPackage: signingPackage(suite, key.publicPackage, derivation),
    path,
  };
}

/** The message to sign (hex), from the initiator's signed request. */
export function requestMessage(session: SignSession): string {
  return parseBody(session.request, MessageType.signRequest).message;
}
