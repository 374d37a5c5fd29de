/**
 * What the SDK and the CLI check before they hand a result to anyone: a key only as its
 * parties attested it, and a signature only against the pinned key and the message and
 * key id the application itself requested — never against fields of the result.
 */
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { AttestationError, verifyKeyAttestations, type AttestedKey, type ExpectedKey } from '../protocol/attestation.js';
import { bytesToHex, decodeHex } from '../protocol/encoding.js';
import { MessageType, type KeygenResultBody, type KeyResultBody, type ReshareResultBody, type SignResultBody } from '../protocol/messages.js';
import { suiteById } from '../protocol/suites.js';
import { signingDerivation, verifierKeyHex, type TaprootOption } from '../protocol/derivation/key.js';
import { UntrustedResultError } from './errors.js';
import { derivableOf, epochOf, keygenHashOf, type PinnedKey } from './key-pins.js';

/** The key that all n parties attested in a successful keygen, key or reshare result (with its epoch). */
export function attestedKeyOf(
  body: KeygenResultBody | KeyResultBody | ReshareResultBody,
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

/** What an application asked of a refresh or reshare. */
export interface RequestedLifecycle {
  readonly keyId: string;
  /** Reshare: the requested party set and threshold. Refresh: absent (the current ones stay). */
  readonly parties?: readonly string[] | undefined;
  readonly threshold?: number | undefined;
  /** The request's session (initiator and request id): the new epoch's attestations must come from it. */
  readonly session: string;
}

/**
 * The new epoch of a key after a successful refresh or reshare result, checked against
 * what was requested and against the key pinned before: every new party attested it
 * (reshare.done, signed by its pinned identity key, in this request's session), the group
 * key, suite and keygen package are the pinned ones, the epoch is later than the pinned one
 * (or the very same pin, for a repeated request), and the party set and threshold are the
 * requested ones — for a refresh, the pinned ones when the new epoch directly follows it.
 */
export function lifecycleKeyOf(
  body: ReshareResultBody,
  partyKeys: Readonly<Record<string, IdentityPublicKey>>,
  pinned: PinnedKey,
  requested: RequestedLifecycle,
  requestId: string,
): AttestedKey {
  if (body.keyId !== requested.keyId) throw new UntrustedResultError(`answered request "${requestId}" for key "${body.keyId}", "${requested.keyId}" was requested`, requestId);
  const key = attestedKeyOf(
    body,
    partyKeys,
    {
      keyId: requested.keyId,
      suite: pinned.suite,
      ...(requested.parties !== undefined ? { parties: requested.parties } : {}),
      ...(requested.threshold !== undefined ? { threshold: requested.threshold } : {}),
    },
    requestId,
  );
  const refuse = (why: string): never => {
    throw new UntrustedResultError(`result for request "${requestId}": ${why}`, requestId);
  };
  const foreign = (body.attestations ?? []).find((a) => a.type !== MessageType.reshareDone || a.session !== requested.session);
  if (foreign !== undefined) refuse(`the attestation of "${foreign.from}" is not a reshare.done of this request's session`);
  if (key.publicKey !== pinned.publicKey) refuse(`the parties attest group key ${key.publicKey}, "${pinned.keyId}" is pinned to ${pinned.publicKey}`);
  if (key.keygenPackageHash !== keygenHashOf(pinned)) refuse('the parties attest another keygen package than the pinned one');
  if (key.epoch < epochOf(pinned)) refuse(`the parties attest epoch ${key.epoch}, older than the pinned epoch ${epochOf(pinned)}`);
  if (key.epoch === epochOf(pinned) && key.publicPackageHash !== pinned.publicPackageHash) refuse(`the parties attest another public package for the pinned epoch ${key.epoch}`);
  if (body.epoch !== undefined && body.epoch !== key.epoch) refuse(`result names epoch ${body.epoch}, the parties attest ${key.epoch}`);
  // A refresh keeps the set and threshold: checkable against the pin when the new epoch follows it directly
  // (a pin older than that predates another reshare, whose set the parties now attest).
  if (requested.parties === undefined && key.epoch === epochOf(pinned) + 1) {
    const before = [...pinned.parties].sort();
    const sameSet = key.parties.length === before.length && key.parties.every((p, i) => p === before[i]);
    if (!sameSet || key.threshold !== pinned.threshold) refuse(`a refresh attested as ${key.threshold}-of-${key.parties.join(',')}, the key was ${pinned.threshold}-of-${before.join(',')}`);
  }
  return key;
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
  // The chain code comes from the keygen package: child keys are the same in every epoch.
  const derivation = signingDerivation(derivableOf(pinned), requested.path, requested.taproot);
  return derivation === undefined ? pinned.publicKey : verifierKeyHex(derivation);
}
