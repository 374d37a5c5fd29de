/**
 * Hand-built inputs for the party's pure round steps (lib/protocol/keygen/party-*.ts,
 * lib/protocol/sign/party-*.ts): identity vaults in a temp dir, signed envelopes as the
 * parties would send them, and a DKG run step by step through the pure steps themselves.
 * No cluster, no store.
 */
import { join } from 'node:path';
import { FileKeyVault } from '../../lib/adapters/local/file-key-vault.js';
import type { Directory } from '../../lib/protocol/directory.js';
import { createEnvelope } from '../../lib/protocol/envelope.js';
import { round1TranscriptHash } from '../../lib/protocol/frost-wire.js';
import { startRound1 } from '../../lib/protocol/keygen/party-round1.js';
import { round2Shares } from '../../lib/protocol/keygen/party-round2.js';
import { verifyRound1Transcript, type Round1Transcript } from '../../lib/protocol/keygen/transcripts.js';
import { COORDINATOR, MessageType, type BodyOf, type Envelope, type SealedShare } from '../../lib/protocol/messages.js';
import type { PartyView } from '../../lib/protocol/party-context.js';
import type { DkgRound1State, DkgRound2State } from '../../lib/protocol/party-state.js';
import type { SealedBlob } from '../../lib/protocol/sealed-item.js';
import { SecretScope } from '../../lib/protocol/secret-scope.js';
import { ed25519Suite } from '../../lib/protocol/suite.js';
import type { Scratch } from './harness.js';

export const NOW = 1_800_000_000_000;
export const SESSION = 'ab'.repeat(16);
export const OTHER_SESSION = 'cd'.repeat(16);
export const KEY_ID = 'k1';
/** Every party message carries an audit anchor; its value does not matter to the steps. */
export const AUDIT = { seq: 0, hash: '0'.repeat(64) };
/** The pure steps never read the sealed blob of a round state (the thin step opens it). */
export const UNUSED_BLOB: SealedBlob = { dataKey: '00', iv: '00'.repeat(12), ciphertext: '00' };

export interface Cast {
  readonly directory: Directory;
  readonly vaults: Readonly<Record<string, FileKeyVault>>;
  /** The party as its pure steps see it. */
  view(name: string): PartyView;
  /** An envelope from `from` to the coordinator, signed by `signer` (by default `from`'s own vault). */
  signed<T extends MessageType>(type: T, from: string, body: BodyOf<T>, options?: { session?: string; signer?: string }): Promise<Envelope>;
}

/** Identity vaults for the coordinator and `parties` (all in the directory). */
export async function openCast(scratch: Scratch, parties: readonly string[]): Promise<Cast> {
  const dir = await scratch.dir('frostline-steps-');
  const vaults: Record<string, FileKeyVault> = {};
  for (const name of [COORDINATOR, ...parties]) vaults[name] = await FileKeyVault.open(join(dir, name));
  const vaultOf = (name: string) => {
    const vault = vaults[name];
    if (vault === undefined) throw new Error(`no vault for ${name}`);
    return vault;
  };
  const directory: Directory = {
    coordinator: await vaultOf(COORDINATOR).identityPublicKey(),
    parties: Object.fromEntries(await Promise.all(parties.map(async (p) => [p, await vaultOf(p).identityPublicKey()] as const))),
    initiators: {},
  };
  const suite = ed25519Suite;
  return {
    directory,
    vaults,
    view: (name) => ({ id: name, directory, suite, identifierOf: (party) => suite.frost.Identifier.derive(party) }),
    signed: (type, from, body, options = {}) =>
      createEnvelope(vaultOf(options.signer ?? from), NOW, { type, session: options.session ?? SESSION, from, to: COORDINATOR, body }),
  };
}

/** One party's round-1 result: its stored state (minus the sealed blob) and its opened round secret. */
export interface Round1Party {
  readonly state: DkgRound1State;
  readonly secret: Uint8Array;
  readonly envelope: Envelope;
}

/** Round 1 for every party, through `startRound1`; secrets live in `scope`. */
export async function dkgRound1(cast: Cast, parties: readonly string[], threshold: number, scope: SecretScope): Promise<Record<string, Round1Party>> {
  const out: Record<string, Round1Party> = {};
  for (const name of parties) {
    const output = startRound1(cast.view(name), { threshold, parties: [...parties] }, scope);
    const state: DkgRound1State = {
      step: 1,
      keyId: KEY_ID,
      threshold,
      parties: [...parties],
      ownPackage: output.ownPackage,
      ephemeralKey: output.ephemeralKey,
      secret: UNUSED_BLOB,
    };
    const envelope = await cast.signed(MessageType.dkgRound1, name, { keyId: KEY_ID, package: output.ownPackage, ephemeralKey: output.ephemeralKey, audit: AUDIT });
    out[name] = { state, secret: output.secret, envelope };
  }
  return out;
}

export function member<T>(record: Readonly<Record<string, T>>, name: string): T {
  const value = record[name];
  if (value === undefined) throw new Error(`no entry for ${name}`);
  return value;
}

/** One party's round-2 result: its round-2 state, the verified round-1 transcript, and its signed shares. */
export interface Round2Party {
  readonly state: DkgRound2State;
  readonly round1: Round1Transcript;
  readonly shares: Record<string, SealedShare>;
  readonly envelope: Envelope;
}

/** Round 2 for every party, through `verifyRound1Transcript` and `round2Shares`. */
export async function dkgRound2(cast: Cast, round1: Readonly<Record<string, Round1Party>>, scope: SecretScope): Promise<Record<string, Round2Party>> {
  const envelopes = Object.values(round1).map((p) => p.envelope);
  const out: Record<string, Round2Party> = {};
  for (const [name, party] of Object.entries(round1)) {
    const view = cast.view(name);
    const transcript = verifyRound1Transcript(view, envelopes, SESSION, party.state);
    const shares = round2Shares(view, { session: SESSION, state: party.state, round1: transcript, secret: party.secret }, scope);
    const state: DkgRound2State = { ...party.state, step: 2, round1Hash: round1TranscriptHash(transcript), sharesOutput: shares };
    const envelope = await cast.signed(MessageType.dkgShares, name, { keyId: KEY_ID, shares, audit: AUDIT });
    out[name] = { state, round1: transcript, shares, envelope };
  }
  return out;
}

/** A scope for one test's secrets, wiped by the caller (`afterEach`). */
export function testScope(): SecretScope {
  return new SecretScope();
}
