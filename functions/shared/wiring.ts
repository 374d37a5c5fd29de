/**
 * Wires the AWS adapters to the protocol core from a runtime configuration: the same code
 * for the Lambda entry points (config from the environment, clients from the SDK's default
 * chain) and for tests (config built in code, clients pointed at the emulator).
 */
import { type AwsClients, createAwsClients } from '../../lib/adapters/aws/clients.js';
import { DynamoItemBackend } from '../../lib/adapters/aws/dynamodb-backend.js';
import { KmsKeyVault } from '../../lib/adapters/aws/kms-key-vault.js';
import { type QueueUrlResolver, SqsTransport } from '../../lib/adapters/aws/sqs-transport.js';
import {
  type CoordinatorRuntimeConfig,
  loadRuntimeConfig,
  type PartyRuntimeConfig,
  type QueueUrls,
  type RuntimeConfig,
} from '../../lib/config/runtime.js';
import { systemClock } from '../../lib/ports/clock.js';
import { ConfigError } from '../../lib/ports/errors.js';
import type { Transport } from '../../lib/ports/transport.js';
import { Coordinator } from '../../lib/protocol/coordinator.js';
import type { Logger } from '../../lib/protocol/logger.js';
import { Party } from '../../lib/protocol/party.js';

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
    ...(config.emulatorAccountId !== undefined ? { accountId: config.emulatorAccountId } : {}),
  });
}

export interface WiringOptions {
  readonly clients: AwsClients;
  readonly logger?: Logger;
  /** Wraps the transport (tests: duplicate or drop messages). */
  readonly transport?: (transport: Transport) => Transport;
}

function adapters(config: RuntimeConfig, options: WiringOptions) {
  const { clients } = options;
  const vault = new KmsKeyVault({
    client: clients.kms,
    masterKeyId: config.masterKeyId,
    identityKeyId: config.identityKeyId,
    identityAlgorithm: config.identityAlgorithm,
  });
  const store = new DynamoItemBackend(clients.dynamodb, config.tableName);
  const sqs = new SqsTransport(clients.sqs, queueUrlResolver(config.queueUrls));
  const transport = options.transport?.(sqs) ?? sqs;
  return { vault, store, transport, clock: systemClock, directory: config.directory, ...(options.logger !== undefined ? { logger: options.logger } : {}) };
}

export function createParty(config: PartyRuntimeConfig, options: WiringOptions): Party {
  return new Party({ id: config.partyId, policy: config.policy, ...adapters(config, options) });
}

export function createCoordinator(config: CoordinatorRuntimeConfig, options: WiringOptions): Coordinator {
  return new Coordinator(adapters(config, options));
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
