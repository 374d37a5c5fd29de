/**
 * The chain code of a threshold key, fixed at keygen without trusting anyone.
 *
 * BIP32 takes the chain code from the seed; a FROST key has no seed anybody holds. Nor may
 * one party or the coordinator pick it: whoever chooses it could steer which children exist.
 * So it is a function of what every party attested at the end of DKG:
 *
 *   chainCode = SHA-256(tag || tag || utf8(suiteId) || 0x00 || publicPackageHash)
 *   tag       = SHA-256("frostline/derivation/chain-code/v1")      (BIP340-style tagged hash)
 *
 * `publicPackageHash` is the SHA-256 of the canonical public package: every coefficient
 * commitment of the group polynomial (not only the group key, commitments[0]) and every
 * verifying share. Each party recomputes it from its own stored package, and the SDK holds it
 * from the n identity-signed attestations, so nobody's word enters. Someone who knows only the
 * group key (a signature verifier, a blockchain observer) cannot compute the chain code and
 * so cannot link child keys to the parent, as with a BIP32 xpub kept private.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeHex, utf8ToBytes } from '../encoding.js';

export const CHAIN_CODE_BYTES = 32;
const CHAIN_CODE_TAG = 'frostline/derivation/chain-code/v1';

export function taggedSha256(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const tagHash = sha256(utf8ToBytes(tag));
  const h = sha256.create().update(tagHash).update(tagHash);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** The key's chain code from its suite id and attested public-package hash (hex). */
export function chainCodeOf(suiteId: string, publicPackageHash: string): Uint8Array {
  return taggedSha256(CHAIN_CODE_TAG, utf8ToBytes(suiteId), Uint8Array.of(0), decodeHex(publicPackageHash, 'publicPackageHash', 32));
}
