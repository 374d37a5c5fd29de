/** Non-hardened key derivation for threshold keys: pure functions, no I/O (README "Derivation"). */
export { composeTweaks, IDENTITY_TWEAK, tweakPoint, tweakPublicPackage, tweakScalarBytes, type AffineTweak } from './affine.js';
export { CHAIN_CODE_BYTES, chainCodeOf, taggedSha256 } from './chain-code.js';
export { ckdEd25519, ckdEd448, ckdFor, ckdSecp256k1, type ChildStep } from './ckd.js';
export { curveOfSuite, derivationKeyBytes, derivePath, type DerivedKey, type ExtendedPublicKey } from './derive.js';
export { DerivationError, ed25519Group, ed448Group, groupOfCurve, secp256k1Group, type CurveName, type Group } from './group.js';
export { formatPath, hasPathPrefix, HARDENED_OFFSET, MAX_PATH_DEPTH, parsePath, PathError, type DerivationPath } from './path.js';
export { taprootTweak, type TaprootTweak } from './taproot.js';
export { decodeXpub, encodeXpub, fingerprint, XPUB_VERSION, xpubOf, type Xpub } from './xpub.js';
export { deriveKey, derivedKeyView, exportXpub, signingDerivation, verifierKeyHex, withTaprootTweak, type DerivableKey, type KeyDerivation, type TaprootOption } from './key.js';
