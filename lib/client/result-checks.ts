/**
 * What the SDK and the CLI check before they hand a result to anyone: a key only as its
 * parties attested it, and a signature only against the pinned key and the message and
 * key id the application itself requested — never against fields of the result.
 */
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { AttestationError, verifyKeyAttestations, type AttestedKey, type ExpectedKey } from '../protocol/attestation.js';
import { bytesToHex, decodeHex } from '../protocol/encoding.js';
import type { KeygenResultBody, KeyResultBody, SignResultBody } from '../protocol/messages.js';
import { suiteById } from '../protocol/suites.js';
import { signingDerivation, verifierKeyHex, type TaprootOption } from '../protocol/derivation/key.js';
import { UntrustedResultError } from './errors.js';
import type { PinnedKey } from './key-pins.js';

/** The key that all n parties attested in a successful keygen or key result. */
export function attestedKeyOf(
  body: KeygenResultBody | KeyResultBody,
  partyKeys: Readonly<Record<string, IdentityPublicKey>>,
  expected: ExpectedKey,
  requestId: string,
): AttestedKey {
  try {
    const key = verifyKeyAttestations(body.attestations, partyKeys, expected);
    if (body.publicKey !== undefined && body.publicKey !== key.publicKey) {
      throw new AttestationError(`result names group key ${body.publicKey}, the parties attest ${key.publicKey}`);
    }
    return key;
  } catch (error) {
    if (error instanceof AttestationError) throw new UntrustedResultError(error.message, requestId, { cause: error });
    throw error;
  }
}

/** The signature of a successful sign result, checked against what was requested. */
export function checkedSignature(
  body: SignResultBody,
  pinned: PinnedKey,
  requested: SigningKeyRequest & { keyId: string; message: Uint8Array },
  requestId: string,
): Uint8Array {
  // The key the signature must verify under: the pinned key, or its child at the requested
  // path (and taproot output key), derived here from the pin (never from the result).
  const expectedKey = signingKeyHex(pinned, requested);
  if (body.keyId !== requested.keyId) throw new UntrustedResultError(`answered request "${requestId}" for key "${body.keyId}", "${requested.keyId}" was requested`, requestId);
  if (body.signature === undefined) throw new UntrustedResultError(`successful result for request "${requestId}" carries no signature`, requestId);
  if (body.publicKey !== undefined && body.publicKey !== expectedKey) {
    throw new UntrustedResultError(`result for request "${requestId}" names another group key than the one pinned for "${pinned.keyId}"${requested.path === undefined ? '' : ` at ${requested.path}`}`, requestId);
  }
  if (body.path !== requested.path && body.path !== undefined) {
    throw new UntrustedResultError(`result for request "${requestId}" names another derivation path than the one requested`, requestId);
  }
  if (body.message !== undefined && body.message !== bytesToHex(requested.message)) {
    throw new UntrustedResultError(`result for request "${requestId}" names another message than the one requested`, requestId);
  }
  const suite = suiteById(pinned.suite);
  if (suite === undefined) throw new UntrustedResultError(`key "${pinned.keyId}" is pinned with unsupported suite "${pinned.suite}"`, requestId);
  const signature = decodeHex(body.signature, 'signature');
  // Sizes of the pinned key's suite; a result of another length is refused like a bad signature.
  if (signature.length !== suite.sizes.signature || !suite.verifyFinal(decodeHex(expectedKey, 'publicKey'), requested.message, signature)) {
    throw new UntrustedResultError(
      `signature for request "${requestId}" does not verify under the pinned key of "${pinned.keyId}"${requested.path === undefined ? '' : ` (child ${requested.path})`} over the requested message`,
      requestId,
    );
  }
  return signature;
}

/** What of a request chooses the key it signs under. */
export interface SigningKeyRequest {
  readonly path?: string | undefined;
  readonly taproot?: TaprootOption | undefined;
}

/** The key (verifier encoding, hex) a request's signature verifies under, from the pin alone. */
export function signingKeyHex(pinned: PinnedKey, requested: SigningKeyRequest): string {
  const derivation = signingDerivation(pinned, requested.path, requested.taproot);
  return derivation === undefined ? pinned.publicKey : verifierKeyHex(derivation);
}
