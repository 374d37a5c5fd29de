/**
 * What a party's round steps share: its ports and settings, and the few things every thin
 * step does (send to the coordinator, open a secret scope, name a secret's encryption
 * context, adopt the winner of a lost race). Pure steps take only `PartyView`.
 */
import type { Clock } from '../ports/clock.js';
import { ConditionFailedError } from '../ports/errors.js';
import type { EncryptionContext, KeyVault } from '../ports/key-vault.js';
import type { ItemBackend } from '../ports/store.js';
import type { Transport } from '../ports/transport.js';
import { AuditLog } from './audit.js';
import { DEFAULT_LIMITS, type Directory, type Limits } from './directory.js';
import { createEnvelope } from './envelope.js';
import { silentLogger, type Logger } from './logger.js';
import { COORDINATOR, MessageType, type BodyOf, type Envelope } from './messages.js';
import { PartyTables } from './party-state.js';
import { RateLimiter } from './rate-limit.js';
import type { PartyPolicy } from './requests.js';
import { secretContext, type SecretPurpose } from './sealed-item.js';
import { withSecretScope, type SecretScope, type SecretScopeObserver } from './secret-scope.js';
import { ed25519Suite, type Suite } from './suite.js';
import { requiredSuite } from './suites.js';

export interface PartyDeps {
  readonly id: string;
  readonly vault: KeyVault;
  readonly store: ItemBackend;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly policy: PartyPolicy;
  readonly limits?: Limits;
  /** Test hook: the implementation to use for keys of this suite (default Ed25519's is also the context's own). */
  readonly suite?: Suite;
  readonly logger?: Logger;
  /** Test hook: sees every secret scope after it was wiped. */
  readonly onSecretsWiped?: SecretScopeObserver;
}

/** What a party sends: each of these bodies carries an audit anchor. */
export type PartyMessageType =
  | typeof MessageType.dkgRound1
  | typeof MessageType.dkgShares
  | typeof MessageType.dkgDone
  | typeof MessageType.signCommitment
  | typeof MessageType.signShare
  | typeof MessageType.reshareRound1
  | typeof MessageType.reshareDealing
  | typeof MessageType.reshareDone
  | typeof MessageType.poolBatch
  | typeof MessageType.partyRefused;

/** What a pure step may know of the party: who it is and whom it trusts. No ports. */
export interface PartyView {
  readonly id: string;
  readonly directory: Directory;
  readonly suite: Suite;
  /** The FROST identifier of a party: derived from its name, so no numbering has to agree. */
  identifierOf(party: string): string;
}

export interface PartyContext extends PartyView {
  readonly vault: KeyVault;
  readonly policy: PartyPolicy;
  readonly limits: Limits;
  readonly log: Logger;
  readonly tables: PartyTables;
  readonly audit: AuditLog;
  readonly rates: RateLimiter;
  /** Milliseconds (the clock port). */
  now(): number;
  nowSeconds(): number;
  /** What request checks need to know of this party's situation. */
  requestContext(session: string): { directory: Directory; limits: Limits; now: number; session: string };
  secretContext(keyId: string, purpose: SecretPurpose): EncryptionContext;
  /** Runs `work` with a scope whose buffers are wiped on every exit path. */
  withSecrets<T>(work: (scope: SecretScope) => Promise<T>): Promise<T>;
  /** Sends to the coordinator; every party message carries this party's audit-chain head. `createMessage` then `sendCreated`. */
  send<T extends PartyMessageType>(type: T, session: string, fields: Omit<BodyOf<T>, 'audit'>): Promise<void>;
  /**
   * A signed message to the coordinator, with this party's audit-chain head, not sent: for a
   * step that stores what it sends (a `pool.batch`) so that a redelivery sends it again unchanged.
   */
  createMessage<T extends PartyMessageType>(type: T, session: string, fields: Omit<BodyOf<T>, 'audit'>): Promise<Envelope>;
  /** Sends a message `createMessage` made (perhaps in an earlier invocation) to the coordinator, unchanged. */
  sendCreated(envelope: Envelope): Promise<void>;
  /**
   * This context for a key of another suite (an RFC 9591 context string from a signed keygen
   * request or a stored share): its `suite` and `identifierOf` are that suite's. Refuses a
   * suite this party does not run.
   */
  forSuite(id: string | undefined): PartyContext;
}

export function createPartyContext(deps: PartyDeps): PartyContext {
  const defaultSuite = deps.suite ?? ed25519Suite;
  const contexts = new Map<string, PartyContext>();
  const contextOf = (suite: Suite): PartyContext => {
    let context = contexts.get(suite.id);
    if (context === undefined) {
      context = suiteContext(deps, suite, (id) => contextOf(id === undefined ? ed25519Suite : deps.suite?.id === id ? deps.suite : requiredSuite(id)));
      contexts.set(suite.id, context);
    }
    return context;
  };
  return contextOf(defaultSuite);
}

function suiteContext(deps: PartyDeps, suite: Suite, forSuite: (id: string | undefined) => PartyContext): PartyContext {
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const now = () => deps.clock.now();
  const nowSeconds = () => Math.floor(deps.clock.now() / 1000);
  const identifiers = new Map<string, string>();
  const audit = new AuditLog(deps.store, deps.id, nowSeconds);
  const createMessage: PartyContext['createMessage'] = async (type, session, fields) => {
    const body = { ...fields, audit: await audit.head() } as BodyOf<typeof type>;
    return createEnvelope(deps.vault, now(), { type, session, from: deps.id, to: COORDINATOR, body });
  };
  const sendCreated = async (envelope: Envelope): Promise<void> => {
    await deps.transport.send({ kind: 'coordinator' }, JSON.stringify(envelope));
  };
  return {
    id: deps.id,
    directory: deps.directory,
    suite,
    vault: deps.vault,
    policy: deps.policy,
    limits,
    log: deps.logger ?? silentLogger,
    tables: new PartyTables(deps.store, nowSeconds),
    audit,
    rates: new RateLimiter(deps.store, nowSeconds),
    now,
    nowSeconds,
    identifierOf(party) {
      let identifier = identifiers.get(party);
      if (identifier === undefined) {
        identifier = suite.frost.Identifier.derive(party);
        identifiers.set(party, identifier);
      }
      return identifier;
    },
    requestContext: (session) => ({ directory: deps.directory, limits, now: now(), session }),
    secretContext: (keyId, purpose) => secretContext(deps.id, keyId, purpose),
    withSecrets: (work) => withSecretScope(work, deps.onSecretsWiped),
    createMessage,
    sendCreated,
    async send(type, session, fields) {
      await sendCreated(await createMessage(type, session, fields));
    },
    forSuite,
  };
}

/**
 * Runs a conditional write that a concurrent delivery of the same message may win. If its
 * condition fails, `winner()` reads what the winning write stored and returns this
 * delivery's answer from it, or undefined when there is nothing to adopt: then the lost
 * condition is rethrown, and the message is redelivered. (A single-item create uses
 * `ItemTable.createOrGet` instead.)
 */
export async function writeOrAdopt<T>(write: () => Promise<T>, winner: () => Promise<T | undefined>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    const adopted = await winner();
    if (adopted === undefined) throw error;
    return adopted;
  }
}
