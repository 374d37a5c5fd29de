/** Byte/hex/JSON helpers shared by the protocol. Uint8Array only: no Buffer (its slices share memory). */
import canonicalizeModule from 'canonicalize';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { RefusalCode, RefusedError } from '../ports/errors.js';

export { bytesToHex, utf8ToBytes };

/** Decodes hex that came from outside; wrong length or alphabet is a refusal naming the field. */
export function decodeHex(hex: string, field: string, expectedBytes?: number): Uint8Array<ArrayBuffer> {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new RefusedError(RefusalCode.malformed, `${field}: not lower-case hex`);
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    throw new RefusedError(RefusalCode.malformed, `${field}: expected ${expectedBytes} bytes, got ${hex.length / 2}`);
  }
  return hexToBytes(hex);
}

/** RFC 8785 (JCS) canonical JSON: the exact bytes that identity signatures cover. */
// canonicalize 2.1.0 is CommonJS (`module.exports = fn`) but its typings declare an ESM
// default export, so under NodeNext TypeScript types the default import as the module
// object. At run time Node hands us the function itself; accept either shape, no cast.
const canonicalize: (input: unknown) => string | undefined =
  typeof canonicalizeModule === 'function' ? canonicalizeModule : canonicalizeModule.default;

export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value cannot be canonicalized');
  return text;
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8ToBytes(canonicalJson(value));
}

export function sha256Hex(data: Uint8Array): string {
  return bytesToHex(sha256(data));
}

/** SHA-256 of the canonical JSON of `value`, hex: how public packages are compared. */
export function hashCanonical(value: unknown): string {
  return sha256Hex(canonicalBytes(value));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
