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

/**
 * Derivations already computed, by everything they are a function of (suite, key id, group
 * key, public-package hashes, path, taproot merkle root). A session derives its child key at
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
  const ownHash = publicPackageHash(key.publicPackage);
  const derivable = { keyId: key.keyId, suite: key.suite, publicKey: groupKey, publicPackageHash: ownHash, keygenPackageHash: key.keygenPackageHash ?? ownHash };
  // JSON of a fixed-order array: no two different inputs share a key.
  const cacheKey = JSON.stringify([
    derivable.suite,
    derivable.keyId,
    derivable.publicKey,
    derivable.publicPackageHash,
    derivable.keygenPackageHash,
    request.path ?? null,
    request.taproot === undefined ? null : (request.taproot.merkleRoot ?? ''),
  ]);
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

/**
 * Tweaked public packages already computed, per suite object (its Point class decodes them),
 * by the package's hash and the tweak: tweaking costs a point decode, addition and base
 * multiplication per verifying share and for the group key, and the coordinator and every
 * signer need the same package at each signature under a child key. Frozen: shared by callers.
 */
const tweakedPackages = new WeakMap<Suite, Map<string, FrostPublic>>();
const TWEAKED_PACKAGE_CACHE_ENTRIES = 256;
let packagesTweaked = 0;

/** How many public packages were tweaked (not served from the cache) in this process: for tests. */
export function tweakedPackageCount(): number {
  return packagesTweaked;
}

/** The public package to sign or aggregate under: the stored one, or its tweak for the child key. */
export function signingPackage(suite: Suite, publicPackage: PublicPackage, derivation: KeyDerivation | undefined): FrostPublic {
  if (derivation === undefined) return publicFromWire(suite, publicPackage);
  let cache = tweakedPackages.get(suite);
  if (cache === undefined) {
    cache = new Map();
    tweakedPackages.set(suite, cache);
  }
  // The package's own hash (never a caller's word for it) and the whole tweak: the result is a function of these.
  const cacheKey = `${publicPackageHash(publicPackage)}|${derivation.curve}|${String(derivation.tweak.negate)}|${derivation.tweak.add.toString(16)}`;
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const tweaked = tweakPublicPackage(derivation.group, publicFromWire(suite, publicPackage), derivation.tweak);
  packagesTweaked += 1;
  // Its own arrays and records (tweakPublicPackage builds new ones): freezing them touches nothing else.
  for (const part of [tweaked.commitments, tweaked.verifyingShares, tweaked.signers, tweaked]) Object.freeze(part);
  if (cache.size >= TWEAKED_PACKAGE_CACHE_ENTRIES) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(cacheKey, tweaked);
  return tweaked;
}
