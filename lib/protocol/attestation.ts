/**
 * Key attestations: what an application may believe about a key, and why.
 *
 * The coordinator relays; parties attest. Each party's signed `dkg.done` states the key id,
 * suite, threshold, party set, group key and public-package hash it finished DKG with. A key
 * result is trusted only when it carries one such attestation from every party of the key,
 * each signed by that party's pinned identity key, and all of them agree. Nothing in the
 * result outside the attestations is used.
 */
import { FrostlineError } from '../ports/errors.js';
import type { IdentityPublicKey } from '../ports/key-vault.js';
import { decodeHex } from './encoding.js';
import { envelopeSigningInput } from './envelope.js';
import { groupKeyOf, publicPackageHash } from './frost-wire.js';
import { verifyIdentitySignature } from './identity.js';
import { DkgDoneBody, MessageType, type AuditAnchor, type Envelope, type PublicPackage } from './messages.js';
import { suiteById } from './suites.js';

/** A key as its parties attested it. */
export interface AttestedKey {
  readonly keyId: string;
  readonly suite: string;
  readonly threshold: number;
  /** Every party of the key, sorted. */
  readonly parties: readonly string[];
  /** The group public key, hex. */
  readonly publicKey: string;
  readonly publicPackageHash: string;
  /** The epoch attested: 0 from keygen (`dkg.done`), one more per refresh or reshare (`reshare.done`). */
  readonly epoch: number;
  /** The keygen's package hash, which fixes the derivation chain code in every epoch. */
  readonly keygenPackageHash: string;
  /** The attested public package (verifying shares of this epoch's parties). */
  readonly publicPackage: PublicPackage;
  /** Each party's audit-chain head when it attested (anchors for `audit verify`). */
  readonly auditAnchors: Readonly<Record<string, AuditAnchor>>;
}

/** What the application itself asked for, when it asked for a new key. */
export interface ExpectedKey {
  readonly keyId: string;
  readonly threshold?: number;
  readonly parties?: readonly string[];
  /** The suite requested (RFC 9591 context string). */
  readonly suite?: string;
}

/** The coordinator's key result is not backed by the parties' attestations. */
export class AttestationError extends FrostlineError {
  override readonly name = 'AttestationError';
  constructor(message: string) {
    super('untrusted-result', message);
  }
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Verifies the n attestations of a key against the parties' pinned identity keys and
 * returns the key they agree on. Throws `AttestationError` naming what does not hold.
 */
export function verifyKeyAttestations(
  attestations: readonly Envelope[] | undefined,
  partyKeys: Readonly<Record<string, IdentityPublicKey>>,
  expected: ExpectedKey,
): AttestedKey {
  if (attestations === undefined || attestations.length === 0) {
    throw new AttestationError(`coordinator sent key "${expected.keyId}" without the parties' attestations`);
  }
  const bodies = new Map<string, DkgDoneBody>();
  let session: string | undefined;
  for (const envelope of attestations) {
    const party = envelope.from;
    if (envelope.type !== MessageType.dkgDone && envelope.type !== MessageType.reshareDone) {
      throw new AttestationError(`attestation from "${party}" is a ${envelope.type}, not a dkg.done or reshare.done`);
    }
    const key = Object.hasOwn(partyKeys, party) ? partyKeys[party] : undefined;
    if (key === undefined) throw new AttestationError(`attestation from "${party}", which is not a pinned party`);
    const { sig, ...unsigned } = envelope;
    if (!verifyIdentitySignature(key, envelopeSigningInput(unsigned), decodeHex(sig, 'sig'))) {
      throw new AttestationError(`attestation from "${party}" is not signed by its pinned identity key`);
    }
    const parsed = DkgDoneBody.safeParse(envelope.body);
    if (!parsed.success) throw new AttestationError(`attestation from "${party}" is malformed`);
    if (bodies.has(party)) throw new AttestationError(`two attestations from "${party}"`);
    // A keygen attests epoch 0 and nothing else; a refresh or reshare a later epoch and the keygen's hash.
    const epoch = parsed.data.epoch ?? 0;
    const fromKeygen = envelope.type === MessageType.dkgDone;
    if (fromKeygen ? epoch !== 0 || parsed.data.keygenPackageHash !== undefined : epoch < 1 || parsed.data.keygenPackageHash === undefined) {
      throw new AttestationError(`attestation from "${party}" is a ${envelope.type} for epoch ${epoch}`);
    }
    if (session !== undefined && envelope.session !== session) throw new AttestationError(`attestations come from different keygen sessions`);
    session = envelope.session;
    bodies.set(party, parsed.data);
  }

  const [first] = bodies.values();
  if (first === undefined) throw new AttestationError('no attestations');
  const suite = suiteById(first.suite);
  if (suite === undefined) throw new AttestationError(`attested suite "${first.suite}" is not supported`);
  if (expected.suite !== undefined && expected.suite !== first.suite) {
    throw new AttestationError(`parties attest suite ${first.suite}, ${expected.suite} was requested`);
  }
  for (const [party, body] of bodies) {
    const agrees =
      body.keyId === first.keyId &&
      body.suite === first.suite &&
      body.threshold === first.threshold &&
      sameList(body.parties, first.parties) &&
      body.groupKey === first.groupKey &&
      body.publicPackageHash === first.publicPackageHash &&
      (body.epoch ?? 0) === (first.epoch ?? 0) &&
      body.keygenPackageHash === first.keygenPackageHash;
    if (!agrees) throw new AttestationError(`party "${party}" attests a different key than the others`);
    if (publicPackageHash(body.publicPackage) !== body.publicPackageHash || groupKeyOf(suite, body.publicPackage) !== body.groupKey) {
      throw new AttestationError(`attestation from "${party}" is inconsistent with its own public package`);
    }
  }
  const parties = first.parties;
  if (!sameList([...parties].sort(), parties) || new Set(parties).size !== parties.length) {
    throw new AttestationError('attested party list is not sorted and unique');
  }
  if (!sameList([...bodies.keys()].sort(), parties)) {
    throw new AttestationError(`attestations from ${[...bodies.keys()].sort().join(', ')} do not cover exactly the parties ${parties.join(', ')}`);
  }
  if (first.threshold < 2 || first.threshold > parties.length) throw new AttestationError(`attested threshold ${first.threshold} is not usable`);
  if (first.keyId !== expected.keyId) throw new AttestationError(`attestations are for key "${first.keyId}", not "${expected.keyId}"`);
  if (expected.threshold !== undefined && expected.threshold !== first.threshold) {
    throw new AttestationError(`parties attest threshold ${first.threshold}, ${expected.threshold} was requested`);
  }
  if (expected.parties !== undefined && !sameList([...expected.parties].sort(), parties)) {
    throw new AttestationError(`parties attest the set ${parties.join(', ')}, ${[...expected.parties].sort().join(', ')} was requested`);
  }
  return {
    keyId: first.keyId,
    suite: first.suite,
    threshold: first.threshold,
    parties: [...parties],
    publicKey: first.groupKey,
    publicPackageHash: first.publicPackageHash,
    epoch: first.epoch ?? 0,
    keygenPackageHash: first.keygenPackageHash ?? first.publicPackageHash,
    publicPackage: first.publicPackage,
    auditAnchors: Object.fromEntries([...bodies].map(([party, body]) => [party, body.audit])),
  };
}
