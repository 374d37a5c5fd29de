/**
 * The key a signing request signs under: the group key itself, or, for a request with a
 * path, its child, and for a request with a taproot option (secp256k1-tr) that key's BIP341
 * output key. Each side derives the tweak from its own copy of the key's public package
 * (a party from its stored share record, the coordinator from its key record) and from the
 * path in the initiator's signed request; nothing in a relayed package chooses it.
 */
import { tweakPublicPackage } from '../derivation/affine.js';
import { signingDerivation, type KeyDerivation, type TaprootOption } from '../derivation/key.js';
import { publicFromWire, publicPackageHash, type FrostPublic } from '../frost-wire.js';
import type { PublicPackage } from '../messages.js';
import type { Suite } from '../suite.js';

/** A key as derivation reads it from a stored record with a public package. */
export interface PackageKey {
  readonly keyId: string;
  readonly suite: string;
  readonly publicPackage: PublicPackage;
  /** The keygen's package hash, fixing the chain code across epochs (absent: this package's, epoch 0). */
  readonly keygenPackageHash?: string | undefined;
}

/** What of a signing request chooses the key: its derivation path and its taproot option. */
export interface SigningKeyChoice {
  readonly path?: string | undefined;
  readonly taproot?: TaprootOption | undefined;
}

/** The derivation for the request's path and taproot option from the record's own public package (its hash recomputed, never read). */
export function derivationOf(key: PackageKey, request: SigningKeyChoice): KeyDerivation | undefined {
  if (request.path === undefined && request.taproot === undefined) return undefined;
  const groupKey = key.publicPackage.commitments[0];
  if (groupKey === undefined) throw new Error(`key "${key.keyId}" has an empty public package`);
  const ownHash = publicPackageHash(key.publicPackage);
  return signingDerivation(
    { keyId: key.keyId, suite: key.suite, publicKey: groupKey, publicPackageHash: ownHash, keygenPackageHash: key.keygenPackageHash ?? ownHash },
    request.path,
    request.taproot,
  );
}

/** The public package to sign or aggregate under: the stored one, or its tweak for the child key. */
export function signingPackage(suite: Suite, publicPackage: PublicPackage, derivation: KeyDerivation | undefined): FrostPublic {
  const pub = publicFromWire(suite, publicPackage);
  return derivation === undefined ? pub : tweakPublicPackage(derivation.group, pub, derivation.tweak);
}
