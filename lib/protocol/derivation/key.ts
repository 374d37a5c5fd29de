/**
 * Derivation for a frostline key, from data whoever derives already holds and trusts: the
 * suite, the group key and the public-package hash. A party takes them from its own stored
 * public package, the SDK from its pin of the n attestations; nothing comes from the
 * coordinator or the request except the path.
 */
import { bytesToHex, decodeHex } from '../encoding.js';
import { chainCodeOf } from './chain-code.js';
import { curveOfSuite, derivationKeyBytes, derivePath, type DerivedKey } from './derive.js';
import { DerivationError, groupOfCurve, type Group } from './group.js';
import { parsePath } from './path.js';
import { xpubOf } from './xpub.js';
import { composeTweaks, tweakPoint } from './affine.js';
import { taprootTweak } from './taproot.js';

export interface DerivableKey {
  readonly keyId?: string;
  readonly suite: string;
  /** The group key, hex (suite encoding). */
  readonly publicKey: string;
  readonly publicPackageHash: string;
  /**
   * The keygen's public-package hash: the chain code's input, the same in every epoch so that
   * a refresh or reshare changes no child key. Absent: `publicPackageHash` (an epoch-0 key).
   */
  readonly keygenPackageHash?: string | undefined;
}

export interface KeyDerivation extends DerivedKey {
  /** The path as text, "m/0/7". */
  readonly pathText: string;
  readonly group: Group;
}

/** The child of `key` at `pathText` (parsed here: malformed or hardened paths throw one-line errors). */
export function deriveKey(key: DerivableKey, pathText: string): KeyDerivation {
  const path = parsePath(pathText);
  const curve = curveOfSuite(key.suite);
  if (curve === undefined) throw new DerivationError(`suite "${key.suite}" has no derivation scheme`);
  const group = groupOfCurve(curve);
  const rootKey = derivationKeyBytes(curve, decodeHex(key.publicKey, 'publicKey'));
  // A secp256k1-tr key is published x-only (BIP340), which stands for its even-Y point: the
  // derivation root is that point, so the SDK (from the x-only pin) and a party (from its
  // stored compressed package, odd Y about half the time) derive the same child. Shares of
  // an odd-Y stored point are negated first to become shares of the even root.
  const oddRoot = curve === 'secp256k1' && rootKey[0] === 0x03;
  const root = { curve, publicKey: oddRoot ? Uint8Array.of(0x02, ...rootKey.subarray(1)) : rootKey, chainCode: chainCodeOf(key.suite, key.keygenPackageHash ?? key.publicPackageHash) };
  const derived = derivePath(root, path);
  const tweak = oddRoot ? composeTweaks(group, { negate: true, add: 0n }, derived.tweak) : derived.tweak;
  return { ...derived, tweak, pathText, group };
}

/** A signing request's taproot option: sign for the BIP341 output key of the (derived) key, optionally committing to a script tree. */
export interface TaprootOption {
  /** The script tree's merkle root, hex (32 bytes); absent: a key-path-only output (BIP86). */
  readonly merkleRoot?: string | undefined;
}

/**
 * The key a signing request signs under, from the key data and the request's own `path` and
 * `taproot`: undefined for the key itself; else the child at `path` ("m" when absent) and, with
 * `taproot`, that child as BIP341 internal key P tweaked to its output key Q. One function for
 * parties, coordinator and SDK, so all three name the same key.
 */
export function signingDerivation(key: DerivableKey, path: string | undefined, taproot: TaprootOption | undefined): KeyDerivation | undefined {
  if (path === undefined && taproot === undefined) return undefined;
  const derived = deriveKey(key, path ?? 'm');
  if (taproot === undefined) return derived;
  const merkleRoot = taproot.merkleRoot === undefined ? undefined : decodeHex(taproot.merkleRoot, 'taproot.merkleRoot', 32);
  return withTaprootTweak(derived, merkleRoot);
}

/**
 * The key a derivation's signatures verify under, as the suite's verifier takes it (hex):
 * x-only for secp256k1-tr (BIP340), the point itself for the EdDSA suites.
 */
export function verifierKeyHex(derived: KeyDerivation): string {
  return bytesToHex(derived.curve === 'secp256k1' ? derived.publicKey.subarray(1) : derived.publicKey);
}

/** What `frostline derive` and `client.derivePublicKey` report. */
export function derivedKeyView(derived: KeyDerivation): { publicKey: string; chainCode: string; path: string } {
  return { publicKey: verifierKeyHex(derived), chainCode: bytesToHex(derived.chainCode), path: derived.pathText };
}

/** The BIP32 xpub of a secp256k1 key (its root, depth 0); any other suite is refused in one line. */
export function exportXpub(key: DerivableKey): string {
  if (curveOfSuite(key.suite) !== 'secp256k1') {
    throw new DerivationError(`xpub export needs a secp256k1-tr key; key${key.keyId === undefined ? '' : ` "${key.keyId}"`} uses suite "${key.suite}"`);
  }
  return xpubOf(deriveKey(key, 'm'));
}

/**
 * A secp256k1 derivation followed by the BIP341 key-path tweak (optionally with a script
 * tree's merkle root): one affine tweak from the key's shares to the output key's, and the
 * output key Q as a compressed point (its x coordinate is the witness program). This is what
 * the secp256k1-tr signing flow hands to `signingPackage` / `tweakScalarBytes` instead of the
 * plain derivation; BIP340's own even-Y handling of Q stays with the suite.
 */
export function withTaprootTweak(derived: KeyDerivation, merkleRoot?: Uint8Array): KeyDerivation & { readonly outputKey: Uint8Array } {
  if (derived.curve !== 'secp256k1') throw new DerivationError(`taproot tweak is for secp256k1 keys, not ${derived.curve}`);
  const taproot = taprootTweak(derived.publicKey, merkleRoot);
  const publicKey = tweakPoint(derived.group, derived.publicKey, taproot.tweak);
  return { ...derived, publicKey, tweak: composeTweaks(derived.group, derived.tweak, taproot.tweak), outputKey: taproot.outputKey };
}
