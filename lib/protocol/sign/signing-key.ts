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
}

/** What of a signing request chooses the key: its derivation path and its taproot option. */
export interface SigningKeyChoice {
  readonly path?: string | undefined;
  readonly taproot?: TaprootOption | undefined;
}

/**
 * Derivations already computed, by everything they are a function of (suite, key id, group
 * key, public-package hash, path, taproot merkle root). A session derives its child key at
 * intake, for each message the coordinator sends and at aggregation, and each party at both
 * rounds: the curve work (a point addition and a base multiplication per path level) is done
 * once per distinct input instead. Only successful derivations are kept (a refused path is
 * refused again every time); the bound only evicts. Process-wide, like the point cache:
 * nothing in it is secret (public keys, chain codes and public tweaks).
 */
const derivations = new Map<string, KeyDerivation>();
const DERIVATION_CACHE_ENTRIES = 256;
let derivationsComputed = 0;

/** How many derivations were computed (not served from the cache) in this process: for tests. */
export function derivationCount(): number {
  return derivationsComputed;
}

/** The derivation for the request's path and taproot option from the record's own public package (its hash recomputed, never read). */
export function derivationOf(key: PackageKey, request: SigningKeyChoice): KeyDerivation | undefined {
  if (request.path === undefined && request.taproot === undefined) return undefined;
  const groupKey = key.publicPackage.commitments[0];
  if (groupKey === undefined) throw new Error(`key "${key.keyId}" has an empty public package`);
  const derivable = { keyId: key.keyId, suite: key.suite, publicKey: groupKey, publicPackageHash: publicPackageHash(key.publicPackage) };
  // JSON of a fixed-order array: no two different inputs share a key.
  const cacheKey = JSON.stringify([derivable.suite, derivable.keyId, derivable.publicKey, derivable.publicPackageHash, request.path ?? null, request.taproot === undefined ? null : (request.taproot.merkleRoot ?? '')]);
  const cached = derivations.get(cacheKey);
  if (cached !== undefined) return cached;
  const derived = signingDerivation(derivable, request.path, request.taproot);
  derivationsComputed += 1;
  if (derived === undefined) return undefined;
  if (derivations.size >= DERIVATION_CACHE_ENTRIES) {
    const oldest = derivations.keys().next();
    if (oldest.done !== true) derivations.delete(oldest.value);
  }
  derivations.set(cacheKey, derived);
  return derived;
}

/** The public package to sign or aggregate under: the stored one, or its tweak for the child key. */
export function signingPackage(suite: Suite, publicPackage: PublicPackage, derivation: KeyDerivation | undefined): FrostPublic {
  const pub = publicFromWire(suite, publicPackage);
  return derivation === undefined ? pub : tweakPublicPackage(derivation.group, pub, derivation.tweak);
}
