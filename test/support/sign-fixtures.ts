/** Hand-built signing inputs for the coordinator's pure transitions: a key from noble's trusted dealer, real commitments and shares. */
import { ed25519Suite } from '../../lib/protocol/suite.js';
import type { KeyRecord, SignSession } from '../../lib/protocol/coordinator-state.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { deriveSessionId, parseBody } from '../../lib/protocol/envelope.js';
import { commitmentFromWire, commitmentToWire, publicFromWire, publicPackageHash, publicToWire, signingPackageHash } from '../../lib/protocol/frost-wire.js';
import { MessageType, type Envelope, type NonceCommitment } from '../../lib/protocol/messages.js';
import { newSignSession } from '../../lib/protocol/sign/coordinator-intake.js';
import { AUDIT, NOW, hex, identifierOf, type Cast } from './coordinator-fixtures.js';

const { frost } = ed25519Suite;
type FrostSecret = ReturnType<typeof frost.trustedDealer>['secretShares'][string];
type Nonces = ReturnType<typeof frost.commit>['nonces'];

export interface SignSetup {
  readonly key: KeyRecord;
  readonly secrets: Record<string, FrostSecret>;
  readonly request: Envelope;
  readonly session: string;
  /** The message to sign, hex. */
  readonly message: string;
}

/** A key shared by a trusted dealer (noble), and a signing request for it. */
export async function signSetup(cast: Cast, options: { keyId?: string; threshold?: number; message?: string } = {}): Promise<SignSetup> {
  const keyId = options.keyId ?? 'k1';
  const threshold = options.threshold ?? 2;
  const parties = [...cast.parties].sort();
  const dealt = frost.trustedDealer({ min: threshold, max: parties.length }, parties.map(identifierOf));
  const publicPackage = publicToWire(dealt.public);
  const key: KeyRecord = {
    keyId,
    suite: ed25519Suite.id,
    threshold,
    parties,
    publicKey: publicPackage.commitments[0] ?? '',
    publicPackage,
    publicPackageHash: publicPackageHash(publicPackage),
    attestations: [],
    createdBy: 'cli',
    session: 'ab'.repeat(16),
    createdAt: NOW,
  };
  const secrets: Record<string, FrostSecret> = {};
  for (const p of parties) {
    const secret = dealt.secretShares[identifierOf(p)];
    if (secret === undefined) throw new Error(`the dealer made no share for ${p}`);
    secrets[p] = secret;
  }
  const requestId = `sign-${keyId}`;
  const session = deriveSessionId('cli', requestId);
  const message = options.message ?? hex('pay 10 to alice');
  const request = await cast.envelope('cli', MessageType.signRequest, session, { requestId, keyId, message });
  return { key, secrets, request, session, message };
}

export function freshSignSession(setup: SignSetup): SignSession {
  return newSignSession(setup.request, { requestId: `sign-${setup.key.keyId}`, keyId: setup.key.keyId, message: setup.message }, setup.key, NOW);
}

export interface Committed {
  readonly envelope: Envelope;
  readonly commitment: NonceCommitment;
  readonly nonces: Nonces;
}

/** `party`'s signed commitment for `attempt`; `change` tampers with it before signing (the party's own doing). */
export async function commitmentOf(cast: Cast, setup: SignSetup, party: string, attempt = 1, change?: (c: NonceCommitment) => NonceCommitment): Promise<Committed> {
  const { nonces, commitments } = frost.commit(secretOf(setup, party));
  const honest = commitmentToWire(commitments);
  const commitment = change === undefined ? honest : change(honest);
  const envelope = await cast.envelope(party, MessageType.signCommitment, setup.session, { attempt, commitment, audit: AUDIT });
  return { envelope, commitment, nonces };
}

/** `party`'s signed signature share for the signing package of `session` (whose signers are fixed). */
export async function shareOf(cast: Cast, setup: SignSetup, session: SignSession, party: string, nonces: Nonces, change?: (share: string) => string): Promise<Envelope> {
  const commitments = session.signers.map((p) => {
    const committed = session.commitments[p];
    if (committed === undefined) throw new Error(`no commitment of ${p} in the session`);
    return parseBody(committed, MessageType.signCommitment).commitment;
  });
  const packageHash = signingPackageHash({ session: setup.session, attempt: session.attempt, keyId: setup.key.keyId, message: setup.message, commitments });
  const bytes = frost.signShare(
    secretOf(setup, party),
    publicFromWire(ed25519Suite, setup.key.publicPackage),
    nonces,
    commitments.map((c) => commitmentFromWire(ed25519Suite, c)),
    new Uint8Array(Buffer.from(setup.message, 'hex')),
  );
  const share = change === undefined ? bytesToHex(bytes) : change(bytesToHex(bytes));
  return cast.envelope(party, MessageType.signShare, setup.session, { attempt: session.attempt, packageHash, share, audit: AUDIT });
}

function secretOf(setup: SignSetup, party: string): FrostSecret {
  const secret = setup.secrets[party];
  if (secret === undefined) throw new Error(`no share for ${party}`);
  return secret;
}
