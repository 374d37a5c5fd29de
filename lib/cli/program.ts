/** Command-line parsing (commander) for `frostline`; the work itself is in commands.ts. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { FrostlineError } from '../ports/errors.js';
import { decodeHex, utf8ToBytes } from '../protocol/encoding.js';
import { NAME_PATTERN } from '../protocol/messages.js';
import { runAuditVerify } from './audit.js';
import { configCommand } from './config-pin.js';
import { defaultDataDir, publicKeyOf, runDemo, runKey, runKeygen, runKeys, runSign, runVerify } from './commands.js';
import {
  type DeploymentTarget,
  runDeploymentAuditVerify,
  runDeploymentKey,
  runDeploymentKeygen,
  runDeploymentPurgeVolatile,
  runDeploymentSign,
} from './deployment-commands.js';
import { runPurgeVolatile } from './purge.js';

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function name(value: string): string {
  if (!NAME_PATTERN.test(value)) throw new InvalidArgumentError('expected a-z, 0-9 and "-" (at most 63 characters)');
  return value;
}

/** --message TEXT (UTF-8) or --message-hex HEX: exactly one. */
function messageBytes(options: { message?: string; messageHex?: string }): Uint8Array {
  if ((options.message === undefined) === (options.messageHex === undefined)) {
    throw new FrostlineError('usage', 'give exactly one of --message TEXT or --message-hex HEX');
  }
  return options.message !== undefined ? utf8ToBytes(options.message) : decodeHex((options.messageHex ?? '').toLowerCase(), '--message-hex');
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
const jsonOption = () => new Option('--json', 'print one JSON object on stdout (progress goes to stderr)');

export function buildProgram(): Command {
  const program = new Command('frostline')
    .description('FROST threshold Ed25519 signing: n parties, any t sign, the key never exists')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('demo', { isDefault: true })
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
      .option('--request-id <id>', 'idempotency key (deployment): repeating it returns the first result')
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { keyId: string; threshold: number; parties?: number; requestId?: string; dataDir: string; json?: boolean } & DeploymentFlags) => {
    const target = deploymentTarget(o);
    if (target !== undefined) {
      await runDeploymentKeygen(target, {
        keyId: o.keyId,
        threshold: o.threshold,
        parties: o.parties,
        requestId: o.requestId,
      });
      return;
    }
    const parties = o.parties ?? DEFAULT_LOCAL_PARTIES;
    assertThreshold(o.threshold, parties);
    await runKeygen({ dataDir: o.dataDir, keyId: o.keyId, threshold: o.threshold, parties, json: o.json === true });
  });

  addDeploymentOptions(
    program
      .command('sign')
      .description('sign a message with a key made by `frostline keygen`')
      .requiredOption('-k, --key <id>', 'key id', name)
      .option('-m, --message <text>', 'message (UTF-8)')
      .option('--message-hex <hex>', 'message (hex bytes)')
      .option('--request-id <id>', 'idempotency key: repeating it returns the first result')
      .addOption(new Option('--approvers <ids>', "--deployment only: attach approvals signed with these approvers' local keys (comma-separated)").argParser(names))
      .addOption(dataDirOption())
      .addOption(jsonOption()),
  ).action(async (o: { key: string; message?: string; messageHex?: string; requestId?: string; approvers?: string[]; dataDir: string; json?: boolean } & DeploymentFlags) => {
    const target = deploymentTarget(o);
    const message = messageBytes(o);
    if (target !== undefined) {
      await runDeploymentSign(target, {
        keyId: o.key,
        message,
        requestId: o.requestId,
        approvers: o.approvers,
      });
      return;
    }
    if (o.approvers !== undefined) throw new FrostlineError('usage', '--approvers needs --deployment FILE');
    await runSign({ dataDir: o.dataDir, keyId: o.key, message, json: o.json === true, requestId: o.requestId });
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

  program
    .command('verify')
    .description('verify an Ed25519 signature with node:crypto (exit 1 if invalid)')
    .option('-k, --key <id>', 'key id in the data directory')
    .option('--public-key <hex>', 'group public key (instead of --key)')
    .option('-m, --message <text>', 'message (UTF-8)')
    .option('--message-hex <hex>', 'message (hex bytes)')
    .requiredOption('-s, --signature <hex>', 'signature (128 hex characters)')
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { key?: string; publicKey?: string; message?: string; messageHex?: string; signature: string; dataDir: string; json?: boolean }) => {
      if ((o.key === undefined) === (o.publicKey === undefined)) throw new FrostlineError('usage', 'give exactly one of --key ID or --public-key HEX');
      const publicKey = o.publicKey?.toLowerCase() ?? (await publicKeyOf(o.dataDir, o.key ?? ''));
      if (!runVerify({ publicKey, message: messageBytes(o), signature: o.signature.toLowerCase(), json: o.json === true })) process.exitCode = 1;
    });

  program
    .command('keys')
    .description('list the keys in the data directory')
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { dataDir: string; json?: boolean }) => runKeys({ dataDir: o.dataDir, json: o.json === true }));

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

  program.addCommand(configCommand());

  const dev = program.command('dev').description('a development deployment on an AWS API emulator');
  dev
    .command('up')
    .description('provision parties, coordinator and initiators in emulated accounts, write the deployment file, run the handlers until Ctrl-C')
    .addOption(new Option('--endpoint <url>', 'a running emulator (default: start the pinned moto from scripts/emulator.mjs)').argParser(endpointUrl))
    .addOption(new Option('-n, --parties <n>', 'parties p1..pN').argParser(integer(2, 32)).default(3))
    .addOption(new Option('--initiators <ids>', 'initiators, comma-separated; each gets a result queue and a local key').argParser(names).default(['cli'], 'cli'))
    .addOption(new Option('--approvers <ids>', 'approvers, comma-separated; each gets a local key').argParser(names).default([], 'none'))
    .option('--policy <file>', "every party's policy as JSON (default: each initiator may run keygen and use every key)")
    .option('-o, --out <file>', 'deployment file to write (keys go to <name>.keys/ beside it)', 'frostline-dev.json')
    .addOption(new Option('--log-level <level>', "handlers' log level (JSON lines on stdout)").choices(['SILENT', 'ERROR', 'WARN', 'INFO', 'DEBUG']).default('SILENT'))
    .action(async (o: { endpoint?: string; parties: number; initiators: string[]; approvers: string[]; policy?: string; out: string; logLevel: 'SILENT' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' }) => {
      if (o.initiators.length === 0) throw new FrostlineError('usage', '--initiators needs at least one name');
      // Loaded on demand: it brings the Lambda handlers and Powertools, which no other command needs.
      const { runDevUp } = await import('./dev.js');
      await runDevUp({
        parties: o.parties,
        initiators: o.initiators,
        approvers: o.approvers,
        out: o.out,
        logLevel: o.logLevel,
        policyFile: o.policy,
        endpoint: o.endpoint,
      });
    });

  return program;
}
