/**
 * The CDK stacks deployed to ministack and driven end to end, as docs/deploy.md does it in
 * AWS: four emulated accounts (three parties and the coordinator), `cdk bootstrap` in each,
 * a first `cdk deploy` pass without handlers, `pinIdentityKeys` (what `frostline config
 * pin` runs), a second pass with the handlers, then keygen and signatures requested by an
 * initiator through the deployed request queue and answered on its deployed result queue.
 * The config has two initiators: `app` signs with a local Ed25519 key (its PEM is left in
 * the work directory for `frostline ... --key-file`), `vault` with a KMS Ed25519 key in its
 * own emulated account (pinned by `config pin` like the identity keys).
 * Everything in between — event source mappings, the Lambda functions bundled by
 * `cdk synth`, KMS Ed25519 identity keys, DynamoDB, SQS — is ministack's.
 *
 * Used by scripts/ministack-deploy-e2e.mjs (standalone, prints each step) and by
 * test/integration/ministack-deploy.test.ts.
 */
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { CreateAliasCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { join } from 'node:path';
import { createKmsClient, createSqsClient } from '../../lib/adapters/aws/clients.js';
import { newEmulatorAccountId } from '../../lib/dev/dev-deployment.js';
import { queueDepth } from '../../lib/dev/sqs-event-source-runner.js';
import { SqsResultInbox } from '../../lib/adapters/aws/sqs-result-inbox.js';
import { SqsTransport } from '../../lib/adapters/aws/sqs-transport.js';
import { pinIdentityKeys } from '../../lib/cli/config-pin.js';
import { FrostlineClient } from '../../lib/client/client.js';
import { LocalKeySigner } from '../../lib/client/signers.js';
import { parseDeploymentConfigText } from '../../lib/config/deployment.js';
import { coordinatorNames, initiatorNames, partyNames } from '../../lib/config/names.js';
import { ConfigError } from '../../lib/ports/errors.js';

export interface DeployE2eOptions {
  /** ministack, e.g. `http://127.0.0.1:4566`. */
  readonly endpoint: string;
  /** The project root (cdk.json, node_modules/.bin/cdk). */
  readonly root: string;
  /** A fresh directory for the config, the cloud assemblies and the CDK's logs. */
  readonly workDir: string;
  readonly log?: (line: string) => void;
  /** @default 90000 */
  readonly requestTimeoutMs?: number;
}

export interface DeployE2eResult {
  readonly accounts: Readonly<Record<string, string>>;
  /** The pinned deployment config the stacks were deployed from. */
  readonly configPath: string;
  /** PKCS#8 PEM of the initiator `app` (a throwaway test key, mode 0600). */
  readonly appKeyFile: string;
  readonly publicKey: string;
  readonly signatures: number;
  /** Milliseconds per step. */
  readonly timings: Readonly<Record<string, number>>;
}

const PARTIES = ['p1', 'p2', 'p3'] as const;
const INITIATOR = 'app';
/** An initiator whose request-signing key is in KMS. */
const KMS_INITIATOR = 'vault';
const REGION = 'eu-west-1';

/** A failed step: which one, and the evidence (the command's last output lines). */
export class DeployStepError extends Error {
  constructor(
    readonly step: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${message}`, options);
    this.name = 'DeployStepError';
  }
}

function tail(text: string, lines = 40): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Runs the pinned CDK CLI as one emulated account: the 12-digit account id is the access
 * key id (how ministack picks the account), fake secret, no profile or config file of the
 * developer's, no notices, telemetry or version check (nothing leaves the machine).
 */
async function cdk(root: string, workDir: string, endpoint: string, account: string, args: readonly string[], label: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^(AWS_|CDK_)/.test(name)) env[name] = value;
  Object.assign(env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: account,
    AWS_SECRET_ACCESS_KEY: 'frostline-emulator',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_CONFIG_FILE: join(workDir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'no-aws-credentials'),
    CDK_DISABLE_VERSION_CHECK: '1',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    CI: 'true',
  });
  const bin = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'cdk.cmd' : 'cdk');
  const child = spawn(bin, [...args, '--no-notices'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  await writeFile(join(workDir, `${label}.log`), output);
  if (code !== 0) throw new DeployStepError(label, `cdk ${args.join(' ')} exited ${String(code)}:\n${tail(output)}`);
  return output;
}

async function timed<T>(timings: Record<string, number>, step: string, log: (line: string) => void, run: () => Promise<T>): Promise<T> {
  log(`deploy-e2e: ${step} ...`);
  const started = performance.now();
  const result = await run();
  timings[step] = Math.round(performance.now() - started);
  log(`deploy-e2e: ${step} done in ${timings[step]} ms`);
  return result;
}

export async function runDeployE2e(options: DeployE2eOptions): Promise<DeployE2eResult> {
  const { endpoint, root, workDir } = options;
  const log = options.log ?? (() => {});
  const timings: Record<string, number> = {};
  await mkdir(workDir, { recursive: true });

  // ---- accounts, initiator key, config ---------------------------------------------------
  const accounts: Record<string, string> = Object.fromEntries(
    [...PARTIES, 'coordinator', INITIATOR, KMS_INITIATOR].map((id) => [id, newEmulatorAccountId()]),
  );
  const account = (id: string): string => {
    const value = accounts[id];
    if (value === undefined) throw new ConfigError(`no account for ${id}`);
    return value;
  };
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const signer = new LocalKeySigner(privateKeyPem);
  const appKeyFile = join(workDir, `${INITIATOR}.key.pem`);
  await writeFile(appKeyFile, privateKeyPem, { mode: 0o600 });
  const kmsAlias = `alias/${KMS_INITIATOR}-request-signing`;
  await timed(timings, 'initiator KMS key', log, async () => {
    const kms = createKmsClient({ endpoint, region: REGION, accountId: account(KMS_INITIATOR) });
    const created = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', Description: 'frostline e2e initiator' }));
    const keyId = created.KeyMetadata?.KeyId;
    if (keyId === undefined) throw new DeployStepError('initiator KMS key', 'CreateKey returned no key id');
    await kms.send(new CreateAliasCommand({ AliasName: kmsAlias, TargetKeyId: keyId }));
  });
  const configPath = join(workDir, 'deploy.config.json');
  await writeFile(
    configPath,
    `${JSON.stringify(
      {
        name: 'frostline',
        identityKeySpec: 'ed25519',
        coordinator: { account: account('coordinator'), region: REGION },
        parties: PARTIES.map((id) => ({ id, account: account(id), region: REGION })),
        initiators: [
          {
            id: INITIATOR,
            principalArn: `arn:aws:iam::${account(INITIATOR)}:role/${INITIATOR}`,
            publicKey: { alg: 'ed25519', spki: publicKey.export({ format: 'der', type: 'spki' }).toString('hex') },
            keys: ['*'],
            keygen: true,
          },
          {
            id: KMS_INITIATOR,
            principalArn: `arn:aws:iam::${account(KMS_INITIATOR)}:role/${KMS_INITIATOR}`,
            kmsKeyArn: `arn:aws:kms:${REGION}:${account(KMS_INITIATOR)}:${kmsAlias}`,
            keys: ['*'],
            keygen: false,
          },
        ],
        limits: {
          maxMessageBytes: 65536,
          partyConcurrency: 2,
          coordinatorConcurrency: 2,
          handlerTimeoutSeconds: 30,
          maxReceiveCount: 5,
          logRetentionDays: 7,
          sweepEveryMinutes: 1,
          stalledAfterMinutes: 15,
        },
      },
      null,
      2,
    )}\n`,
  );
  log(`deploy-e2e: accounts ${JSON.stringify(accounts)}; config ${configPath}`);
  const stacks: Array<{ id: string; stack: string; account: string }> = [
    ...PARTIES.map((id) => ({ id, stack: `Party-${id}`, account: account(id) })),
    { id: 'coordinator', stack: 'Coordinator', account: account('coordinator') },
  ];
  const nodeAccounts = [...PARTIES, 'coordinator'].map(account);

  // ---- bootstrap, pass 1, pin, pass 2 ----------------------------------------------------
  const synth = (pass: 1 | 2) => {
    const out = join(workDir, `cdk.out.pass${pass}`);
    return timed(timings, `synth pass ${pass}`, log, async () => {
      await cdk(root, workDir, endpoint, account('coordinator'), ['synth', '-c', `config=${configPath}`, '-o', out, '-q'], `synth-pass${pass}`);
      return out;
    });
  };
  const deploy = (pass: 1 | 2, out: string) =>
    timed(timings, `deploy pass ${pass} (4 stacks)`, log, () =>
      Promise.all(
        stacks.map((s) =>
          cdk(root, workDir, endpoint, s.account, ['deploy', '--app', out, s.stack, '--require-approval', 'never', '--progress', 'events'], `deploy-pass${pass}-${s.id}`),
        ),
      ),
    );
  const pass1 = await synth(1);
  // Bootstrap reads the synthesized assembly (`--app`): run bare, it would synthesize the app into cdk.out.
  await timed(timings, 'bootstrap (4 accounts)', log, () =>
    Promise.all(nodeAccounts.map((a) => cdk(root, workDir, endpoint, a, ['bootstrap', `aws://${a}/${REGION}`, '--app', pass1], `bootstrap-${a}`))),
  );
  await deploy(1, pass1);
  await timed(timings, 'pin identity keys', log, async () => {
    const result = await pinIdentityKeys(configPath, {
      kmsClient: (keyAccount, region) => createKmsClient({ endpoint, region, accountId: keyAccount }),
    });
    for (const [path, { key, status }] of Object.entries(result.keys)) log(`deploy-e2e:   ${path} ${status}: ${key.alg} ${key.spki.slice(-16)}`);
    if (!result.written) throw new DeployStepError('pin identity keys', 'the config was not written');
  });
  await deploy(2, await synth(2));

  // ---- an initiator's requests through the deployed queues -------------------------------
  const config = parseDeploymentConfigText(await readFile(configPath, 'utf8'), configPath);
  const coordinatorKey = config.pinned.coordinator;
  if (coordinatorKey === undefined) throw new DeployStepError('pin identity keys', 'no coordinator key pinned');
  for (const [id, key] of Object.entries({ coordinator: coordinatorKey, ...config.pinned.parties })) {
    if (key.alg !== 'ed25519') throw new DeployStepError('pin identity keys', `${id}'s identity key is ${key.alg}, not ed25519`);
  }
  const initiatorConfig = config.initiators.find((i) => i.id === INITIATOR);
  if (initiatorConfig === undefined) throw new ConfigError('no initiator');
  const names = coordinatorNames(config);
  const results = initiatorNames(config, initiatorConfig).results.url;
  const sqs = createSqsClient({ endpoint, region: REGION, accountId: account(INITIATOR) });
  const client = new FrostlineClient({
    initiatorId: INITIATOR,
    signer,
    coordinatorKey,
    partyKeys: config.pinned.parties,
    requests: new SqsTransport(sqs, (destination) => {
      if (destination.kind === 'coordinator') return names.requests.url;
      throw new ConfigError(`an initiator sends to the coordinator only, not to ${destination.kind} "${destination.id}"`);
    }),
    results: new SqsResultInbox(sqs, results),
    timeoutMs: options.requestTimeoutMs ?? 180_000,
  });

  const diagnose = async (step: string, error: unknown): Promise<never> => {
    const queues: Array<[string, string, string]> = [
      ['coordinator', names.requests.url, 'requests'],
      ['coordinator', names.requestsDlq.url, 'requests-dlq'],
      ['coordinator', names.inbox.url, 'inbox'],
      ['coordinator', names.inboxDlq.url, 'inbox-dlq'],
      ['coordinator', results, 'results'],
      ...PARTIES.flatMap((id): Array<[string, string, string]> => {
        const party = config.parties.find((p) => p.id === id);
        if (party === undefined) return [];
        const n = partyNames(config, party);
        return [
          [id, n.inbox.url, 'inbox'],
          [id, n.inboxDlq.url, 'inbox-dlq'],
        ];
      }),
    ];
    const depths: string[] = [];
    for (const [owner, url, what] of queues) {
      const depth = await queueDepth(createSqsClient({ endpoint, region: REGION, accountId: account(owner) }), url).catch((e: unknown) => String(e));
      depths.push(`${owner} ${what}: ${JSON.stringify(depth)}`);
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new DeployStepError(step, `${message}\nqueue depths:\n  ${depths.join('\n  ')}`, { cause: error });
  };

  const key = await timed(timings, 'keygen 2-of-3 through the deployed functions', log, () =>
    client.keygen({ keyId: 'treasury', threshold: 2, parties: [...PARTIES] }).catch((e: unknown) => diagnose('keygen', e)),
  );
  log(`deploy-e2e:   group key ${key.publicKey}`);
  const messages = ['pay invoice 1', 'pay invoice 2'].map((m) => new TextEncoder().encode(m));
  const signatures = await timed(timings, 'two signatures through the deployed functions', log, () =>
    Promise.all(messages.map((message, i) => client.sign({ keyId: 'treasury', message, requestId: `invoice-${i}` }))).catch((e: unknown) =>
      diagnose('sign', e),
    ),
  );
  const groupKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(key.publicKey, 'hex')]), format: 'der', type: 'spki' });
  for (const [i, result] of signatures.entries()) {
    const message = messages[i] ?? new Uint8Array();
    if (!verify(null, message, groupKey, result.signature)) throw new DeployStepError('sign', `signature ${i} does not verify with node:crypto`);
    log(`deploy-e2e:   signature ${i} by ${result.signers.join('+')} verifies with node:crypto`);
  }
  return { accounts, configPath, appKeyFile, publicKey: key.publicKey, signatures: signatures.length, timings };
}
