/**
 * Wires the AWS adapters to the protocol core from a runtime configuration: the same code
 * for the Lambda entry points (config from the environment; credentials from the
 * environment variables only, through the SDK layer's provider,
 * functions/sdk-layer/credential-provider.ts) and for tests (config built in code, clients
 * pointed at the emulator, the SDK's full default chain).
 */
import { type AwsClients, createAwsClients } from '../adapters/aws/clients.js';
import { DynamoItemBackend } from '../adapters/aws/dynamodb-backend.js';
import { KmsKeyVault } from '../adapters/aws/kms-key-vault.js';
import { type QueueUrlResolver, SqsTransport } from '../adapters/aws/sqs-transport.js';
import {
  type CoordinatorRuntimeConfig,
  loadRuntimeConfig,
  type PartyRuntimeConfig,
  type QueueUrls,
  type RuntimeConfig,
} from '../config/runtime.js';
import { systemClock } from '../ports/clock.js';
import { ConfigError } from '../ports/errors.js';
import type { KeyVault } from '../ports/key-vault.js';
import type { Transport } from '../ports/transport.js';
import { Coordinator } from '../protocol/coordinator.js';
import { withDelegation } from '../protocol/delegation.js';
import { DEFAULT_LIMITS } from '../protocol/directory.js';
import { COORDINATOR } from '../protocol/messages.js';
import type { Logger } from '../protocol/logger.js';
import { Party } from '../protocol/party.js';

/** Queue URL per destination; an unknown destination is a deployment error, not a refusal. */
export function queueUrlResolver(urls: QueueUrls): QueueUrlResolver {
  return (destination) => {
    if (destination.kind === 'coordinator') return urls.coordinator;
    const table = destination.kind === 'party' ? urls.parties : urls.initiators;
    const url = Object.hasOwn(table, destination.id) ? table[destination.id] : undefined;
    if (url === undefined) throw new ConfigError(`no queue URL configured for ${destination.kind} "${destination.id}"`);
    return url;
  };
}

/** The SDK clients a configuration calls for: region and (emulator only) account header. */
export function clientsFor(config: RuntimeConfig): AwsClients {
  return createAwsClients({
    region: config.region,
    accountId: config.emulatorAccountId,
  });
}

export interface WiringOptions {
  readonly clients: AwsClients;
  readonly logger?: Logger;
  /** Wraps the transport (tests: duplicate or drop messages). */
  readonly transport?: (transport: Transport) => Transport;
  /**
   * Sign the per-signature envelopes with a delegated key certified by the KMS identity key
   * (one KMS `Sign` per renewal, every few minutes, instead of one per envelope; README
   * "Secrets in memory" says what that key is). Off: every envelope is a KMS `Sign`.
   * @default the configuration's (FROSTLINE_DELEGATED_KEYS, on unless `off`)
   */
  readonly delegatedKeys?: boolean;
}

/**
 * The coordinator's vault: signs envelopes with its identity key and wraps nothing. The
 * coordinator holds public data only, so a data-key request is a wiring bug; it is refused
 * here, before any KMS call, with an error that says so.
 */
export function identityOnlyVault(signer: Pick<KeyVault, 'signIdentity' | 'identityPublicKey'>): KeyVault {
  const refuse = (operation: string) =>
    Promise.reject(new ConfigError(`${operation}: the coordinator has no master key; it holds public data only and never wraps data keys`));
  return {
    generateDataKey: () => refuse('generateDataKey'),
    decryptDataKey: () => refuse('decryptDataKey'),
    signIdentity: (message) => signer.signIdentity(message),
    identityPublicKey: () => signer.identityPublicKey(),
  };
}

/**
 * KmsKeyVault requires a master key id; the coordinator's wrapper never passes a data-key
 * call through, and were it ever to, KMS would reject this id (not a key, ARN or alias).
 */
const NO_MASTER_KEY = 'frostline:coordinator-has-no-master-key';

function kmsVault(config: RuntimeConfig, clients: AwsClients, masterKeyId: string): KmsKeyVault {
  return new KmsKeyVault({
    client: clients.kms,
    masterKeyId,
    identityKeyId: config.identityKeyId,
    identityAlgorithm: config.identityAlgorithm,
  });
}

function delegating(config: RuntimeConfig, options: WiringOptions): boolean {
  return options.delegatedKeys ?? config.delegatedKeys !== false;
}

function adapters(config: RuntimeConfig, vault: KeyVault, options: WiringOptions) {
  const { clients } = options;
  const store = new DynamoItemBackend(clients.dynamodb, config.tableName);
  const sqs = new SqsTransport(clients.sqs, queueUrlResolver(config.queueUrls));
  const transport = options.transport?.(sqs) ?? sqs;
  return { vault, store, transport, clock: systemClock, directory: config.directory, ...(options.logger !== undefined ? { logger: options.logger } : {}) };
}

export function createParty(config: PartyRuntimeConfig, options: WiringOptions): Party {
  const kms = kmsVault(config, options.clients, config.masterKeyId);
  // One delegation per Party instance, i.e. per Lambda container (the handler is built once, at cold start).
  const vault = !delegating(config, options) ? kms : withDelegation(kms, { holder: config.partyId, role: 'party', lifetimeMs: DEFAULT_LIMITS.delegatedKeyLifetimeMs });
  return new Party({ id: config.partyId, policy: config.policy, ...adapters(config, vault, options) });
}

export function createCoordinator(config: CoordinatorRuntimeConfig, options: WiringOptions): Coordinator {
  // Any configured masterKeyId is ignored: the coordinator never wraps data keys.
  const identity = identityOnlyVault(kmsVault(config, options.clients, NO_MASTER_KEY));
  const vault =
    !delegating(config, options)
      ? identity
      : withDelegation(identity, { holder: COORDINATOR, role: 'coordinator', lifetimeMs: DEFAULT_LIMITS.delegatedKeyLifetimeMs });
  return new Coordinator(adapters(config, vault, options));
}

/** The environment's party configuration; any other role is a mis-wired function, stopped at cold start. */
export function partyConfigFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): PartyRuntimeConfig {
  const config = loadRuntimeConfig(env);
  if (config.role !== 'party') throw new ConfigError(`this function runs the party handler but FROSTLINE_ROLE is ${config.role}`);
  return config;
}

export function coordinatorConfigFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): CoordinatorRuntimeConfig {
  const config = loadRuntimeConfig(env);
  if (config.role !== 'coordinator') throw new ConfigError(`this function runs the coordinator handler but FROSTLINE_ROLE is ${config.role}`);
  return config;
}
