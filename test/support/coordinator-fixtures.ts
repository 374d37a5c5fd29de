/**
 * Hand-built inputs for the coordinator's pure transitions: in-memory Ed25519 identities,
 * signed envelopes, and a real DKG with noble (so every package and share is what an honest
 * party would send), with sessions in any phase; signing inputs are in sign-fixtures.ts. No
 * cluster, no store, no transport.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import type { IdentityPublicKey, KeyVault } from '../../lib/ports/key-vault.js';
import type { KeygenSession } from '../../lib/protocol/coordinator-state.js';
import type { TransitionContext } from '../../lib/protocol/coordinator-step.js';
import type { Directory } from '../../lib/protocol/directory.js';
import { bytesToHex } from '../../lib/protocol/encoding.js';
import { createEnvelope, deriveSessionId } from '../../lib/protocol/envelope.js';
import { publicPackageHash, publicToWire, round1ToWire } from '../../lib/protocol/frost-wire.js';
import { newKeygenSession } from '../../lib/protocol/keygen/coordinator-intake.js';
import { COORDINATOR, MessageType, type BodyOf, type Envelope } from '../../lib/protocol/messages.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { sealShare } from '../../lib/protocol/share-sealing.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';

export const NOW = 1_800_000_000_000;
export const AUDIT = { seq: 0, hash: '00'.repeat(32) };
const { frost } = ed25519Suite;

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

  /** A node's identity signer, as a vault that holds no data keys (the coordinator needs none). */
  signer(name: string): KeyVault {
    const { vault, publicKey } = this.#identity(name);
    const noDataKeys = (): never => {
      throw new Error(`"${name}" holds no data keys in this test`);
    };
    return {
      signIdentity: (message) => vault.signIdentity(message),
      identityPublicKey: () => Promise.resolve(publicKey),
      generateDataKey: noDataKeys,
      decryptDataKey: noDataKeys,
    };
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
