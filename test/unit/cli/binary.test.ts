/**
 * The `frostline` binary as a user meets it in the first hour (issue 10): every command is
 * reachable and listed, nothing falls through to `demo`, every error is one line with a
 * code and a documented exit status (1 refused/failed, 2 usage, 3 infrastructure), a bad
 * or mistyped --data-dir neither hangs nor creates a cluster, messages come from a file or
 * stdin, --json results share one shape, and a local DKG shows its rounds.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildCliBinary, type CliBinary, type CliRun, jsonOf, ROOT } from '../../support/cli-binary.js';
import { verifyWithNodeCrypto } from '../../support/ed25519.js';

let cli: CliBinary;
let scratch: string;
/** A data directory with one 2-of-3 key "k1", made by the binary's keygen. */
let dataDir: string;
let keygen: CliRun;

const EXAMPLE = join(ROOT, 'deploy', 'example.config.json');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The run failed with exactly one line on stderr, `frostline: <code>: ...`, and this exit status. */
function expectOneLineFailure(run: CliRun, status: number, code: string): string {
  const lines = run.stderr.trimEnd().split('\n');
  expect({ status: run.code, lines }).toMatchObject({ status, lines: [expect.stringMatching(new RegExp(`^frostline: ${code}: `))] });
  expect(run.stderr).not.toMatch(/^\s+at /m); // no stack
  expect(run.stderr).not.toMatch(/Usage:/); // no help
  return lines[0] ?? '';
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'frostline-cli-binary-'));
  cli = await buildCliBinary();
  dataDir = join(scratch, 'home');
  keygen = await cli.run(['keygen', '--key-id', 'k1', '--data-dir', dataDir, '--json']);
});

afterAll(async () => {
  await cli?.remove();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('commands: all reachable, listed, and nothing falls through to demo', () => {
  test('--version prints the package version; --help lists every command, nested ones by full name', async () => {
    const [version, help, helpSign] = await Promise.all([cli.run(['--version']), cli.run(['--help']), cli.run(['help', 'sign'])]);
    expect(version).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(help.code).toBe(0);
    for (const command of ['demo', 'keygen', 'sign', 'key', 'verify', 'keys', 'audit verify', 'party purge-volatile', 'dev up', 'config pin']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(help.stdout).toMatch(/Exit status: 0 done, 1 refused or failed, 2 usage error, 3 infrastructure/);
    expect(helpSign.code).toBe(0);
    expect(helpSign.stdout).toMatch(/^Usage: frostline sign \[options\]/);
  });

  test('an unknown command, an unknown option and a missing subcommand: one usage line each, exit 2', async () => {
    const [bogus, noCommand, config, unknownOption, badValue, json, badRequestId] = await Promise.all([
      cli.run(['bogus']),
      cli.run([]),
      cli.run(['config']),
      cli.run(['keys', '--bogus']),
      cli.run(['keygen', '--key-id', 'k', '--threshold', 'two']),
      cli.run(['sign', '--key', 'k1', '--message', 'a', '--message-hex', '00', '--json']),
      cli.run(['refresh', '--key', 'k1', '--request-id', 'bad id']),
    ]);
    expect(expectOneLineFailure(bogus, 2, 'usage')).toBe("frostline: usage: unknown command 'bogus' (frostline --help)");
    expect(expectOneLineFailure(noCommand, 2, 'usage')).toMatch(/^frostline: usage: frostline needs a command: demo, keygen, .*config/);
    expect(expectOneLineFailure(config, 2, 'usage')).toBe('frostline: usage: frostline config needs a command: pin, show-endpoints (frostline config --help)');
    expect(expectOneLineFailure(unknownOption, 2, 'usage')).toBe("frostline: usage: unknown option '--bogus' (frostline keys --help)");
    expect(expectOneLineFailure(badValue, 2, 'usage')).toMatch(/threshold.*'two' is invalid\. expected an integer from 2 to 255 \(frostline keygen --help\)$/);
    // A request id the wire would refuse: a usage line before anything is sent or printed as progress.
    expect(expectOneLineFailure(badRequestId, 2, 'usage')).toMatch(/request-id.*'bad id' is invalid\. expected 1-128 of A-Z a-z 0-9 \. _ : - \(frostline refresh --help\)$/);
    for (const run of [bogus, noCommand, config, unknownOption, badValue, badRequestId]) expect(run.stdout).toBe('');
    // --json: the failure is also the one JSON object on stdout.
    expectOneLineFailure(json, 2, 'usage');
    expect(jsonOf(json)).toEqual({ ok: false, code: 'usage', message: expect.stringMatching(/^give exactly one of --message TEXT, --message-hex HEX or --message-file PATH/) });
  });

  test('demo (what `npm start` runs) still works, by name', async () => {
    const demo = await cli.run(['demo', '--json', '--message', 'hi']);
    expect(demo.code).toBe(0);
    const result = jsonOf(demo);
    expect(result).toMatchObject({ ok: true, requestId: expect.any(String), threshold: 2, parties: 3 });
    expect(verifyWithNodeCrypto(String(result.publicKey), new TextEncoder().encode('hi'), String(result.signature))).toBe(true);
    expect(demo.stderr).toMatch(/\[1\/4\] round 1 commitments: 3\/3 parties/);
  });
});

describe('the local data directory: keygen creates a cluster, nothing else does, nothing hangs', () => {
  test('keygen made the directory (with its parents) and printed a line per DKG round and one JSON object', () => {
    expect(keygen.code).toBe(0);
    expect(jsonOf(keygen)).toEqual({ ok: true, requestId: expect.any(String), keyId: 'k1', suite: 'ed25519', publicKey: expect.stringMatching(/^[0-9a-f]{64}$/), threshold: 2, parties: ['p1', 'p2', 'p3'] });
    const rounds = keygen.stderr.split('\n').filter((line) => /^ {2}\[\d\/4\] /.test(line));
    expect(rounds).toEqual([
      expect.stringMatching(/^ {2}\[1\/4\] round 1 commitments: 3\/3 parties {2}\d+\.\ds$/),
      expect.stringMatching(/^ {2}\[2\/4\] round 2 encrypted shares: 3\/3 parties/),
      expect.stringMatching(/^ {2}\[3\/4\] round 3 shares verified, key attested: 3\/3 parties/),
      expect.stringMatching(/^ {2}\[4\/4\] key confirmed: 3\/3 parties/),
    ]);
    expect(existsSync(join(dataDir, 'cluster.json'))).toBe(true);
    // The lock is released, and no temporary file is left behind.
    expect(readdirSync(dataDir).filter((name) => name.endsWith('.lock') || name.endsWith('.tmp'))).toEqual([]);
  });

  test('every read-only command refuses a directory without cluster.json, and creates nothing in it', async () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const typo = join(scratch, 'no-such-home');
    const signature = '00'.repeat(64);
    const commands = [
      ['keys'],
      ['key', '--key', 'k1'],
      ['sign', '--key', 'k1', '--message', 'x'],
      ['verify', '--key', 'k1', '--message', 'x', '--signature', signature],
      ['audit', 'verify', '--party', 'p1'],
      ['party', 'purge-volatile', '--party', 'p1'],
    ];
    const runs = await Promise.all(commands.flatMap((args) => [cli.run([...args, '--data-dir', empty]), cli.run([...args, '--data-dir', typo])]));
    for (const run of runs) expect(expectOneLineFailure(run, 1, 'no-cluster')).toMatch(/^frostline: no-cluster: no frostline cluster in .* check --data-dir and \$FROSTLINE_HOME/);
    expect(readdirSync(empty)).toEqual([]);
    expect(existsSync(typo)).toBe(false);
  });

  test.runIf(existsSync('/proc/self'))('a data directory that cannot exist fails at once instead of spinning (/proc/nope)', async () => {
    const started = Date.now();
    const [keys, make, procSelf] = await Promise.all([
      // Before, these spun for minutes; the bound leaves a loaded machine room to start three node processes.
      cli.run(['keys', '--data-dir', '/proc/nope'], { timeoutMs: 60_000 }),
      cli.run(['keygen', '--key-id', 'k', '--data-dir', '/proc/nope/deeper'], { timeoutMs: 60_000 }),
      cli.run(['keygen', '--key-id', 'k', '--data-dir', '/proc/self'], { timeoutMs: 60_000 }),
    ]);
    expect(Date.now() - started).toBeLessThan(90_000);
    expectOneLineFailure(keys, 1, 'no-cluster');
    expect(expectOneLineFailure(make, 3, 'io')).toMatch(/^frostline: io: cannot create --data-dir \/proc\/nope\/deeper: ENOENT/);
    expect(expectOneLineFailure(procSelf, 3, 'io')).toMatch(/^frostline: io: cannot create the lock file \/proc\/self\/frostline\.lock: ENOENT/);
  });

  test('a data directory that is a file is an io error (exit 3)', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    expect(expectOneLineFailure(await cli.run(['keygen', '--key-id', 'k', '--data-dir', file]), 3, 'io')).toMatch(/is a file, not a directory$/);
  });
});

describe('errors: one line, a code, and the documented exit status', () => {
  test('refused or failed: exit 1, and with --json { ok: false, code, message }', async () => {
    const unknown = await cli.run(['sign', '--key', 'nope', '--message', 'x', '--data-dir', dataDir, '--json']);
    expect(expectOneLineFailure(unknown, 1, 'unknown-key')).toBe('frostline: unknown-key: no key "nope"');
    expect(jsonOf(unknown)).toEqual({ ok: false, code: 'unknown-key', message: 'no key "nope"' });
  });

  test('a config that cannot work: one line, no stack, exit 1', async () => {
    const broken = join(scratch, 'broken.config.json');
    writeFileSync(broken, '{ "name": ');
    const run = await cli.run(['key', '--key', 'k1', '--config', broken, '--initiator', 'payments']);
    expectOneLineFailure(run, 1, 'config');
  });

  test('a file-system failure: frostline: io: ..., exit 3', async () => {
    const run = await cli.run(['sign', '--key', 'k1', '--message-file', join(scratch, 'absent.bin'), '--data-dir', dataDir]);
    expect(expectOneLineFailure(run, 3, 'io')).toMatch(/^frostline: io: cannot read --message-file .*absent\.bin: ENOENT: no such file or directory$/);
  });
});

describe('messages from a file or stdin, one --json shape', () => {
  test('--message-file PATH and --message-file - sign the exact bytes; verify reads them the same way', async () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256)); // binary, not UTF-8
    const file = join(scratch, 'message.bin');
    writeFileSync(file, bytes);
    const [fromFile, fromStdin] = await Promise.all([
      cli.run(['sign', '--key', 'k1', '--message-file', file, '--data-dir', dataDir, '--json']),
      cli.run(['sign', '--key', 'k1', '--message-file', '-', '--data-dir', dataDir, '--json'], { input: bytes }),
    ]);
    for (const run of [fromFile, fromStdin]) {
      expect(run.code).toBe(0);
      const result = jsonOf(run);
      expect(result).toMatchObject({ ok: true, requestId: expect.any(String), keyId: 'k1', message: bytes.toString('hex'), duplicate: false });
      expect(verifyWithNodeCrypto(String(result.publicKey), bytes, String(result.signature))).toBe(true);
    }
    const signature = String(jsonOf(fromFile).signature);
    const valid = await cli.run(['verify', '--key', 'k1', '--message-file', '-', '--signature', signature, '--data-dir', dataDir, '--json'], { input: bytes });
    expect(valid.code).toBe(0);
    expect(jsonOf(valid)).toMatchObject({ ok: true, valid: true });
    const invalid = await cli.run(['verify', '--key', 'k1', '--message', 'other', '--signature', signature, '--data-dir', dataDir, '--json']);
    expect(invalid.code).toBe(1);
    expect(jsonOf(invalid)).toMatchObject({ ok: false, code: 'invalid-signature', valid: false });
  });

  test('a message over the policy limit, or over what a request can carry, is refused before sending', async () => {
    const [overPolicy, overWire] = await Promise.all([
      cli.run(['sign', '--key', 'k1', '--message-file', '-', '--data-dir', dataDir], { input: Buffer.alloc(64 * 1024 + 1) }),
      cli.run(['sign', '--key', 'k1', '--message-file', '-', '--data-dir', dataDir], { input: Buffer.alloc(1024 * 1024 + 1) }),
    ]);
    expect(expectOneLineFailure(overPolicy, 1, 'message-too-large')).toMatch(/the message is 65537 bytes; the policy of the local cluster .* lets key "k1" sign at most 65536 bytes$/);
    expect(expectOneLineFailure(overWire, 1, 'message-too-large')).toMatch(/at most 1048576 bytes can be sent$/);
  });

  test('keys --json; keys and verify take --deployment and --config like the request commands', async () => {
    const keys = await cli.run(['keys', '--data-dir', dataDir, '--json']);
    expect(keys.code).toBe(0);
    expect(jsonOf(keys)).toEqual({ ok: true, keys: [expect.objectContaining({ keyId: 'k1', threshold: 2, parties: ['p1', 'p2', 'p3'] })] });

    const unpinned = join(scratch, 'unpinned.config.json');
    const config = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    delete config.pinned;
    writeFileSync(unpinned, JSON.stringify(config));
    const absent = join(scratch, 'absent-dev.json');
    const signature = '00'.repeat(64);
    const [keysConfig, keysDeployment, verifyConfig, verifyDeployment] = await Promise.all([
      cli.run(['keys', '--config', unpinned]),
      cli.run(['keys', '--deployment', absent]),
      cli.run(['verify', '--key', 'k1', '--message', 'x', '--signature', signature, '--config', unpinned, '--initiator', 'treasury']),
      cli.run(['verify', '--key', 'k1', '--message', 'x', '--signature', signature, '--deployment', absent]),
    ]);
    // Taken as options (no usage error): each is refused for what the file is.
    for (const run of [keysConfig, verifyConfig]) expect(expectOneLineFailure(run, 1, 'config')).toMatch(/is not pinned/);
    for (const run of [keysDeployment, verifyDeployment]) expect(expectOneLineFailure(run, 1, 'config')).toMatch(/absent-dev\.json/);
  });
});
