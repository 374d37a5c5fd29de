/**
 * An affine key tweak x ↦ ±x + b, applied consistently to a whole FROST key package:
 *
 *   signing share     s_i ↦ ±s_i + b
 *   verifying share   Y_i ↦ ±Y_i + b·G
 *   group key         P   ↦ ±P   + b·G
 *   commitments       C_0 ↦ ±C_0 + b·G,  C_j ↦ ±C_j (j ≥ 1)
 *
 * This is again a valid Shamir sharing of ±x + b: the Lagrange coefficients of any signer set
 * sum to 1, so Σ λ_i (±s_i + b) = ±x + b. Non-hardened derivation is (+, τ); BIP341's taproot
 * tweak is (odd(P) ? − : +, t) because BIP340 lifts P to even Y first. Composition of a path
 * and a taproot tweak is one affine tweak (`composeTweaks`).
 *
 * The tweak itself is public (anyone with the chain code can compute it); only the tweaked
 * share is secret, and it lives as long as the share it came from: one invocation.
 */
import type { Group } from './group.js';

export interface AffineTweak {
  readonly negate: boolean;
  /** b, reduced mod the group order. */
  readonly add: bigint;
}

export const IDENTITY_TWEAK: AffineTweak = { negate: false, add: 0n };

/** `then ∘ first`: x ↦ then(first(x)) = ±₂(±₁x + b₁) + b₂. */
export function composeTweaks(group: Group, first: AffineTweak, then: AffineTweak): AffineTweak {
  return {
    negate: first.negate !== then.negate,
    add: group.mod((then.negate ? -first.add : first.add) + then.add),
  };
}

/** ±P + b·G for a public point (group key, verifying share, constant commitment). */
export function tweakPoint(group: Group, point: Uint8Array, tweak: AffineTweak): Uint8Array {
  return group.affinePoint(point, tweak.negate, tweak.add);
}

/**
 * ±s + b for a signing share, as a new buffer the caller owns and must wipe. The bigint
 * intermediates cannot be wiped (README "Secrets in memory"); they live for this call only.
 */
export function tweakScalarBytes(group: Group, share: Uint8Array, tweak: AffineTweak): Uint8Array {
  const s = group.scalarFromBytes(share);
  return group.scalarToBytes(group.mod((tweak.negate ? -s : s) + tweak.add));
}

/** The public package shape noble's FROST uses (bytes). */
export interface PublicPackageBytes {
  readonly signers: { readonly min: number; readonly max: number };
  readonly commitments: readonly Uint8Array[];
  readonly verifyingShares: Readonly<Record<string, Uint8Array>>;
}

export function tweakPublicPackage<T extends PublicPackageBytes>(group: Group, pub: T, tweak: AffineTweak): T {
  const commitments = pub.commitments.map((c, j) => (j === 0 ? tweakPoint(group, c, tweak) : tweak.negate ? group.affinePoint(c, true, 0n) : c));
  const verifyingShares = Object.fromEntries(Object.entries(pub.verifyingShares).map(([id, y]) => [id, tweakPoint(group, y, tweak)]));
  return { ...pub, commitments, verifyingShares };
}
