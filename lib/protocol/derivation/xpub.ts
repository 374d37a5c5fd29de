/**
 * BIP32 extended public keys ("xpub…", mainnet version 0x0488B21E) for secp256k1 keys:
 * version(4) || depth(1) || parent fingerprint(4) || child number(4) || chain code(32) || serP(K)(33),
 * base58check. The fingerprint is the first 4 bytes of HASH160(serP(parent)).
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check } from '@scure/base';
import { CHAIN_CODE_BYTES } from './chain-code.js';
import type { DerivedKey } from './derive.js';
import { DerivationError, secp256k1Group } from './group.js';
import { MAX_PATH_DEPTH } from './path.js';

export const XPUB_VERSION = 0x0488b21e;
const XPUB_BYTES = 78;
const base58check = createBase58check(sha256);

export interface Xpub {
  readonly depth: number;
  readonly parentFingerprint: number;
  readonly childNumber: number;
  readonly chainCode: Uint8Array;
  /** 33-byte compressed point. */
  readonly publicKey: Uint8Array;
}

export function fingerprint(publicKey: Uint8Array): number {
  const h = ripemd160(sha256(publicKey));
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0, false);
}

export function encodeXpub(key: Xpub): string {
  if (key.chainCode.length !== CHAIN_CODE_BYTES) throw new DerivationError('xpub chain code must be 32 bytes');
  if (!Number.isInteger(key.depth) || key.depth < 0 || key.depth > 255) throw new DerivationError('xpub depth must fit one byte');
  if (key.publicKey.length !== 33) throw new DerivationError('xpub key must be a 33-byte compressed secp256k1 point');
  secp256k1Group.assertPoint(key.publicKey, 'xpub key');
  const out = new Uint8Array(XPUB_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, XPUB_VERSION, false);
  out[4] = key.depth;
  view.setUint32(5, key.parentFingerprint, false);
  view.setUint32(9, key.childNumber, false);
  out.set(key.chainCode, 13);
  out.set(key.publicKey, 45);
  return base58check.encode(out);
}

/** Parses and checks an xpub (BIP32 test vector 5's public cases are refused). */
export function decodeXpub(text: string): Xpub {
  let raw: Uint8Array;
  try {
    raw = base58check.decode(text);
  } catch {
    throw new DerivationError('xpub is not valid base58check');
  }
  if (raw.length !== XPUB_BYTES) throw new DerivationError(`xpub must decode to ${XPUB_BYTES} bytes`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (view.getUint32(0, false) !== XPUB_VERSION) throw new DerivationError('not an xpub (version is not 0x0488B21E)');
  const depth = raw[4] ?? 0;
  const parentFingerprint = view.getUint32(5, false);
  const childNumber = view.getUint32(9, false);
  if (depth === 0 && (parentFingerprint !== 0 || childNumber !== 0)) throw new DerivationError('xpub at depth 0 with a parent fingerprint or child number');
  const publicKey = raw.slice(45);
  if (publicKey[0] !== 0x02 && publicKey[0] !== 0x03) throw new DerivationError('xpub key is not a compressed point');
  secp256k1Group.assertPoint(publicKey, 'xpub key');
  return { depth, parentFingerprint, childNumber, chainCode: raw.slice(13, 45), publicKey };
}

/** The xpub of a derived secp256k1 key; `rootDepth` is the depth of the root xpub (0 for a frostline key). */
export function xpubOf(key: DerivedKey, rootDepth = 0, rootParentFingerprint = 0, rootChildNumber = 0): string {
  if (key.curve !== 'secp256k1') throw new DerivationError(`xpub export is for secp256k1 keys, not ${key.curve}`);
  const depth = rootDepth + key.path.length;
  if (key.path.length > MAX_PATH_DEPTH) throw new DerivationError('path too deep');
  const last = key.path.at(-1);
  return encodeXpub({
    depth,
    parentFingerprint: last === undefined ? rootParentFingerprint : fingerprint(key.parentKey),
    childNumber: last === undefined ? rootChildNumber : last,
    chainCode: key.chainCode,
    publicKey: key.publicKey,
  });
}

