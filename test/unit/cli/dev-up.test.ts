/**
 * `frostline dev up` as the docs walk a new user through it (issue 10, item 6): the policy
 * shipped in deploy/example.policy.json is the one the README shows and allows every step
 * of the docs' walkthrough; the `try` line suggests commands the policy allows; and the
 * built binary checks its inputs — the policy, an earlier run's files — before it starts
 * the emulator, and creates its output directory git-ignored.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkPolicyAgainstDeployment, firstCommands } from '../../../lib/cli/dev-inputs.js';
import { PartyPolicySchema } from '../../../lib/protocol/config-schemas.js';
import { assertMayKeygen, assertMaySign, keyRules, type PartyPolicy } from '../../../lib/protocol/requests.js';
import { buildCliBinary, type CliBinary, ROOT } from '../../support/cli-binary.js';

const POLICY_FILE = join(ROOT, 'deploy', 'example.policy.json');
const policyText = readFileSync(POLICY_FILE, 'utf8');
const policy: PartyPolicy = PartyPolicySchema.parse(JSON.parse(policyText));
const docs = readFileSync(join(ROOT, 'docs', 'sdk-and-cli.md'), 'utf8');

/** The fenced blocks of a markdown text with the given info string. */
function blocks(markdown: string, info: string): string[] {
  return [...markdown.matchAll(new RegExp(`^\`\`\`${info}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((match) => match[1] ?? '');
}

/** `--flag value` of a command line, split on spaces (the walkthrough quotes only messages). */
function flag(line: string, name: string): string | undefined {
  const words = line.split(/\s+/);
  const at = words.indexOf(name);
  return at >= 0 ? words[at + 1] : undefined;
}

describe('deploy/example.policy.json is the README policy and allows the docs walkthrough', () => {
  test('the README shows exactly the file', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(blocks(readme, 'json')).toContain(policyText);
  });

  test("the walkthrough's dev up uses the file; its keygen is allowed, its sign is allowed with its approvers and refused with one approver", () => {
    const lines = docs.split('\n').filter((line) => line.startsWith('$ npx frostline '));
    const up = lines.find((line) => line.includes(' dev up '));
    expect(up).toBeDefined();
    expect(flag(up ?? '', '--policy')).toBe('deploy/example.policy.json');
    const initiators = (flag(up ?? '', '--initiators') ?? '').split(',');
    const approvers = (flag(up ?? '', '--approvers') ?? '').split(',');
    expect(() => checkPolicyAgainstDeployment({ initiators, approvers, policy }, 'example')).not.toThrow();
    const as = (line: string) => flag(line, '--initiator') ?? initiators[0] ?? '';

    const keygens = lines.filter((line) => line.includes(' keygen ') && line.includes('--deployment'));
    expect(keygens.length).toBeGreaterThan(0);
    for (const line of keygens) expect(() => assertMayKeygen(policy, as(line)), line).not.toThrow();

    const signs = lines.filter((line) => line.includes(' sign ') && line.includes('--deployment'));
    expect(signs.length).toBeGreaterThanOrEqual(2);
    for (const line of signs) {
      const keyId = flag(line, '--key') ?? '';
      expect(() => assertMaySign(policy, as(line), keyId, 'pay 100'.length), line).not.toThrow();
      const quorum = keyRules(policy, keyId).approvals?.quorum ?? 0;
      const given = (flag(line, '--approvers') ?? '').split(',').filter((id) => id.length > 0);
      // The documented refusal is the one with too few approvals; every other sign succeeds.
      expect(given.length >= quorum, line).toBe(!/refused/.test(docs.slice(docs.indexOf(`${line}\n`) + line.length).split('\n')[1] ?? ''));
    }
  });

  test("the default initiator of the walkthrough may not create keys, and the SDK example's ops may create and sign", () => {
    expect(() => assertMayKeygen(policy, 'payments')).toThrow(/may not request keys/);
    expect(() => assertMayKeygen(policy, 'ops')).not.toThrow();
    expect(() => assertMaySign(policy, 'ops', 'reports', 9)).not.toThrow();
    expect(keyRules(policy, 'reports').approvals).toBeUndefined();
  });
});

describe('the try line of dev up suggests commands the policy allows', () => {
  test('the example policy: keygen as ops, sign as the default initiator with a quorum of approvers', () => {
    const line = firstCommands({ initiators: ['payments', 'ops'], approvers: ['alice', 'bob', 'carol'], policy, file: 'd.json' });
    expect(line).toBe(
      'try  frostline keygen --deployment d.json --initiator ops --key-id treasury  and  frostline sign --deployment d.json --key treasury --message hi --approvers alice,bob',
    );
    // It is the line the docs show.
    expect(docs).toContain(`dev: ${line.replaceAll('d.json', '.frostline-dev/deployment.json')}`);
  });

  test('without a policy every initiator may do everything; a policy without keygen says so', () => {
    expect(firstCommands({ initiators: ['cli'], approvers: [], file: 'd.json' })).toBe(
      'try  frostline keygen --deployment d.json --key-id demo  and  frostline sign --deployment d.json --key demo --message hi',
    );
    const noKeygen: PartyPolicy = { maxMessageBytes: 100, initiators: { cli: { keygen: false, keys: ['*'] } } };
    expect(firstCommands({ initiators: ['cli'], approvers: [], policy: noKeygen, file: 'd.json' })).toMatch(/no initiator create keys/);
  });

  test('a policy naming an initiator or approver the deployment lacks is refused, naming them', () => {
    expect(() => checkPolicyAgainstDeployment({ initiators: ['payments'], approvers: ['alice'], policy }, 'p.json')).toThrow(
      /^the policy file p\.json does not fit this deployment: it grants "ops", not among --initiators payments; key "treasury" needs approvals from "bob", "carol", not among --approvers alice$/,
    );
  });
});

describe('frostline dev up (built binary): inputs are checked before the emulator starts', () => {
  let cli: CliBinary;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'frostline-dev-up-'));
    cli = await buildCliBinary();
  });

  afterAll(async () => {
    await cli?.remove();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  /** Exited with one line `frostline: config: …`, before any emulator was started or provisioned. */
  function expectRefusedUpFront(run: { code: number | null; stdout: string; stderr: string }, reason: RegExp): void {
    expect({ code: run.code, lines: run.stderr.trimEnd().split('\n'), stdout: run.stdout }).toEqual({
      code: 1,
      lines: [expect.stringMatching(/^frostline: config: /)],
      stdout: '',
    });
    expect(run.stderr).toMatch(reason);
  }

  test("the README policy with the walkthrough's initiators but not its approvers is refused without starting moto", async () => {
    const cwd = join(scratch, 'policy');
    await mkdir(cwd);
    const run = await cli.run(['dev', 'up', '--initiators', 'payments,ops', '--policy', POLICY_FILE], { cwd, timeoutMs: 30_000 });
    expectRefusedUpFront(run, /needs approvals from "alice", "bob", "carol", not among no --approvers/);
    expect(existsSync(join(cwd, '.frostline-dev'))).toBe(false);
  });

  test('a policy that is not JSON is refused without starting moto', async () => {
    const cwd = join(scratch, 'bad-json');
    await mkdir(cwd);
    writeFileSync(join(cwd, 'policy.json'), '{ "maxMessageBytes": 1024, }');
    const run = await cli.run(['dev', 'up', '--policy', 'policy.json'], { cwd, timeoutMs: 30_000 });
    expectRefusedUpFront(run, /the policy file policy\.json is not valid JSON/);
  });

  test("an earlier run's deployment file or keys are not overwritten without --force", async () => {
    const cwd = join(scratch, 'earlier');
    await mkdir(join(cwd, '.frostline-dev'), { recursive: true });
    writeFileSync(join(cwd, '.frostline-dev', 'deployment.json'), 'earlier\n');
    const run = await cli.run(['dev', 'up'], { cwd, timeoutMs: 30_000 });
    expectRefusedUpFront(run, /the deployment file of an earlier `dev up` is at .*deployment\.json: --force replaces/);
    expect(readFileSync(join(cwd, '.frostline-dev', 'deployment.json'), 'utf8')).toBe('earlier\n');

    await mkdir(join(cwd, 'mine.keys'));
    const keys = await cli.run(['dev', 'up', '--out', 'mine.json'], { cwd, timeoutMs: 30_000 });
    expectRefusedUpFront(keys, /the local keys of an earlier `dev up` are at .*mine\.keys: --force replaces/);

    // --force goes on (to a closed port here: infrastructure) and drops the group keys pinned against the old deployment.
    writeFileSync(join(cwd, '.frostline-dev', 'deployment.pinned-keys.json'), '{}\n');
    const forced = await cli.run(['dev', 'up', '--force', '--endpoint', 'http://127.0.0.1:9'], { cwd, timeoutMs: 60_000 });
    expect(forced.code).toBe(3);
    expect(existsSync(join(cwd, '.frostline-dev', 'deployment.pinned-keys.json'))).toBe(false);
    // A directory dev up did not create is left as it is.
    expect(existsSync(join(cwd, '.frostline-dev', '.gitignore'))).toBe(false);
  });

  test('inputs that pass: the output directory is created git-ignored before the emulator is reached', async () => {
    const cwd = join(scratch, 'fresh');
    await mkdir(cwd);
    // A closed port: provisioning fails (infrastructure), after the checks and the directory.
    const run = await cli.run(['dev', 'up', '--endpoint', 'http://127.0.0.1:9', '--initiators', 'payments,ops', '--approvers', 'alice,bob,carol', '--policy', POLICY_FILE], {
      cwd,
      timeoutMs: 60_000,
    });
    expect(run.code).toBe(3);
    expect(readFileSync(join(cwd, '.frostline-dev', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
    expect(existsSync(join(cwd, '.frostline-dev', 'deployment.json'))).toBe(false);
  });
});
