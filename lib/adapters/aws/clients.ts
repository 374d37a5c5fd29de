/**
 * AWS SDK v3 clients for the adapters. Build them once at module scope in a Lambda (they
 * hold connection pools and no per-request state) and pass them to the adapters.
 *
 * Endpoints: in production leave `endpoint` unset; the SDK then uses its standard
 * resolution, including `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (LocalStack,
 * cdklocal). Tests pass the moto endpoint explicitly.
 *
 * Accounts in the emulator: moto server keeps one backend per account id and picks it
 * per request from the `x-moto-account-id` header (moto/core/responses.py
 * `get_current_account`: env `MOTO_ACCOUNT_ID` first, then that header, then the account
 * of an IAM-created access key, else 123456789012). So each emulated party is a client
 * that sends its own account id in that header. LocalStack picks the account from a
 * 12-digit access key id instead, so emulator clients also use the account id as their
 * (fake) access key: the same client works on both emulators.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError } from '../../ports/errors.js';

export interface AwsClientOptions {
  readonly region: string;
  /**
   * Service endpoint override, e.g. `http://127.0.0.1:5000` for moto.
   * @default the SDK's standard resolution (honours `AWS_ENDPOINT_URL`)
   */
  readonly endpoint?: string;
  /**
   * Emulator only: the emulated AWS account this client acts as (12 digits), sent as
   * `x-moto-account-id`. Refused unless an endpoint override is in effect, so that it can
   * never be sent to real AWS; emulator clients also use fixed fake credentials.
   */
  readonly accountId?: string;
  /**
   * Real AWS only: the shared config/credentials profile the client takes its credentials
   * from (the SDK client's own `profile` setting, like `AWS_PROFILE` for this client alone).
   * Refused together with `accountId`: emulator clients use fake credentials.
   * @default the SDK's default credential chain
   */
  readonly profile?: string;
  /**
   * Total attempts per call in the SDK's `standard` retry mode (exponential backoff with
   * jitter; throttling, transient and 5xx errors are retried).
   * @default 5
   */
  readonly maxAttempts?: number;
}

export const EMULATOR_ACCOUNT_HEADER = 'x-moto-account-id';

/** Fake secret for emulator clients: real credentials must never be sent to a local emulator. */
const EMULATOR_SECRET = 'frostline-emulator';

interface ClientConfig {
  region: string;
  endpoint?: string;
  maxAttempts: number;
  retryMode: 'standard';
  credentials?: { accessKeyId: string; secretAccessKey: string };
  profile?: string;
}

function validate(options: AwsClientOptions): void {
  const problems: string[] = [];
  if (options.region.length === 0) problems.push('region is empty');
  if (options.endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(options.endpoint)) {
    problems.push(`endpoint ${JSON.stringify(options.endpoint)} is not an http(s) URL`);
  }
  if (options.accountId !== undefined) {
    if (!/^\d{12}$/.test(options.accountId)) problems.push('accountId must be 12 digits');
    const hasEndpoint = options.endpoint !== undefined || (process.env.AWS_ENDPOINT_URL ?? '') !== '';
    if (!hasEndpoint) problems.push('accountId is for emulators only and needs an endpoint override');
    if (options.profile !== undefined) problems.push('profile is for real AWS; an emulator client (accountId) uses fake credentials');
  }
  if (options.profile !== undefined && options.profile.trim() === '') problems.push('profile is empty');
  const maxAttempts = options.maxAttempts;
  if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20)) {
    problems.push('maxAttempts must be an integer from 1 to 20');
  }
  if (problems.length > 0) throw new ConfigError(`invalid AWS client options: ${problems.join('; ')}`);
}

function clientConfig(options: AwsClientOptions): ClientConfig {
  validate(options);
  const config: ClientConfig = {
    region: options.region,
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: 'standard',
  };
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.accountId !== undefined) config.credentials = { accessKeyId: options.accountId, secretAccessKey: EMULATOR_SECRET };
  if (options.profile !== undefined) config.profile = options.profile;
  return config;
}

function hasHeaders(request: unknown): request is { headers: Record<string, string> } {
  if (typeof request !== 'object' || request === null || !('headers' in request)) return false;
  const headers = request.headers;
  return typeof headers === 'object' && headers !== null;
}

/** A build-step middleware that sends `x-moto-account-id`, chosen per request from the input. */
function emulatorAccountMiddleware<Args extends { request: unknown; input: object }, Result>(
  accountFor: (input: object) => string,
): (next: (args: Args) => Promise<Result>) => (args: Args) => Promise<Result> {
  return (next) => async (args) => {
    if (hasHeaders(args.request)) args.request.headers[EMULATOR_ACCOUNT_HEADER] = accountFor(args.input);
    return next(args);
  };
}

const MIDDLEWARE = { step: 'build', name: 'frostlineEmulatorAccount' } as const;

export function createKmsClient(options: AwsClientOptions): KMSClient {
  const client = new KMSClient(clientConfig(options));
  const accountId = options.accountId;
  if (accountId !== undefined) client.middlewareStack.add(emulatorAccountMiddleware(() => accountId), MIDDLEWARE);
  return client;
}

export function createDynamoDbClient(options: AwsClientOptions): DynamoDBClient {
  const client = new DynamoDBClient(clientConfig(options));
  const accountId = options.accountId;
  if (accountId !== undefined) client.middlewareStack.add(emulatorAccountMiddleware(() => accountId), MIDDLEWARE);
  return client;
}

/** The owner account in a queue URL `https://host/<account>/<name>`, if it has one. */
export function queueUrlAccount(queueUrl: string): string | undefined {
  const match = /^https?:\/\/[^/]+\/(\d{12})\/[^/]+$/.exec(queueUrl);
  return match?.[1];
}

function inputQueueUrl(input: object): string | undefined {
  return 'QueueUrl' in input && typeof input.QueueUrl === 'string' ? input.QueueUrl : undefined;
}

/**
 * SQS client. In the emulator, a call naming a queue URL is made in the account that owns
 * that queue: moto resolves a queue URL by its name within the *caller's* account and
 * ignores the account in the URL, whereas real SQS sends cross-account to the owner (the
 * owner's queue policy must allow it). Taking the account from the URL reproduces the
 * real routing; it cannot reproduce the policy check.
 */
export function createSqsClient(options: AwsClientOptions): SQSClient {
  const client = new SQSClient(clientConfig(options));
  const accountId = options.accountId;
  if (accountId !== undefined) {
    client.middlewareStack.add(
      emulatorAccountMiddleware((input) => {
        const url = inputQueueUrl(input);
        return (url === undefined ? undefined : queueUrlAccount(url)) ?? accountId;
      }),
      MIDDLEWARE,
    );
  }
  return client;
}

export interface AwsClients {
  readonly kms: KMSClient;
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
}

export function createAwsClients(options: AwsClientOptions): AwsClients {
  return { kms: createKmsClient(options), dynamodb: createDynamoDbClient(options), sqs: createSqsClient(options) };
}
