/** Conversions between noble's byte-array packages and our hex wire forms, plus shared hashes. */
import type { ed25519_FROST } from '@noble/curves/ed25519.js';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import { bytesToHex, decodeHex, hashCanonical } from './encoding.js';
import type { NonceCommitment, PublicPackage, Round1Package } from './messages.js';
import type { Suite } from './suite.js';

type Frost = typeof ed25519_FROST;
export type FrostPublic = ReturnType<Frost['DKG']['round3']>['public'];
export type FrostRound1 = ReturnType<Frost['DKG']['round1']>['public'];
export type FrostCommitment = ReturnType<Frost['commit']>['commitments'];

export function round1ToWire(pkg: FrostRound1): Round1Package {
  return {
    identifier: pkg.identifier,
    commitment: pkg.commitment.map(bytesToHex),
    proofOfKnowledge: bytesToHex(pkg.proofOfKnowledge),
  };
}

export function round1FromWire(pkg: Round1Package): FrostRound1 {
  return {
    identifier: pkg.identifier,
    commitment: pkg.commitment.map((c, i) => decodeHex(c, `commitment[${i}]`, 32)),
    proofOfKnowledge: decodeHex(pkg.proofOfKnowledge, 'proofOfKnowledge', 64),
  };
}

export function publicToWire(pub: FrostPublic): PublicPackage {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: pub.commitments.map(bytesToHex),
    verifyingShares: Object.fromEntries(Object.entries(pub.verifyingShares).map(([id, share]) => [id, bytesToHex(share)])),
  };
}

export function publicFromWire(pub: PublicPackage): FrostPublic {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: pub.commitments.map((c, i) => decodeHex(c, `commitments[${i}]`, 32)),
    verifyingShares: Object.fromEntries(
      Object.entries(pub.verifyingShares).map(([id, share]) => [id, decodeHex(share, `verifyingShares.${id}`, 32)]),
    ),
  };
}

/** Parties see the public package with keys in different orders: hash the canonical form. */
export function publicPackageHash(pub: PublicPackage): string {
  return hashCanonical(pub);
}

export function commitmentToWire(c: FrostCommitment): NonceCommitment {
  return { identifier: c.identifier, hiding: bytesToHex(c.hiding), binding: bytesToHex(c.binding) };
}

export function commitmentFromWire(c: NonceCommitment): FrostCommitment {
  return {
    identifier: c.identifier,
    hiding: decodeHex(c.hiding, 'commitment.hiding', 32),
    binding: decodeHex(c.binding, 'commitment.binding', 32),
  };
}

/**
 * RFC 9591 §3.1: both elements of a nonce commitment must deserialize to valid group
 * elements. The commitment is signed by `sender`, so a bad one is its sender's fault: the
 * refusal names it (blame) instead of letting honest signers fail later in signShare.
 */
export function invalidCommitment(suite: Pick<Suite, 'isValidElement'>, commitment: NonceCommitment, sender: string): RefusedError | undefined {
  for (const field of ['hiding', 'binding'] as const) {
    if (!suite.isValidElement(decodeHex(commitment[field], `commitment.${field}`))) {
      return new RefusedError(RefusalCode.invalidCommitment, `${field} nonce commitment from "${sender}" is not a valid group element`, {
        blame: sender,
      });
    }
  }
  return undefined;
}

/** Commitments sorted by identifier: the order every participant uses. */
export function sortCommitments(list: readonly NonceCommitment[]): NonceCommitment[] {
  return [...list].sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
}

/**
 * Identifies one signing package. A nonce is consumed for exactly one package hash: the
 * same package again gets the stored share, any other package is refused.
 */
export function signingPackageHash(fields: {
  session: string;
  attempt: number;
  keyId: string;
  message: string;
  commitments: readonly NonceCommitment[];
}): string {
  return hashCanonical({ ...fields, commitments: sortCommitments(fields.commitments) });
}

/** Hash of a round-1 transcript (packages and ephemeral keys by party). */
export function round1TranscriptHash(entries: Readonly<Record<string, { package: Round1Package; ephemeralKey: string }>>): string {
  return hashCanonical(entries);
}
