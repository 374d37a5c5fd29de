/**
 * BIP341 key-path tweak: Q = P_even + t·G with t = tagged_hash("TapTweak", x(P) || merkle_root),
 * merkle root omitted for a key-path-only output (BIP86). As an affine tweak of the key P
 * that the shares belong to: negate when P has odd Y (BIP340 lifts it to even Y), then add t.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import type { AffineTweak } from './affine.js';
import { DerivationError, secp256k1Group } from './group.js';

export interface TaprootTweak {
  /** Q as BIP340 x-only bytes: the witness program / output key. */
  readonly outputKey: Uint8Array;
  /** Whether Q has odd Y (the control-block parity bit for script-path spends). */
  readonly outputParityOdd: boolean;
  /** The tweak mapping the shares of P to shares of Q (before Q's own even-Y lift at signing). */
  readonly tweak: AffineTweak;
}

/** `internalKey`: 33-byte compressed P, or 32-byte x-only (then P is the even-Y lift). */
export function taprootTweak(internalKey: Uint8Array, merkleRoot?: Uint8Array): TaprootTweak {
  if (merkleRoot !== undefined && merkleRoot.length !== 32) throw new DerivationError('taproot merkle root must be 32 bytes');
  const full = internalKey.length === 32 ? Uint8Array.of(0x02, ...internalKey) : internalKey;
  if (full.length !== 33) throw new DerivationError('taproot internal key must be 33 (compressed) or 32 (x-only) bytes');
  secp256k1Group.assertPoint(full, 'taproot internal key');
  const xOnly = full.subarray(1);
  const t = schnorr.utils.taggedHash('TapTweak', xOnly, merkleRoot ?? new Uint8Array(0));
  const add = bytesToNumberBE(t);
  if (add >= secp256k1Group.order) throw new DerivationError('BIP341: tweak is not below the group order (invalid)');
  const tweak: AffineTweak = { negate: full[0] === 0x03, add };
  const q = secp256k1Group.affinePoint(full, tweak.negate, add);
  return { outputKey: q.slice(1), outputParityOdd: q[0] === 0x03, tweak };
}
