/**
 * Derivation along a path: the child key, its chain code, and the one affine tweak that maps
 * the parent's shares to the child's. The parent is the key's group key with the chain code
 * from chain-code.ts; the tweak is the sum of the per-step τ (mod the order).
 */
import { composeTweaks, IDENTITY_TWEAK, type AffineTweak } from './affine.js';
import { ckdFor } from './ckd.js';
import { DerivationError, groupOfCurve, type CurveName } from './group.js';
import type { DerivationPath } from './path.js';

export interface ExtendedPublicKey {
  readonly curve: CurveName;
  /** The suite's point encoding (33-byte compressed for secp256k1). */
  readonly publicKey: Uint8Array;
  readonly chainCode: Uint8Array;
}

export interface DerivedKey extends ExtendedPublicKey {
  readonly path: DerivationPath;
  /** parent shares s ↦ s + τ give child shares (never negated: that is taproot's job). */
  readonly tweak: AffineTweak;
  /** The key one step up (the root itself for "m"): BIP32's parent fingerprint comes from it. */
  readonly parentKey: Uint8Array;
}

export function derivePath(root: ExtendedPublicKey, path: DerivationPath): DerivedKey {
  const group = groupOfCurve(root.curve);
  const ckd = ckdFor(root.curve);
  let current = { publicKey: root.publicKey, chainCode: root.chainCode };
  let parentKey = root.publicKey;
  let tweak = IDENTITY_TWEAK;
  for (const index of path) {
    const step = ckd(current.publicKey, current.chainCode, index);
    parentKey = current.publicKey;
    tweak = composeTweaks(group, tweak, { negate: false, add: step.tweak });
    current = { publicKey: step.publicKey, chainCode: step.chainCode };
  }
  return { curve: root.curve, publicKey: current.publicKey, chainCode: current.chainCode, path, tweak, parentKey };
}

/** Suite id → curve for derivation; undefined for a suite derivation does not know. */
export function curveOfSuite(suiteId: string): CurveName | undefined {
  switch (suiteId) {
    case 'FROST-ED25519-SHA512-v1':
      return 'ed25519';
    case 'FROST-ED448-SHAKE256-v1':
      return 'ed448';
    case 'FROST-secp256k1-SHA256-TR-v1':
      return 'secp256k1';
    default:
      return undefined;
  }
}

/**
 * The group key as derivation wants it: the suite encoding, except that a 32-byte x-only
 * secp256k1 key (BIP340) becomes the compressed even-Y point it stands for.
 */
export function derivationKeyBytes(curve: CurveName, groupKey: Uint8Array): Uint8Array {
  if (curve === 'secp256k1' && groupKey.length === 32) return Uint8Array.of(0x02, ...groupKey);
  const group = groupOfCurve(curve);
  if (groupKey.length !== group.pointBytes) throw new DerivationError(`group key must be ${group.pointBytes} bytes for ${curve}`);
  return groupKey;
}
