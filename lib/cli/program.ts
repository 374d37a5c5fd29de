/** Command-line parsing (commander) for `frostline`; the work itself is in commands.ts. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { FrostlineError } from '../ports/errors.js';
import { decodeHex, utf8ToBytes } from '../protocol/encoding.js';
import { NAME_PATTERN } from '../protocol/messages.js';
import { runAuditVerify } from './audit.js';
import { defaultDataDir, publicKeyOf, runDemo, runKeygen, runKeys, runSign, runVerify } from './commands.js';

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
      await runDemo({ threshold: o.threshold, parties: o.parties, message: o.message, json: o.json === true, ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}) });
    });

  program
    .command('keygen')
    .description('generate a new group key by DKG among the local parties')
    .requiredOption('-k, --key-id <id>', 'name of the new key', name)
    .addOption(new Option('-t, --threshold <t>', 'signers needed').argParser(integer(2, 255)).default(2))
    .addOption(new Option('-n, --parties <n>', 'parties holding shares').argParser(integer(2, 255)).default(3))
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { keyId: string; threshold: number; parties: number; dataDir: string; json?: boolean }) => {
      assertThreshold(o.threshold, o.parties);
      await runKeygen({ dataDir: o.dataDir, keyId: o.keyId, threshold: o.threshold, parties: o.parties, json: o.json === true });
    });

  program
    .command('sign')
    .description('sign a message with a key made by `frostline keygen`')
    .requiredOption('-k, --key <id>', 'key id', name)
    .option('-m, --message <text>', 'message (UTF-8)')
    .option('--message-hex <hex>', 'message (hex bytes)')
    .option('--request-id <id>', 'idempotency key: repeating it returns the first result')
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { key: string; message?: string; messageHex?: string; requestId?: string; dataDir: string; json?: boolean }) => {
      await runSign({ dataDir: o.dataDir, keyId: o.key, message: messageBytes(o), json: o.json === true, ...(o.requestId !== undefined ? { requestId: o.requestId } : {}) });
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

  program
    .command('audit')
    .description("check a party's audit trail")
    .command('verify')
    .description('verify the hash chain of one party\'s decisions; exit 1 and name the first broken record')
    .requiredOption('-p, --party <id>', 'party id, e.g. p1', name)
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (o: { party: string; dataDir: string; json?: boolean }) => {
      if (!(await runAuditVerify({ dataDir: o.dataDir, party: o.party, json: o.json === true }))) process.exitCode = 1;
    });

  return program;
}
