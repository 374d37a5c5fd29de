/**
 * A client's connection to a real deployment, built from the deployment config alone (the
 * file `cdk deploy` uses, after `frostline config pin`): the request queue URL, each
 * initiator's result queue URL and each party's table come from lib/config/names.ts, the
 * coordinator's identity key from the config's `pinned` section.
 *
 * Credentials: every AWS client takes them from the SDK's default chain, or from `profile`.
 * With `endpoint` (an emulator such as ministack, moto or LocalStack) no real credentials
 * are used: each client acts as the account that owns what it calls (the initiator's
 * principal account for the queues, the key's account for KMS, the party's for its table),
 * with fake credentials, as the emulator clients in clients.ts do.
 */
import type { KeyPins } from '../../client/key-pins.js';
import { FrostlineClient } from '../../client/client.js';
import type { IdentitySigner } from '../../client/initiator.js';
import { LocalKeySigner } from '../../client/signers.js';
import {
  type DeploymentConfig,
  type InitiatorConfig,
  initiatorPublicKey,
  loadDeploymentConfig,
  missingPins,
} from '../../config/deployment.js';
import { coordinatorNames, initiatorNames, partyNames } from '../../config/names.js';
import { ConfigError } from '../../ports/errors.js';
import type { IdentityPublicKey } from '../../ports/key-vault.js';
import { createDynamoDbClient, createKmsClient, createSqsClient, type AwsClientOptions } from './clients.js';
import { DynamoItemBackend } from './dynamodb-backend.js';
import { KmsSigner } from './kms-signer.js';
import { SqsResultInbox } from './sqs-result-inbox.js';
import { SqsTransport } from './sqs-transport.js';

export interface DeploymentConnectionOptions {
  /** AWS profile for every client (real AWS only). @default the SDK's default credential chain */
  readonly profile?: string;
  /** Region of every client, overriding the config's (e.g. an emulator serving one region). */
  readonly region?: string;
  /** Emulator endpoint: clients act as the owning account with fake credentials. Excludes `profile`. */
  readonly endpoint?: string;
  /** Names the config in messages. @default 'the deployment config' */
  readonly source?: string;
}

export interface DeploymentClientOptions {
  /**
   * PKCS#8 PEM of the initiator's private key, for an initiator whose `publicKey` the
   * config pins. Without it, the initiator must have a `kmsKeyArn`, and requests are
   * signed there.
   */
  readonly privateKeyPem?: string;
  /** Where verified group keys are pinned (the CLI keeps a file beside the config). @default in memory */
  readonly pins?: KeyPins;
  /** @default 120000 */
  readonly timeoutMs?: number;
  /** Longest single long poll of the result queue. @default 1000 */
  readonly pollWaitMs?: number;
}

const sameKey = (a: IdentityPublicKey, b: IdentityPublicKey): boolean => a.alg === b.alg && a.spki === b.spki;

/** The 12-digit account of an IAM principal or KMS key ARN. */
function arnAccount(arn: string): string | undefined {
  return arn.split(':')[4];
}

export class DeploymentConnection {
  readonly #source: string;

  constructor(
    readonly config: DeploymentConfig,
    readonly options: DeploymentConnectionOptions = {},
  ) {
    if (options.profile !== undefined && options.endpoint !== undefined) {
      throw new ConfigError('a profile is for real AWS; an emulator endpoint gets fake credentials (give one or the other)');
    }
    this.#source = options.source ?? 'the deployment config';
  }

  get partyIds(): string[] {
    return this.config.parties.map((party) => party.id);
  }

  get initiatorIds(): string[] {
    return this.config.initiators.map((initiator) => initiator.id);
  }

  /** The initiator with this id; without one, the config's only initiator. */
  initiator(initiatorId?: string): InitiatorConfig {
    if (initiatorId === undefined) {
      const [only, ...others] = this.config.initiators;
      if (only === undefined || others.length > 0) {
        throw new ConfigError(`${this.#source} has ${this.config.initiators.length} initiators (${this.initiatorIds.join(', ')}); choose one (--initiator ID)`);
      }
      return only;
    }
    const initiator = this.config.initiators.find((i) => i.id === initiatorId);
    if (initiator === undefined) throw new ConfigError(`no initiator "${initiatorId}" in ${this.#source} (it has ${this.initiatorIds.join(', ')})`);
    return initiator;
  }

  /**
   * An SDK client for one initiator: requests go to the coordinator's request queue,
   * results come from the initiator's own result queue, and requests are signed with the
   * given private key or the initiator's KMS key — which must be the key pinned for it.
   */
  async client(initiatorId?: string, options: DeploymentClientOptions = {}): Promise<FrostlineClient> {
    const missing = missingPins(this.config);
    const coordinatorKey = this.config.pinned.coordinator;
    if (missing.length > 0 || coordinatorKey === undefined) {
      throw new ConfigError(`${this.#source} is not pinned (missing ${missing.join(', ')}): run \`frostline config pin\` on it after the first deploy pass`);
    }
    const initiator = this.initiator(initiatorId);
    const pinned = initiatorPublicKey(this.config, initiator);
    if (pinned === undefined) throw new ConfigError(`${this.#source} pins no key for initiator "${initiator.id}"`);
    const signer = await this.#signer(initiator, pinned, options.privateKeyPem);

    const sqs = createSqsClient(this.#clientOptions(this.config.coordinator.region, arnAccount(initiator.principalArn)));
    const requestQueueUrl = coordinatorNames(this.config).requests.url;
    const requests = new SqsTransport(sqs, (destination) => {
      // An initiator talks to the coordinator's request queue and nowhere else.
      if (destination.kind === 'coordinator') return requestQueueUrl;
      throw new ConfigError(`an initiator sends to the coordinator only, not to ${destination.kind} "${destination.id}"`);
    });
    return new FrostlineClient({
      initiatorId: initiator.id,
      signer,
      coordinatorKey,
      partyKeys: this.config.pinned.parties,
      requests,
      results: new SqsResultInbox(sqs, initiatorNames(this.config, initiator).results.url),
      pins: options.pins,
      timeoutMs: options.timeoutMs,
      pollWaitMs: options.pollWaitMs,
    });
  }

  /** The coordinator's table in its account: audit anchors (reading needs that account's credentials). */
  coordinatorStore(): DynamoItemBackend {
    const { region, account } = this.config.coordinator;
    return new DynamoItemBackend(createDynamoDbClient(this.#clientOptions(region, account)), coordinatorNames(this.config).table);
  }

  /** A party's table in the party's account (audit verification). */
  partyStore(partyId: string): DynamoItemBackend {
    const party = this.config.parties.find((p) => p.id === partyId);
    if (party === undefined) throw new ConfigError(`no party "${partyId}" in ${this.#source} (it has ${this.partyIds.join(', ')})`);
    const dynamodb = createDynamoDbClient(this.#clientOptions(party.region, party.account));
    return new DynamoItemBackend(dynamodb, partyNames(this.config, party).table);
  }

  async #signer(initiator: InitiatorConfig, pinned: IdentityPublicKey, privateKeyPem: string | undefined): Promise<IdentitySigner> {
    const who = `initiator "${initiator.id}"`;
    if (privateKeyPem !== undefined) {
      let signer: LocalKeySigner;
      try {
        signer = new LocalKeySigner(privateKeyPem);
      } catch {
        // The parser's message could quote the input: never repeat it.
        throw new ConfigError(`the key file of ${who} is not an Ed25519 or P-256 private key in PKCS#8 PEM`);
      }
      if (!sameKey(await signer.identityPublicKey(), pinned)) {
        throw new ConfigError(`the key in the key file is not the key pinned for ${who} in ${this.#source}`);
      }
      return signer;
    }
    const keyArn = initiator.kmsKeyArn;
    if (keyArn === undefined) {
      throw new ConfigError(`${who} signs with a key of its own (publicKey in ${this.#source}): give its PKCS#8 PEM private key (--key-file FILE)`);
    }
    const [, , , region = ''] = keyArn.split(':');
    const signer = new KmsSigner({ client: createKmsClient(this.#clientOptions(region, arnAccount(keyArn))), keyId: keyArn, algorithm: pinned.alg });
    // One GetPublicKey: a key other than the pinned one would only have every request refused.
    if (!sameKey(await signer.identityPublicKey(), pinned)) {
      throw new ConfigError(`the KMS key ${keyArn} is not the key pinned for ${who} in ${this.#source}; pin again if it was rotated`);
    }
    return signer;
  }

  #clientOptions(region: string, account: string | undefined): AwsClientOptions {
    const { endpoint, profile } = this.options;
    return {
      region: this.options.region ?? region,
      ...(endpoint !== undefined ? { endpoint, ...(account !== undefined ? { accountId: account } : {}) } : {}),
      profile,
    };
  }
}

/** Reads a deployment config and connects to the deployment it describes. */
export async function openDeployment(configPath: string, options: Omit<DeploymentConnectionOptions, 'source'> = {}): Promise<DeploymentConnection> {
  return new DeploymentConnection(await loadDeploymentConfig(configPath), { ...options, source: `deployment config ${configPath}` });
}
