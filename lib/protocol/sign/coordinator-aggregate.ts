/**
 * The end of a signing attempt, coordinator side: with every signer's verified share in, the
 * signature is aggregated (RFC 9591 §5.3) and released only after an independent
 * implementation (OpenSSL, libsecp256k1: the key's suite's `verifyFinal`) accepts it.
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

export function aggregate(session: SignSession, key: KeyRecord, suite: Suite): SignSession {
  const commitments = signerCommitments(session);
  const message = decodeHex(requestMessage(session), 'message');
  const shares = Object.fromEntries(
    session.signers.map((p) => [
      suite.frost.Identifier.derive(p),
      decodeSuiteHex(suite, 'scalar', parseBody(required(session.shares, p, 'sign.share'), MessageType.signShare).share, 'share'),
    ]),
  );
  // With a path, aggregation and the final check are under the child key: a signature is
  // released only if it verifies under the very key the result will name.
  const signingKey = sessionSigningKey(session, key, suite);
  const signature = suite.frost.aggregate(signingKey.publicPackage, commitments.map((c) => commitmentFromWire(suite, c)), message, shares);
  if (!suite.verifyFinal(decodeSuiteHex(suite, 'publicKey', signingKey.publicKey, 'publicKey'), message, signature)) {
    return { ...session, phase: 'failed', error: { code: 'verification-failed', message: `aggregated signature failed independent ${suite.name} verification` } };
  }
  return { ...session, phase: 'done', signature: bytesToHex(signature) };
}

/** The signers' commitments of the current attempt, in the order every participant uses. */
export function signerCommitments(session: SignSession): NonceCommitment[] {
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
