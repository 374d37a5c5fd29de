/**
 * The smallest schemas, shared by the wire format (messages.ts) and stored state: byte
 * strings are lower-case hex of a known length, so one value has one spelling.
 */
import * as z from 'zod/mini';
import './zod-locale.js';
import { GCM_TAG_BYTES } from './aead.js';
import { MAX_SIZES } from './suites.js';

/** Exactly `bytes` bytes, as lower-case hex. */
export const hex = (bytes: number) => z.string().check(z.regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes} bytes of hex`));

/** At most `maxBytes` bytes, as lower-case hex (whole bytes only). */
export const hexUpTo = (maxBytes: number) =>
  z.string().check(z.maxLength(maxBytes * 2), z.regex(/^(?:[0-9a-f]{2})*$/, 'expected hex'));

/** 32 bytes of hex: a SHA-256 digest or an X25519 key (never a suite's point or scalar: those are below). */
export const Hex32 = hex(32);

/**
 * A suite's encodings, bounded by the largest suite's: the exact length depends on the key's
 * suite and is checked where the value is decoded against it (frost-wire.ts), with a
 * `wrong-suite-size` refusal.
 */
const suiteHex = (maxBytes: number) => hexUpTo(maxBytes).check(z.minLength(2));
/** SerializeElement of the key's suite. */
export const ElementHex = suiteHex(MAX_SIZES.element);
/** SerializeScalar of the key's suite (identifiers, shares). */
export const ScalarHex = suiteHex(MAX_SIZES.scalar);
/** A final signature (or DKG proof of knowledge) of the key's suite. */
export const SignatureHex = suiteHex(MAX_SIZES.signature);
/** A group public key as the key's suite's verifier takes it. */
export const PublicKeyHex = suiteHex(MAX_SIZES.publicKey);
/** A signing share sealed with AES-256-GCM (the scalar and the tag); its length is checked when opened. */
export const SealedScalarHex = suiteHex(MAX_SIZES.scalar + GCM_TAG_BYTES);
