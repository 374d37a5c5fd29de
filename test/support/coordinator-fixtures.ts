/**
 * Hand-built inputs for the coordinator's pure transitions: in-memory Ed25519 identities,
 * signed envelopes, a real DKG and real FROST signing with noble (so every package, share and
 * signature is what an honest party would send), and sessions in any phase. No cluster, no
 * store, no transport.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import type { IdentityPublicKey, KeyVault } from '../../lib/ports/key-vault.js';
import type { KeygenSession, KeyRecord, SignSession } from '../../lib/protocol/coordinator-state.js';
import type { TransitionContext } from '../../lib/protocol/coordinator-step.js';
import type { Directory } from '../../lib/protocol/directory.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { createEnvelope, deriveSessionId, parseBody } from '../../lib/protocol/envelope.js';
import {
  commitmentFromWire,
  commitmentToWire,
  publicFromWire,
  publicPackageHash,
  publicToWire,
  round1ToWire,
  signingPackageHash,
} from '../../lib/protocol/frost-wire.js';
import { newKeygenSession } from '../../lib/protocol/keygen/coordinator-intake.js';
import { COORDINATOR, MessageType, type BodyOf, type Envelope, type NonceCommitment } from '../../lib/protocol/messages.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { sealShare } from '../../lib/protocol/share-sealing.js';
import { newSignSession } from '../../lib/protocol/sign/coordinator-intake.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';

export const NOW = 1_800_000_000_000;
export const AUDIT = { seq: 0, hash: '00'.repeat(32) };
const { frost } = ed25519Suite;
type FrostSecret = ReturnType<typeof frost.trustedDealer>['secretShares'][string];
type Nonces = ReturnType<typeof frost.commit>['nonces'];

export const hex = (text: string) => bytesToHex(new TextEncoder().encode(text));
export const identifierOf = (party: string) => frost.Identifier.derive(party);

interface Identity {
  readonly vault: Pick<KeyVault, 'signIdentity'>;
  readonly publicKey: IdentityPublicKey;
}

function memoryIdentity(): Identity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    vault: { signIdentity: async (message) => new Uint8Array(sign(null, message, privateKey)) },
    publicKey: { alg: 'ed25519', spki: publicKey.export({ type: 'spki', format: 'der' }).toString('hex') },
  };
}

/** Everyone in a test: the coordinator, the parties and one initiator (`cli`), each with an identity key. */
export class Cast {
  readonly directory: Directory;
  readonly #identities: ReadonlyMap<string, Identity>;

  constructor(readonly parties: readonly string[] = ['p1', 'p2', 'p3']) {
    const identities = new Map<string, Identity>([[COORDINATOR, memoryIdentity()], ['cli', memoryIdentity()]]);
    for (const party of parties) identities.set(party, memoryIdentity());
    this.#identities = identities;
    const key = (name: string) => this.#identity(name).publicKey;
    this.directory = { coordinator: key(COORDINATOR), parties: Object.fromEntries(parties.map((p) => [p, key(p)])), initiators: { cli: key('cli') } };
  }

  /** A message signed by `from` (to the coordinator unless said otherwise). */
  envelope<T extends MessageType>(from: string, type: T, session: string, body: BodyOf<T>, to: string = COORDINATOR): Promise<Envelope> {
    return createEnvelope(this.#identity(from).vault, NOW, { type, session, from, to, body });
  }

  context(): TransitionContext {
    return { suite: ed25519Suite, directory: this.directory, now: NOW };
  }

  #identity(name: string): Identity {
    const identity = this.#identities.get(name);
    if (identity === undefined) throw new Error(`no identity for "${name}"`);
    return identity;
  }
}

// ---- keygen --------------------------------------------------------------------------

export interface DkgRun {
  readonly request: Envelope;
  readonly session: string;
  readonly keyId: string;
  readonly threshold: number;
  readonly parties: readonly string[];
  readonly round1: Record<string, Envelope>;
  readonly shares: Record<string, Envelope>;
  /** `dkg.done` of every party whose round 3 succeeded. */
  readonly done: Record<string, Envelope>;
  /** Each party's X25519 ephemeral secret (hex): the evidence of a share accusation. */
  readonly ephemeralSecrets: Record<string, string>;
}

/** A whole DKG with noble, every message signed by its sender. `badShare`: `from` adds one to the share it seals for `to`. */
export async function runDkg(cast: Cast, options: { keyId?: string; threshold?: number; badShare?: { from: string; to: string } } = {}): Promise<DkgRun> {
  const keyId = options.keyId ?? 'k1';
  const threshold = options.threshold ?? 2;
  const parties = [...cast.parties].sort();
  const requestId = `keygen-${keyId}`;
  const session = deriveSessionId('cli', requestId);
  const request = await cast.envelope('cli', MessageType.keygenRequest, session, { requestId, keyId, suite: ed25519Suite.id, threshold, parties });
  const signers = { min: threshold, max: parties.length };
  const states = new Map(parties.map((p) => [p, { dkg: frost.DKG.round1(identifierOf(p), signers), ephemeral: x25519.utils.randomSecretKey() }]));
  const state = (p: string) => {
    const found = states.get(p);
    if (found === undefined) throw new Error(`no DKG state for ${p}`);
    return found;
  };
  const round1: Record<string, Envelope> = {};
  for (const p of parties) {
    const ephemeralKey = bytesToHex(x25519.getPublicKey(state(p).ephemeral));
    round1[p] = await cast.envelope(p, MessageType.dkgRound1, session, { keyId, package: round1ToWire(state(p).dkg.public), ephemeralKey, audit: AUDIT });
  }
  const others = (p: string) => parties.filter((q) => q !== p).map((q) => state(q).dkg.public);
  const received = new Map<string, { identifier: string; signingShare: Uint8Array }[]>(parties.map((p) => [p, []]));
  const shares: Record<string, Envelope> = {};
  const scope = new SecretScope();
  for (const p of parties) {
    const outgoing = frost.DKG.round2(state(p).dkg.secret, others(p));
    const sealed: Record<string, { iv: string; ct: string }> = {};
    for (const q of parties.filter((r) => r !== p)) {
      const share = outgoing[identifierOf(q)]?.signingShare;
      if (share === undefined) throw new Error(`no share from ${p} for ${q}`);
      if (options.badShare?.from === p && options.badShare.to === q) {
        const Fn = frost.utils.Fn;
        share.set(Fn.toBytes(Fn.add(Fn.fromBytes(share), Fn.ONE)));
      }
      received.get(q)?.push({ identifier: identifierOf(p), signingShare: share });
      sealed[q] = sealShare(state(p).ephemeral, x25519.getPublicKey(state(q).ephemeral), { session, keyId, sender: p, recipient: q }, share, scope);
    }
    shares[p] = await cast.envelope(p, MessageType.dkgShares, session, { keyId, shares: sealed, audit: AUDIT });
  }
  scope.wipe();
  const done: Record<string, Envelope> = {};
  for (const p of parties) {
    let key: ReturnType<typeof frost.DKG.round3>;
    try {
      key = frost.DKG.round3(state(p).dkg.secret, others(p), received.get(p) ?? []);
    } catch {
      continue; // the victim of a bad share finishes nothing
    }
    const publicPackage = publicToWire(key.public);
    const groupKey = publicPackage.commitments[0] ?? '';
    done[p] = await cast.envelope(p, MessageType.dkgDone, session, {
      keyId,
      suite: ed25519Suite.id,
      threshold,
      parties,
      groupKey,
      publicPackageHash: publicPackageHash(publicPackage),
      publicPackage,
      audit: AUDIT,
    });
  }
  const ephemeralSecrets = Object.fromEntries(parties.map((p) => [p, bytesToHex(state(p).ephemeral)]));
  return { request, session, keyId, threshold, parties, round1, shares, done, ephemeralSecrets };
}

/** The keygen session of `run` as the coordinator holds it in `phase`, every earlier round complete. */
export function keygenSession(cast: Cast, run: DkgRun, phase: 'round1' | 'round2' | 'round3'): KeygenSession {
  const body = { requestId: `keygen-${run.keyId}`, keyId: run.keyId, suite: ed25519Suite.id, threshold: run.threshold, parties: [...run.parties] };
  const fresh = newKeygenSession(run.request, body, { directory: cast.directory, now: NOW, keyExists: false });
  if (phase === 'round1') return fresh;
  if (phase === 'round2') return { ...fresh, phase, round1: { ...run.round1 } };
  return { ...fresh, phase, round1: { ...run.round1 }, shares: { ...run.shares } };
}

// ---- signing -------------------------------------------------------------------------

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
    publicFromWire(setup.key.publicPackage),
    nonces,
    commitments.map(commitmentFromWire),
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
