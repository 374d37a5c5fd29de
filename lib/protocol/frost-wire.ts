/** Conversions between noble's byte-array packages and our hex wire forms, plus shared hashes. */
import { RefusalCode, RefusedError } from '../ports/errors.js';
import { bytesToHex, decodeHex, hashCanonical } from './encoding.js';
import type { NonceCommitment, PublicPackage, Round1Package } from './messages.js';
import type { Frost, Suite, SuiteSizes } from './suite.js';
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

/**
 * Decodes a point, scalar, signature or public key of the key's suite. The wire schemas take
 * any suite's sizes; here a value of another length (say an Ed25519-sized commitment relayed
 * into a secp256k1-tr session) is refused before noble sees it.
 */
export function decodeSuiteHex(suite: Pick<Suite, 'name' | 'sizes'>, kind: keyof SuiteSizes, hex: string, field: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeHex(hex, field);
  const expected = suite.sizes[kind];
  if (bytes.length !== expected) {
    throw new RefusedError(RefusalCode.wrongSuiteSize, `${field}: expected ${expected} bytes (${kind} of ${suite.name}), got ${bytes.length}`);
  }
  return bytes;
}

/** Checks a hex value's length against the key's suite without keeping the bytes. */
export function assertSuiteHex(suite: Pick<Suite, 'name' | 'sizes'>, kind: keyof SuiteSizes, hex: string, field: string): void {
  decodeSuiteHex(suite, kind, hex, field);
}

export function round1FromWire(suite: Suite, pkg: Round1Package): FrostRound1 {
  assertSuiteHex(suite, 'scalar', pkg.identifier, 'identifier');
  return {
    identifier: pkg.identifier,
    commitment: pkg.commitment.map((c, i) => decodeSuiteHex(suite, 'element', c, `commitment[${i}]`)),
    proofOfKnowledge: decodeSuiteHex(suite, 'signature', pkg.proofOfKnowledge, 'proofOfKnowledge'),
  };
}

export function publicToWire(pub: FrostPublic): PublicPackage {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: pub.commitments.map(bytesToHex),
    verifyingShares: Object.fromEntries(Object.entries(pub.verifyingShares).map(([id, share]) => [id, bytesToHex(share)])),
  };
}

export function publicFromWire(suite: Suite, pub: PublicPackage): FrostPublic {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: pub.commitments.map((c, i) => decodeSuiteHex(suite, 'element', c, `commitments[${i}]`)),
    verifyingShares: Object.fromEntries(
      Object.entries(pub.verifyingShares).map(([id, share]) => {
        assertSuiteHex(suite, 'scalar', id, 'verifyingShares identifier');
        return [id, decodeSuiteHex(suite, 'element', share, `verifyingShares.${id}`)];
      }),
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

export function commitmentFromWire(suite: Suite, c: NonceCommitment): FrostCommitment {
  assertSuiteHex(suite, 'scalar', c.identifier, 'commitment.identifier');
  return {
    identifier: c.identifier,
    hiding: decodeSuiteHex(suite, 'element', c.hiding, 'commitment.hiding'),
    binding: decodeSuiteHex(suite, 'element', c.binding, 'commitment.binding'),
  };
}

/**
 * The group public key as the suite's verifier takes it (hex; x-only for BIP340), from a
 * public package's group commitment; undefined when that is no element of the suite's size.
 */
export function groupKeyOf(suite: Pick<Suite, 'sizes' | 'publicKeyOf'>, pub: PublicPackage): string | undefined {
  const element = pub.commitments[0];
  if (element === undefined || element.length !== 2 * suite.sizes.element) return undefined;
  return bytesToHex(suite.publicKeyOf(decodeHex(element, 'commitments[0]')));
}

/**
 * RFC 9591 §3.1: both elements of a nonce commitment must deserialize to valid group
 * elements. The commitment is signed by `sender`, so a bad one is its sender's fault: the
 * refusal names it (blame) instead of letting honest signers fail later in signShare.
 */
export function invalidCommitment(suite: Pick<Suite, 'isValidElement' | 'name' | 'sizes'>, commitment: NonceCommitment, sender: string): RefusedError | undefined {
  for (const field of ['hiding', 'binding'] as const) {
    const bytes = decodeHex(commitment[field], `commitment.${field}`);
    if (bytes.length !== suite.sizes.element) {
      return new RefusedError(RefusalCode.wrongSuiteSize, `${field} nonce commitment from "${sender}" has ${bytes.length} bytes, not ${suite.name}'s ${suite.sizes.element}`, {
        blame: sender,
      });
    }
    if (!suite.isValidElement(bytes)) {
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
