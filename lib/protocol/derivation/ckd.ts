/**
 * Non-hardened child-key derivation (public parent → public child) per curve. Every step
 * yields the child key, the child chain code and the scalar tweak τ with child = parent + τ·G,
 * so a threshold key can sign for the child with shares s_i + τ (affine.ts).
 *
 * secp256k1 — BIP32 CKDpub exactly:
 *   I = HMAC-SHA512(c, serP(K) || ser32(i));  τ = parse256(IL);  K_i = K + τ·G;  c_i = IR
 *   IL ≥ n or K_i = ∞ is refused (BIP32 says "proceed with the next index"; we refuse and
 *   let the caller choose, so no path silently means another one).
 *
 * Ed25519 — the same shape, domain-separated, scalars little-endian as in RFC 8032:
 *   I = HMAC-SHA512(c, "frostline/ckd/ed25519/v1" || enc(A) || ser32(i))
 *   τ = le(IL) mod L;  A_i = A + τ·B;  c_i = IR                      (IL, IR: 32 bytes each)
 *
 * Ed448 — the group order is 446 bits, so a 32-byte IL would leave τ far from uniform; the
 * suite's own width (RFC 8032 reduces 114-byte SHAKE256 outputs mod L) is used instead:
 *   I = SHAKE256("frostline/ckd/ed448/v1" || c || enc(A) || ser32(i), 146 bytes)
 *   τ = le(I[0..114]) mod L;  A_i = A + τ·B;  c_i = I[114..146]
 * (SHAKE256 with the chain code as a fixed-length prefix is a PRF keyed by it, the role
 * HMAC plays for SHA-512.)
 *
 * For both Edwards curves τ = 0 or A_i = identity is refused like BIP32's invalid IL.
 * Children stay in the prime-order subgroup: A is in it (checked at keygen) and so is τ·B.
 */
import { bytesToNumberBE, bytesToNumberLE } from '@noble/curves/utils.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { concatBytes, utf8ToBytes } from '../encoding.js';
import { CHAIN_CODE_BYTES } from './chain-code.js';
import { DerivationError, ed25519Group, ed448Group, secp256k1Group, type CurveName, type Group } from './group.js';
import { HARDENED_OFFSET, ser32 } from './path.js';

export interface ChildStep {
  readonly publicKey: Uint8Array;
  readonly chainCode: Uint8Array;
  /** τ for this step, reduced mod the group order. */
  readonly tweak: bigint;
}


function finish(group: Group, parent: Uint8Array, tweak: bigint, chainCode: Uint8Array): ChildStep {
  const publicKey = group.affinePoint(parent, false, tweak);
  return { publicKey, chainCode, tweak };
}

function checkInputs(group: Group, parent: Uint8Array, chainCode: Uint8Array, index: number): void {
  if (chainCode.length !== CHAIN_CODE_BYTES) throw new DerivationError(`chain code must be ${CHAIN_CODE_BYTES} bytes`);
  if (!Number.isInteger(index) || index < 0 || index >= HARDENED_OFFSET) throw new DerivationError(`index ${index} is not a non-hardened index`);
  if (parent.length !== group.pointBytes) throw new DerivationError(`parent key must be ${group.pointBytes} bytes`);
  group.assertPoint(parent, 'parent key');
}

export function ckdSecp256k1(parent: Uint8Array, chainCode: Uint8Array, index: number): ChildStep {
  const group = secp256k1Group;
  checkInputs(group, parent, chainCode, index);
  const I = hmac(sha512, chainCode, concatBytes(parent, ser32(index)));
  const tweak = bytesToNumberBE(I.subarray(0, 32));
  if (tweak >= group.order) throw new DerivationError(`BIP32: index ${index} gives IL >= n (invalid child); use another index`);
  try {
    return finish(group, parent, tweak, I.slice(32));
  } catch (error) {
    if (error instanceof DerivationError) throw new DerivationError(`BIP32: index ${index} gives the point at infinity (invalid child); use another index`);
    throw error;
  }
}

function ckdEdwards(group: Group, tag: string, parent: Uint8Array, chainCode: Uint8Array, index: number, split: (input: Uint8Array) => [Uint8Array, Uint8Array]): ChildStep {
  checkInputs(group, parent, chainCode, index);
  const [IL, IR] = split(concatBytes(utf8ToBytes(tag), parent, ser32(index)));
  const tweak = group.mod(bytesToNumberLE(IL));
  if (tweak === 0n) throw new DerivationError(`index ${index} gives a zero tweak (invalid child); use another index`);
  try {
    return finish(group, parent, tweak, IR);
  } catch (error) {
    if (error instanceof DerivationError) throw new DerivationError(`index ${index} gives the identity (invalid child); use another index`);
    throw error;
  }
}

export function ckdEd25519(parent: Uint8Array, chainCode: Uint8Array, index: number): ChildStep {
  return ckdEdwards(ed25519Group, 'frostline/ckd/ed25519/v1', parent, chainCode, index, (input) => {
    const I = hmac(sha512, chainCode, input);
    return [I.subarray(0, 32), I.slice(32)];
  });
}

const ED448_WIDE_BYTES = 114;
export function ckdEd448(parent: Uint8Array, chainCode: Uint8Array, index: number): ChildStep {
  const tag = 'frostline/ckd/ed448/v1';
  return ckdEdwards(ed448Group, tag, parent, chainCode, index, (input) => {
    // The tag leads `input`; put the chain code right after it, as a keyed prefix.
    const tagBytes = utf8ToBytes(tag);
    const I = shake256(concatBytes(tagBytes, chainCode, input.subarray(tagBytes.length)), { dkLen: ED448_WIDE_BYTES + CHAIN_CODE_BYTES });
    return [I.subarray(0, ED448_WIDE_BYTES), I.slice(ED448_WIDE_BYTES)];
  });
}

export function ckdFor(curve: CurveName): (parent: Uint8Array, chainCode: Uint8Array, index: number) => ChildStep {
  return curve === 'secp256k1' ? ckdSecp256k1 : curve === 'ed25519' ? ckdEd25519 : ckdEd448;
}
