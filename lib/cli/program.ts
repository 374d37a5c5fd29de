/**
 * Command-line parsing (commander) for `frostline`; the work itself is in commands.ts and
 * deployment-commands.ts. Commander prints nothing itself: usage errors reach the entry
 * point (bin/frostline.ts) as thrown `CommanderError`s, which it prints as one line.
 */
import { Command, Help, InvalidArgumentError, Option } from 'commander';
import { FrostlineError } from '../ports/errors.js';
import { NAME_PATTERN, RequestId } from '../protocol/messages.js';
import { runAuditVerify } from './audit.js';
import { configCommand } from './config-pin.js';
import { defaultDataDir, localPinnedKey, publicKeyOf, runDemo, runKey, runKeygen, runKeys, runSign, runVerify } from './commands.js';
import { runDerive, runXpub } from './derive-commands.js';
import { runLocalLifecycle, type LifecycleAsk } from './lifecycle-commands.js';
import {
  type DeploymentTarget,
  deploymentPinnedKey,
  deploymentPublicKey,
  runDeploymentAuditVerify,
  runDeploymentKey,
  runDeploymentKeygen,
  runDeploymentKeys,
  runDeploymentLifecycle,
  runDeploymentPurgeVolatile,
  runDeploymentSign,
} from './deployment-commands.js';
import { MAX_SIGN_MESSAGE_BYTES, MAX_VERIFY_MESSAGE_BYTES, type MessageFlags, readMessage } from './message-input.js';
import { type PrincipalKind, runCreatePrincipal } from './principal-keys.js';
import { runPurgeVolatile } from './purge.js';
import { packageVersion } from './version.js';
import { parsePath } from '../protocol/derivation/path.js';
import type { TaprootOption } from '../protocol/derivation/key.js';
import { DEFAULT_SUITE_NAME, SUITE_NAMES, suiteById, suiteFor } from '../protocol/suites.js';

interface TaprootFlags {
  taproot?: boolean;
  merkleRoot?: string;
}

/** `--taproot` / `--merkle-root HEX` as the request's taproot option (a bad root is a usage error). */
function taprootOption(o: TaprootFlags): TaprootOption | undefined {
  if (o.merkleRoot !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(o.merkleRoot)) throw new FrostlineError('usage', '--merkle-root must be 32 bytes of hex');
    return { merkleRoot: o.merkleRoot.toLowerCase() };
  }
  return o.taproot === true ? {} : undefined;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** An idempotency key as the wire takes it (`RequestId`): refused here, before anything is sent or printed. */
function requestId(value: string): string {
  if (!RequestId.safeParse(value).success) throw new InvalidArgumentError('expected 1-128 of A-Z a-z 0-9 . _ : -');
  return value;
}

function name(value: string): string {
  if (!NAME_PATTERN.test(value)) throw new InvalidArgumentError('expected a-z, 0-9 and "-" (at most 63 characters)');
  return value;
}

/** --message TEXT, --message-hex HEX and --message-file PATH (`-`: stdin): one of them is the message. */
function addMessageOptions(command: Command): Command {
  return command
    .option('-m, --message <text>', 'message (UTF-8)')
    .option('--message-hex <hex>', 'message (hex bytes)')
    .option('--message-file <path>', 'message: the bytes of this file, or of stdin with -');
}

/** Cross-field checks commander cannot express. */
function assertThreshold(threshold: number, parties: number): void {
  if (threshold > parties) throw new FrostlineError('usage', `--threshold ${threshold} is larger than --parties ${parties}`);
}

function names(value: string): string[] {
  const list = value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
  for (const item of list) name(item);
  if (new Set(list).size !== list.length) throw new InvalidArgumentError('names repeat');
  return list;
}

function endpointUrl(value: string): string {
  if (!/^https?:\/\/\S+$/.test(value)) throw new InvalidArgumentError('expected an http(s) URL');
  return value;
}

/** Local parties when none are asked for (a deployment uses all of its own). */
const DEFAULT_LOCAL_PARTIES = 3;

interface DeploymentFlags {
  deployment?: string;
  config?: string;
  initiator?: string;
  keyFile?: string;
  profile?: string;
  region?: string;
  endpoint?: string;
  timeout?: number;
  json?: boolean;
}

function region(value: string): string {
  if (!/^[a-z]{2}(?:-[a-z]+)+-\d+$/.test(value)) throw new InvalidArgumentError('expected an AWS region such as eu-west-1');
  return value;
}

/** --config and the options only it takes (shared by the request commands and `audit verify`). */
function addConfigOptions(command: Command): Command {
  return command
    .option('--config <file>', 'use the real deployment described by this pinned deployment config (the file `cdk deploy` uses)')
    .option('--profile <name>', 'with --config: AWS profile for every call (default: the SDK\'s default credential chain)')
    .addOption(new Option('--region <region>', "with --config: region of every AWS client, overriding the config's").argParser(region));
}

/** The deployment options every request command shares. */
function addDeploymentOptions(command: Command): Command {
  return addConfigOptions(
    command.option('--deployment <file>', 'use the development deployment in FILE (from `frostline dev up`) instead of the local cluster'),
  )
    .addOption(new Option('--initiator <id>', "initiator to act as (default: the deployment file's first, or the config's only one)").argParser(name))
    .option('--key-file <pem>', "with --config: the initiator's PKCS#8 PEM private key (default: its KMS key from the config)")
    .addOption(new Option('--endpoint <url>', "emulator endpoint (overrides the deployment file's; with --config: fake credentials, no --profile)").argParser(endpointUrl))
    .addOption(new Option('--timeout <seconds>', 'give up waiting for the result after this long').argParser(integer(1, 3600)).default(120));
}

/**
 * The deployment target if --deployment or --config was given; both at once, or options
 * of one kind with the other (or with neither), are a usage error.
 */
function deploymentTarget(o: DeploymentFlags): DeploymentTarget | undefined {
  const common = {
    json: o.json === true,
    initiator: o.initiator,
    endpoint: o.endpoint,
    ...(o.timeout !== undefined ? { timeoutMs: o.timeout * 1000 } : {}),
  };
  const configOnly = [
    ['--key-file', o.keyFile],
    ['--profile', o.profile],
    ['--region', o.region],
  ]
    .filter(([, value]) => value !== undefined)
    .map(([flag]) => flag);
  if (o.deployment !== undefined && o.config !== undefined) {
    throw new FrostlineError('usage', '--deployment FILE (a `frostline dev up` file) and --config FILE (a deployment config) are mutually exclusive: give one');
  }
  if (o.config !== undefined) {
    if (o.profile !== undefined && o.endpoint !== undefined) {
      throw new FrostlineError('usage', '--profile and --endpoint are mutually exclusive: an emulator endpoint gets fake credentials, never a profile\'s');
    }
    return {
      ...common,
      config: o.config,
      keyFile: o.keyFile,
      profile: o.profile,
      region: o.region,
    };
  }
  if (configOnly.length > 0) throw new FrostlineError('usage', `${configOnly.join(', ')} need${configOnly.length === 1 ? 's' : ''} --config FILE`);
  if (o.deployment !== undefined) return { ...common, deployment: o.deployment };
  if (o.initiator !== undefined || o.endpoint !== undefined) throw new FrostlineError('usage', '--initiator and --endpoint need --deployment FILE or --config FILE');
  return undefined;
}

const dataDirOption = () => new Option('--data-dir <dir>', 'where vaults, stores and pinned keys live').default(defaultDataDir(), '$FROSTLINE_HOME or ~/.frostline');
/** `--suite`: one of the registry's names; commander refuses anything else in one line listing them. */
const suiteOption = (description: string) => new Option('--suite <name>', description).choices(SUITE_NAMES);
const jsonOption = () => new Option('--json', 'print one JSON object on stdout (progress goes to stderr)');

export function buildProgram(): Command {
  const program = new Command('frostline')
    .description('FROST threshold Ed25519 signing: n parties, any t sign, the key never exists')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addHelpText(
      'after',
      '\nExit status: 0 done, 1 refused or failed, 2 usage error, 3 infrastructure (file system, AWS, a lock held by another command, a timeout).\n' +
        'Without --deployment or --config, commands work on the local cluster in --data-dir ($FROSTLINE_HOME or ~/.frostline).',
    );

  program
    .command('demo')
    .description('run a local t-of-n cluster: DKG, one signature, an OpenSSL check')
    .addOption(new Option('-t, --threshold <t>', 'signers needed').argParser(integer(2, 255)).default(2))
    .addOption(new Option('-n, --parties <n>', 'parties holding shares').argParser(integer(2, 255)).default(3))
    .option('-m, --message <text>', 'message to sign', 'hello from frostline')
    .option('--data-dir <dir>', 'keep the cluster here (default: a temporary directory, removed afterwards)')
    .addOption(jsonOption())
    .action(async (o: { threshold: number; parties: number; message: string; json?: boolean; dataDir?: string }) => {
      assertThreshold(o.threshold, o.parties);
      await runDemo({ threshold: o.threshold, parties: o.parties, message: o.message, json: o.json === true, dataDir: o.dataDir });
    });

  addDeploymentOptions(
    program
      .command('keygen')
      .description('generate a new group key by DKG among the local parties (or a deployment\'s)')
      .requiredOption('-k, --key-id <id>', 'name of the new key', name)
      .addOption(new Option('-t, --threshold <t>', 'signers needed').argParser(integer(2, 255)).default(2))
      .addOption(new Option('-n, --parties <n>', `parties holding shares (default: ${DEFAULT_LOCAL_PARTIES} locally, all of a deployment's)`).argParser(integer(2, 255)))
      .option('--request-id <id>', 'idempotency key (deployment): repeating it returns the first result', requestId)
      .addOption(suiteOption('the key\'s signature scheme').default(DEFAULT_SUITE_NAME))
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { keyId: string; threshold: number; parties?: number; requestId?: string; suite: string; dataDir: string; json?: boolean } & DeploymentFlags) => {
    const target = deploymentTarget(o);
    if (target !== undefined) {
      await runDeploymentKeygen(target, {
        keyId: o.keyId,
        threshold: o.threshold,
        parties: o.parties,
        requestId: o.requestId,
        suite: o.suite,
      });
      return;
    }
    const parties = o.parties ?? DEFAULT_LOCAL_PARTIES;
    assertThreshold(o.threshold, parties);
    await runKeygen({ dataDir: o.dataDir, keyId: o.keyId, threshold: o.threshold, parties, suite: o.suite, json: o.json === true });
  });

  addDeploymentOptions(
    program
      .command('sign')
      .description('sign a message with a key made by `frostline keygen`')
      .requiredOption('-k, --key <id>', 'key id', name)
      .option('-m, --message <text>', 'message (UTF-8)')
      .option('--message-hex <hex>', 'message (hex bytes)')
      .option('--message-file <path>', `message: the bytes of this file, or of stdin with - (at most ${MAX_SIGN_MESSAGE_BYTES} bytes; the policy's limit applies)`)
      .option('--request-id <id>', 'idempotency key: repeating it returns the first result', requestId)
      .option('--path <path>', 'sign under the non-hardened child key at PATH, e.g. m/0/7 (see `frostline derive`)')
      .option('--taproot', 'secp256k1-tr: the BIP341 output key of the (child) key as internal key, key path only (BIP86)')
      .option('--merkle-root <hex>', 'secp256k1-tr: with --taproot, commit to this script-tree merkle root (32 bytes hex); implies --taproot')
      .addOption(new Option('--approvers <ids>', "--deployment only: attach approvals signed with these approvers' local keys (comma-separated)").argParser(names))
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; requestId?: string; path?: string; approvers?: string[]; dataDir: string; json?: boolean } & MessageFlags & DeploymentFlags & TaprootFlags) => {
    if (o.path !== undefined) parsePath(o.path); // a bad path is a usage error before anything runs
    const taproot = taprootOption(o);
    const target = deploymentTarget(o);
    const message = await readMessage(o, MAX_SIGN_MESSAGE_BYTES);
    if (target !== undefined) {
      await runDeploymentSign(target, {
        keyId: o.key,
        message,
        requestId: o.requestId,
        approvers: o.approvers,
        path: o.path,
        taproot,
      });
      return;
    }
    if (o.approvers !== undefined) throw new FrostlineError('usage', '--approvers needs --deployment FILE');
    await runSign({ dataDir: o.dataDir, keyId: o.key, message, json: o.json === true, requestId: o.requestId, path: o.path, taproot });
  });

  // Key lifecycle (README "Key lifecycle"): the same key, new shares / a new party set or threshold / a lost share restored.
  const lifecycle = async (o: { key: string; requestId?: string; approvers?: string[]; dataDir: string; json?: boolean } & DeploymentFlags, ask: LifecycleAsk) => {
    const target = deploymentTarget(o);
    const requestId = o.requestId !== undefined ? { requestId: o.requestId } : {};
    if (target !== undefined) {
      await runDeploymentLifecycle(target, { keyId: o.key, ask, ...requestId, ...(o.approvers !== undefined ? { approvers: o.approvers } : {}) });
      return;
    }
    if (o.approvers !== undefined) throw new FrostlineError('usage', '--approvers needs --deployment FILE');
    await runLocalLifecycle({ dataDir: o.dataDir, keyId: o.key, ask, json: o.json === true, ...requestId });
  };
  const lifecycleCommand = (command: string, description: string) =>
    program
      .command(command)
      .description(description)
      .requiredOption('-k, --key <id>', 'key id', name)
      .addOption(new Option('--approvers <ids>', "--deployment only: attach lifecycle approvals signed with these approvers' local keys (comma-separated)").argParser(names));
  addDeploymentOptions(
    lifecycleCommand('refresh', 'new shares for the same parties and threshold; the group key stays (old shares stop working together with new ones)')
      .option('--request-id <id>', 'idempotency key: repeating it returns the first result', requestId)
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; requestId?: string; approvers?: string[]; dataDir: string; json?: boolean } & DeploymentFlags) => lifecycle(o, { mode: 'refresh' }));

  addDeploymentOptions(
    lifecycleCommand('reshare', 'move a key to a new party set and/or threshold; the group key stays (locally, a new party name becomes a new local party)')
      .requiredOption('--parties <ids>', 'the new party set, comma-separated', names)
      .requiredOption('-t, --threshold <t>', 'signers needed in the new set', integer(2, 255))
      .addOption(new Option('--dealers <ids>', 'current parties that deal, comma-separated (default: every current party; at least the current threshold)').argParser(names))
      .option('--request-id <id>', 'idempotency key: repeating it returns the first result', requestId)
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; parties: string[]; threshold: number; dealers?: string[]; requestId?: string; approvers?: string[]; dataDir: string; json?: boolean } & DeploymentFlags) => {
    if (o.parties.length < 2) throw new FrostlineError('usage', '--parties needs at least 2 names');
    assertThreshold(o.threshold, o.parties.length);
    await lifecycle(o, { mode: 'reshare', parties: o.parties, threshold: o.threshold, ...(o.dealers !== undefined ? { dealers: o.dealers } : {}) });
  });

  addDeploymentOptions(
    lifecycleCommand('repair', "restore a party's lost share (lost table or KMS key): a reshare to the same set and threshold that every other party deals")
      .requiredOption('-p, --party <id>', 'the party whose share is restored', name)
      .option('--request-id <id>', 'idempotency key: repeating it returns the first result', requestId)
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; party: string; requestId?: string; approvers?: string[]; dataDir: string; json?: boolean } & DeploymentFlags) => lifecycle(o, { mode: 'repair', party: o.party }));

  addDeploymentOptions(
    program
      .command('derive')
      .description("a key's non-hardened child public key at PATH, offline from its attested data (README \"Derivation\")")
      .requiredOption('-k, --key <id>', 'key id', name)
      .requiredOption('--path <path>', 'derivation path, e.g. m/0/7 (non-hardened steps only)')
      .option('--taproot', 'secp256k1-tr: the BIP341 output key of the (child) key as internal key, key path only (BIP86)')
      .option('--merkle-root <hex>', 'secp256k1-tr: with --taproot, commit to this script-tree merkle root (32 bytes hex); implies --taproot')
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; path: string; dataDir: string; json?: boolean } & DeploymentFlags & TaprootFlags) => {
    parsePath(o.path);
    const taproot = taprootOption(o);
    const target = deploymentTarget(o);
    const key = target !== undefined ? await deploymentPinnedKey(target, o.key) : await localPinnedKey(o.dataDir, o.key, `frostline derive --key ${o.key}`);
    runDerive(key, o.path, o.json === true, taproot);
  });

  addDeploymentOptions(
    program
      .command('xpub')
      .description('the BIP32 extended public key (xpub) of a secp256k1-tr key')
      .requiredOption('-k, --key <id>', 'key id', name)
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; dataDir: string; json?: boolean } & DeploymentFlags) => {
    const target = deploymentTarget(o);
    const key = target !== undefined ? await deploymentPinnedKey(target, o.key) : await localPinnedKey(o.dataDir, o.key, `frostline xpub --key ${o.key}`);
    runXpub(key, o.json === true);
  });

  addDeploymentOptions(
    program
      .command('key')
      .description("show a key's group public key, threshold and parties")
      .requiredOption('-k, --key <id>', 'key id', name)
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; dataDir: string; json?: boolean } & DeploymentFlags) => {
    const target = deploymentTarget(o);
    if (target !== undefined) await runDeploymentKey(target, o.key);
    else await runKey({ dataDir: o.dataDir, keyId: o.key, json: o.json === true });
  });

  addDeploymentOptions(
    addMessageOptions(
      program
        .command('verify')
        .description('verify a signature independently: Ed25519/Ed448 with node:crypto (OpenSSL), BIP340 with libsecp256k1 (exit 1 if invalid)')
        .option('-k, --key <id>', 'key id (in the data directory, or of the deployment)')
        .option('--public-key <hex>', 'group public key (instead of --key)'),
    )
      .requiredOption('-s, --signature <hex>', 'signature (hex)')
      .addOption(suiteOption(`the signature scheme (default: the key's; ${DEFAULT_SUITE_NAME} with --public-key)`))
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key?: string; publicKey?: string; signature: string; suite?: string; dataDir: string; json?: boolean } & MessageFlags & DeploymentFlags) => {
    if ((o.key === undefined) === (o.publicKey === undefined)) throw new FrostlineError('usage', 'give exactly one of --key ID or --public-key HEX');
    const target = deploymentTarget(o);
    if (o.publicKey !== undefined && target !== undefined) throw new FrostlineError('usage', '--public-key needs no deployment: give --key ID with --deployment or --config');
    const message = await readMessage(o, MAX_VERIFY_MESSAGE_BYTES);
    const keyId = o.key ?? '';
    const key =
      o.publicKey !== undefined
        ? { publicKey: o.publicKey.toLowerCase(), suite: suiteFor(DEFAULT_SUITE_NAME).id }
        : target !== undefined
          ? await deploymentPublicKey(target, keyId)
          : await publicKeyOf(o.dataDir, keyId);
    const suite = o.suite !== undefined ? suiteFor(o.suite) : suiteById(key.suite);
    if (suite === undefined) throw new FrostlineError('usage', `key "${keyId}" has suite "${key.suite}", which this version does not verify`);
    if (!(await runVerify({ publicKey: key.publicKey, suite, message, signature: o.signature.toLowerCase(), json: o.json === true }))) process.exitCode = 1;
  });

  addConfigOptions(
    program
      .command('keys')
      .description('list the keys (of the local cluster, or in a deployment\'s coordinator registry, each checked against its parties\' attestations)')
      .option('--deployment <file>', 'list the keys of the development deployment in FILE'),
  )
    .addOption(new Option('--endpoint <url>', "emulator endpoint (overrides the deployment file's; with --config: fake credentials, no --profile)").argParser(endpointUrl))
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { dataDir: string; json?: boolean } & Pick<DeploymentFlags, 'deployment' | 'config' | 'profile' | 'region' | 'endpoint'>) => {
      const target = deploymentTarget(o);
      if (target !== undefined) await runDeploymentKeys(target);
      else await runKeys({ dataDir: o.dataDir, json: o.json === true });
    });

  addConfigOptions(
    program
      .command('audit')
      .description("check a party's audit trail")
      .command('verify')
      .description('verify the hash chain of one party\'s decisions; exit 1 and name the first broken record')
      .requiredOption('-p, --party <id>', 'party id, e.g. p1', name)
      .option('--deployment <file>', "read the party's table in the development deployment in FILE"),
  )
    .addOption(new Option('--endpoint <url>', "emulator endpoint (overrides the deployment file's; with --config: fake credentials, no --profile)").argParser(endpointUrl))
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { party: string; dataDir: string; json?: boolean } & Pick<DeploymentFlags, 'deployment' | 'config' | 'profile' | 'region' | 'endpoint'>) => {
      const target = deploymentTarget(o);
      const ok =
        target !== undefined
          ? await runDeploymentAuditVerify(target, o.party)
          : await runAuditVerify({ dataDir: o.dataDir, party: o.party, json: o.json === true });
      if (!ok) process.exitCode = 1;
    });

  addConfigOptions(
    program
      .command('party')
      .description("operate on one party's table")
      .command('purge-volatile')
      .description(
        "after restoring a party's table: delete its unused nonces and DKG round state (a revived nonce could be signed with twice), " +
          'print what was deleted and how long to wait before the party handles messages again',
      )
      .requiredOption('-p, --party <id>', 'party id, e.g. p2', name)
      .option('--deployment <file>', "purge the party's table in the development deployment in FILE"),
  )
    .addOption(new Option('--endpoint <url>', "emulator endpoint (overrides the deployment file's; with --config: fake credentials, no --profile)").argParser(endpointUrl))
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { party: string; dataDir: string; json?: boolean } & Pick<DeploymentFlags, 'deployment' | 'config' | 'profile' | 'region' | 'endpoint'>) => {
      const target = deploymentTarget(o);
      if (target !== undefined) await runDeploymentPurgeVolatile(target, o.party);
      else await runPurgeVolatile({ dataDir: o.dataDir, party: o.party, json: o.json === true });
    });

  const dev = program.command('dev').description('a development deployment on an AWS API emulator');
  dev
    .command('up')
    .description('provision parties, coordinator and initiators in emulated accounts, write the deployment file, run the handlers until Ctrl-C')
    .addOption(new Option('--endpoint <url>', 'a running emulator (default: start the pinned moto from scripts/emulator.mjs)').argParser(endpointUrl))
    .addOption(new Option('-n, --parties <n>', 'parties p1..pN').argParser(integer(2, 32)).default(3))
    .addOption(new Option('--initiators <ids>', 'initiators, comma-separated; each gets a result queue and a local key').argParser(names).default(['cli'], 'cli'))
    .addOption(new Option('--approvers <ids>', 'approvers, comma-separated; each gets a local key').argParser(names).default([], 'none'))
    .option('--policy <file>', "every party's policy as JSON (default: each initiator may run keygen and use every key)")
    .option('-o, --out <file>', 'deployment file to write; keys go to <name>.keys/ beside it (a directory dev up creates is git-ignored)', '.frostline-dev/deployment.json')
    .option('--force', "replace an earlier run's deployment file (its local keys are reused)")
    .addOption(new Option('--log-level <level>', "handlers' log level (JSON lines on stdout)").choices(['SILENT', 'ERROR', 'WARN', 'INFO', 'DEBUG']).default('SILENT'))
    .action(async (o: { endpoint?: string; parties: number; initiators: string[]; approvers: string[]; policy?: string; out: string; force?: boolean; logLevel: 'SILENT' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' }) => {
      if (o.initiators.length === 0) throw new FrostlineError('usage', '--initiators needs at least one name');
      // Loaded on demand: it brings the Lambda handlers and Powertools, which no other command needs.
      const { runDevUp } = await import('./dev.js');
      await runDevUp({
        parties: o.parties,
        initiators: o.initiators,
        approvers: o.approvers,
        out: o.out,
        force: o.force === true,
        logLevel: o.logLevel,
        policyFile: o.policy,
        endpoint: o.endpoint,
      });
    });

  program.addCommand(configCommand());

  for (const kind of ['initiator', 'approver'] as const satisfies readonly PrincipalKind[]) {
    const create = program
      .command(kind)
      .description(kind === 'initiator' ? "an initiator's request-signing key" : "an approver's approval-signing key")
      .command('create')
      .description(`make a new local Ed25519 key (--out) or read a KMS key's public key (--kms-key-arn), and print the ${kind}'s entry for the deployment config`)
      .requiredOption('--id <id>', `${kind} id, as in the config`, name)
      .option('--out <dir>', 'write the new private key to DIR/<id>.pem (PKCS#8, mode 0600; never overwrites)')
      .option('--kms-key-arn <arn>', 'an existing asymmetric SIGN_VERIFY KMS key (Ed25519 or P-256): print its public key')
      .option('--profile <name>', 'with --kms-key-arn: AWS profile to read the key with')
      .addOption(new Option('--endpoint <url>', 'with --kms-key-arn: an AWS emulator (fake credentials of the key\'s account)').argParser(endpointUrl));
    if (kind === 'initiator') {
      create
        .option('--principal-arn <arn>', 'the IAM role or user the application runs as (default: a placeholder to edit)')
        .addOption(new Option('--keys <ids>', 'key ids it may sign with, comma-separated ("*": all)').argParser((value: string) => value.split(',').map((item) => item.trim()).filter((item) => item.length > 0)))
        .option('--keygen', 'may create keys');
    }
    create.addOption(jsonOption()).action(
      async (o: { id: string; out?: string; kmsKeyArn?: string; profile?: string; endpoint?: string; principalArn?: string; keys?: string[]; keygen?: boolean; json?: boolean }) => {
        await runCreatePrincipal({ kind, ...o });
      },
    );
  }

  // Commander prints nothing: the entry point prints one line per usage error (help only on --help).
  forEachCommand(program, (command) => command.exitOverride().configureOutput({ writeErr: () => {}, outputError: () => {} }));
  program.configureHelp({
    // `frostline --help` lists every command, nested ones (`audit verify`, `config pin`, ...) by their full name.
    visibleCommands(command: Command): Command[] {
      const visible = Help.prototype.visibleCommands.call(this, command);
      if (command !== program) return visible;
      return visible.flatMap((sub) => (sub.commands.length > 0 ? Help.prototype.visibleCommands.call(this, sub).filter((leaf) => leaf.name() !== 'help') : [sub]));
    },
    subcommandTerm(command: Command): string {
      const term = Help.prototype.subcommandTerm.call(this, command);
      const parent = command.parent;
      return parent !== null && parent !== program && parent.parent === program ? `${parent.name()} ${term}` : term;
    },
  });
  return program;
}

function forEachCommand(command: Command, visit: (command: Command) => void): void {
  visit(command);
  for (const sub of command.commands) forEachCommand(sub, visit);
}

/**
 * The command a command line names (`frostline audit verify --party p1` → `audit verify`),
 * as far as it names one: for a usage error's pointer to the right `--help`.
 */
export function commandPathOf(program: Command, args: readonly string[]): string {
  const path: string[] = [];
  let current = program;
  for (const arg of args) {
    if (arg.startsWith('-')) continue;
    const next = current.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (next === undefined) break;
    path.push(next.name());
    current = next;
  }
  return path.join(' ');
}
