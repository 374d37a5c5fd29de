/**
 * Creates the AWS resources of one frostline node in an emulator, for tests and local
 * development: what `PartyStack` / `CoordinatorStack` create in AWS, minus IAM. Deployed
 * resources come from the CDK stacks, never from here.
 *
 * Each node gets its own (emulated) account: a symmetric master key, an identity key, a
 * DynamoDB table and its queues, each queue with a dead-letter queue.
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { FrostlineError, InfrastructureError } from '../ports/errors.js';
import { IdentityAlgorithm } from '../ports/key-vault.js';
import { type AwsClients, createAwsClients } from '../adapters/aws/clients.js';
import { awsErrorName, infrastructureError } from '../adapters/aws/errors.js';

export interface QueueWithDeadLetters {
  readonly url: string;
  readonly arn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}

export interface QueueOptions {
  /**
   * Receives before a message is moved to the dead-letter queue.
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /**
   * Seconds a received message stays invisible. Short, so that a test sees redeliveries
   * quickly; deployed queues use a multiple of the function timeout.
   * @default 2
   */
  readonly visibilityTimeoutSeconds?: number;
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
  } catch (error) {
    throw infrastructureError('sqs:CreateQueue', error);
  }
  if (url === undefined) throw new FrostlineError('malformed', `sqs:CreateQueue returned no URL for ${name}`);
  let arn: string | undefined;
  try {
    arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  } catch (error) {
    throw infrastructureError('sqs:GetQueueAttributes', error);
  }
  if (arn === undefined) throw new FrostlineError('malformed', `queue ${name} has no QueueArn`);
  return { url, arn };
}

/** A standard queue whose RedrivePolicy sends a message to `<name>-dlq` after maxReceiveCount receives. */
export async function createQueueWithDeadLetters(sqs: SQSClient, name: string, options: QueueOptions = {}): Promise<QueueWithDeadLetters> {
  const dlq = await createQueue(sqs, `${name}-dlq`, { MessageRetentionPeriod: String(14 * 24 * 3600) });
  const queue = await createQueue(sqs, name, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 2),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: options.maxReceiveCount ?? 3 }),
  });
  return { url: queue.url, arn: queue.arn, deadLetterUrl: dlq.url, deadLetterArn: dlq.arn };
}

async function createKey(kms: KMSClient, spec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256' | 'ECC_NIST_EDWARDS25519', description: string): Promise<string> {
  const usage = spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY';
  const output = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage, Description: description }));
  const arn = output.KeyMetadata?.Arn;
  if (arn === undefined) throw new FrostlineError('malformed', 'kms:CreateKey returned no key ARN');
  return arn;
}

/** Endpoints known to lack Ed25519 KMS keys, so that the fallback is tried and announced once. */
const noEd25519 = new Set<string>();

/**
 * An identity key of the requested algorithm, or — where the emulator has no Ed25519 keys
 * (moto 5.2.5 refuses ECC_NIST_EDWARDS25519 with ValidationException) — P-256, the
 * fallback README.md documents ("KMS": the P-256 identity option). Says so on stderr once per endpoint.
 */
export async function createIdentityKey(
  kms: KMSClient,
  algorithm: IdentityAlgorithm,
  description: string,
  endpointLabel = 'default',
): Promise<{ keyId: string; algorithm: IdentityAlgorithm }> {
  const p256 = async () => ({ keyId: await createKey(kms, 'ECC_NIST_P256', description), algorithm: IdentityAlgorithm.p256 });
  try {
    if (algorithm === IdentityAlgorithm.p256 || noEd25519.has(endpointLabel)) return await p256();
    try {
      return { keyId: await createKey(kms, 'ECC_NIST_EDWARDS25519', description), algorithm: IdentityAlgorithm.ed25519 };
    } catch (error) {
      const name = awsErrorName(error);
      if (name !== 'ValidationException' && name !== 'UnsupportedOperationException') throw error;
      if (noEd25519.has(endpointLabel)) return await p256();
      noEd25519.add(endpointLabel);
      process.stderr.write(
        `frostline: this KMS (${endpointLabel}) has no Ed25519 keys (${name}); using ECC_NIST_P256 / ECDSA_SHA_256 identity keys instead (the P-256 identity option; README.md, "KMS")\n`,
      );
      return await p256();
    }
  } catch (error) {
    if (error instanceof FrostlineError) throw error;
    throw infrastructureError('kms:CreateKey', error);
  }
}

/**
 * Creates a party table (on-demand, TTL on `expiresAt`: the layout `DynamoItemBackend` reads) and waits until it is ACTIVE. For
 * tests and development; deployed tables come from the CDK stack.
 */
export async function createPartyTable(client: DynamoDBClient, tableName: string, timeoutMs = 60_000): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (error) {
    throw infrastructureError('dynamodb:CreateTable', error);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let status;
    try {
      status = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus;
    } catch (error) {
      throw infrastructureError('dynamodb:DescribeTable', error);
    }
    if (status === 'ACTIVE') break;
    if (Date.now() > deadline) {
      throw new InfrastructureError('dynamodb:DescribeTable', `table ${tableName} not ACTIVE after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
  } catch (error) {
    throw infrastructureError('dynamodb:UpdateTimeToLive', error);
  }
}

export interface NodeAccountOptions {
  /** Emulator endpoint; the account header is emulator-only. */
  readonly endpoint: string;
  readonly region: string;
  /** 12 digits: the emulated account this node lives in. */
  readonly accountId: string;
  /** Prefix of the node's table and queue names, e.g. `frostline-p1-1a2b`. */
  readonly name: string;
  /** Queues to create (each with a DLQ), by role, e.g. `{ inbox: {} }`. */
  readonly queues: Readonly<Record<string, QueueOptions>>;
  /** @default 'ed25519' (falls back to p256 where the emulator lacks it) */
  readonly identityAlgorithm?: IdentityAlgorithm;
}

export interface NodeAccount {
  readonly accountId: string;
  readonly clients: AwsClients;
  readonly masterKeyId: string;
  readonly identityKeyId: string;
  readonly identityAlgorithm: IdentityAlgorithm;
  readonly tableName: string;
  readonly queues: Readonly<Record<string, QueueWithDeadLetters>>;
}

/** Creates one node's account resources (keys, table, queues) in the emulator. */
export async function provisionNodeAccount(options: NodeAccountOptions): Promise<NodeAccount> {
  const clients = createAwsClients({ endpoint: options.endpoint, region: options.region, accountId: options.accountId });
  const tableName = `${options.name}-table`;
  const [masterKeyId, identity, , queueList] = await Promise.all([
    createKey(clients.kms, 'SYMMETRIC_DEFAULT', `${options.name} master key`).catch((error: unknown) => {
      throw infrastructureError('kms:CreateKey', error);
    }),
    createIdentityKey(clients.kms, options.identityAlgorithm ?? IdentityAlgorithm.ed25519, `${options.name} identity`, options.endpoint),
    createPartyTable(clients.dynamodb, tableName),
    Promise.all(
      Object.entries(options.queues).map(async ([role, queueOptions]) => [role, await createQueueWithDeadLetters(clients.sqs, `${options.name}-${role}`, queueOptions)] as const),
    ),
  ]);
  return {
    accountId: options.accountId,
    clients,
    masterKeyId,
    identityKeyId: identity.keyId,
    identityAlgorithm: identity.algorithm,
    tableName,
    queues: Object.fromEntries(queueList),
  };
}
