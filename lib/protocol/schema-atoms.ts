/**
 * The smallest schemas, shared by the wire format (messages.ts) and stored state: byte
 * strings are lower-case hex of a known length, so one value has one spelling.
 */
import * as z from 'zod/mini';
import './zod-locale.js';

/** Exactly `bytes` bytes, as lower-case hex. */
export const hex = (bytes: number) => z.string().check(z.regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes} bytes of hex`));

/** At most `maxBytes` bytes, as lower-case hex (whole bytes only). */
export const hexUpTo = (maxBytes: number) =>
  z.string().check(z.maxLength(maxBytes * 2), z.regex(/^(?:[0-9a-f]{2})*$/, 'expected hex'));

/** 32 bytes of hex: a SHA-256 digest, an Ed25519 point or scalar, an identifier. */
export const Hex32 = hex(32);
