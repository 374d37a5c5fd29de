#!/usr/bin/env node
// The AWS API emulators for integration tests and local development, each from PyPI,
// pinned, in a project-local venv, bound to 127.0.0.1 on a free port:
//
//   moto server  (.venv/)            KMS, DynamoDB, SQS for the adapters and dev deployments,
//                                    run by scripts/moto_serialised.py (DynamoDB one request at a time);
//   ministack    (.venv-ministack/)  the same services plus Ed25519 KMS keys (with the
//                                    `cryptography` package), CloudFormation and Lambda.
//
//   node scripts/emulator.mjs setup             # create/refresh both venvs only
//   node scripts/emulator.mjs start             # moto: print the endpoint, run until SIGINT/SIGTERM
//   node scripts/emulator.mjs start ministack   # the same for ministack
//
// Programmatic: `import { startEmulator, startMinistack } from './scripts/emulator.mjs'`.
// Plain Node ESM with no dependencies, so it runs before `npm ci` has built anything.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The one place the emulator versions are pinned. Bump deliberately and rerun the integration tests.
export const MOTO_REQUIREMENT = 'moto[server]==5.2.5';
/** ministack's asymmetric KMS keys (Ed25519 among them) need `cryptography`, which it does not require itself. */
export const MINISTACK_REQUIREMENTS = ['ministack==1.5.33', 'cryptography==50.0.2'];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const IS_WINDOWS = process.platform === 'win32';
const START_TIMEOUT_MS = 30_000;

/** One emulator's venv: where it lives, what it holds, the executable that proves it is installed. */
function venvSpec(dirName, requirements, executable) {
  const dir = join(ROOT, dirName);
  const bin = IS_WINDOWS ? join(dir, 'Scripts') : join(dir, 'bin');
  return {
    dir,
    requirements,
    marker: join(dir, `.frostline-${executable}`),
    python: join(bin, IS_WINDOWS ? 'python.exe' : 'python'),
    executable: join(bin, IS_WINDOWS ? `${executable}.exe` : executable),
  };
}

// The moto marker keeps its old name and content, so existing venvs are reused.
const MOTO_VENV = { ...venvSpec('.venv', [MOTO_REQUIREMENT], 'moto_server'), marker: join(ROOT, '.venv', '.frostline-moto') };
const MINISTACK_VENV = venvSpec('.venv-ministack', MINISTACK_REQUIREMENTS, 'ministack');

/**
 * moto runs through this launcher rather than `moto_server`: it serves DynamoDB requests one
 * at a time, because moto's TransactWriteItems does not isolate concurrent transactions
 * (two mutually exclusive ones can both succeed) and frostline's single-use nonces rest on
 * that isolation. It refuses to start if moto's internals moved. Proven by
 * test/integration/transaction-isolation.test.ts.
 */
const MOTO_LAUNCHER = join(ROOT, 'scripts', 'moto_serialised.py');
const MOTO_SERIALISED_NOTE =
  "emulator: moto's TransactWriteItems is not isolated under concurrency; DynamoDB requests are serialised by scripts/moto_serialised.py";

const INSTALL_HELP = [
  'frostline integration tests need Python 3 (3.10 or newer) with the venv module, to run the AWS emulators (moto, ministack).',
  'Install them, then run again:',
  '  Debian/Ubuntu:  apt-get install python3 python3-venv',
  '  Fedora/RHEL:    dnf install python3',
  '  macOS:          brew install python   (or the installer from https://www.python.org/downloads/)',
  '  Windows:        the installer from https://www.python.org/downloads/',
  'Set FROSTLINE_PYTHON to use a specific interpreter.',
].join('\n');

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error !== undefined || result.status !== 0) {
    const detail = result.error?.message ?? `${result.stderr}${result.stdout}`.trim().split('\n').slice(-15).join('\n');
    return { ok: false, detail: `${what} failed (${command} ${args.join(' ')}):\n${detail}` };
  }
  return { ok: true, stdout: result.stdout };
}

function findPython() {
  const candidates = process.env.FROSTLINE_PYTHON
    ? [process.env.FROSTLINE_PYTHON]
    : process.platform === 'win32'
      ? ['python', 'py']
      : ['python3', 'python'];
  for (const candidate of candidates) {
    const probe = run(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], 'python probe');
    if (!probe.ok) continue;
    const [major, minor] = probe.stdout.trim().split('.').map(Number);
    if (major === 3 && minor >= 10) return candidate;
  }
  throw new Error(`No usable python3 found.\n${INSTALL_HELP}`);
}

/**
 * Makes sure the venv holds exactly the pinned requirements. Reuses it when its marker
 * names them and the executable is present; otherwise (re)creates it. Throws with install
 * instructions when Python or its venv module is missing — never skips silently.
 */
function ensurePinnedVenv(spec) {
  const started = performance.now();
  const pinned = spec.requirements.join('\n');
  const markerOk = existsSync(spec.marker) && readFileSync(spec.marker, 'utf8').trim() === pinned && existsSync(spec.executable);
  if (markerOk) return { reused: true, ms: performance.now() - started };

  const python = findPython();
  // A venv without pip is left behind when ensurepip is missing (Debian ships it in
  // python3-venv): rebuild it rather than trust it.
  if (existsSync(spec.dir) && !run(spec.python, ['-m', 'pip', '--version'], 'checking pip in the venv').ok) {
    rmSync(spec.dir, { recursive: true, force: true });
  }
  if (!existsSync(spec.python)) {
    const venv = run(python, ['-m', 'venv', spec.dir], 'creating the venv');
    if (!venv.ok) throw new Error(`${venv.detail}\n\n${INSTALL_HELP}`);
  }
  const pip = run(spec.python, ['-m', 'pip', '--version'], 'checking pip in the venv');
  if (!pip.ok) throw new Error(`${pip.detail}\n\n${INSTALL_HELP}`);
  const what = spec.requirements.join(' ');
  // Said before it starts, and pip's own progress shown: a first install downloads and builds
  // for minutes, and a silent one looks like a hang.
  process.stderr.write(`frostline: installing ${what} into ${spec.dir} with pip (first run only; this can take several minutes) …\n`);
  const install = spawnSync(spec.python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...spec.requirements], {
    cwd: ROOT,
    // pip's output to our stderr (stdout may be a machine-read report).
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (install.error !== undefined || install.status !== 0) {
    throw new Error(`pip install ${what} failed (${install.error?.message ?? `exit status ${install.status}`}); pip's output is above`);
  }
  process.stderr.write(`frostline: installed ${what} in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  if (!existsSync(spec.executable)) throw new Error(`${what} installed but ${spec.executable} is missing`);
  writeFileSync(spec.marker, `${pinned}\n`);
  return { reused: false, ms: performance.now() - started };
}

/** Makes sure .venv holds the pinned moto. @returns {{ reused: boolean, ms: number }} */
export function ensureVenv() {
  return ensurePinnedVenv(MOTO_VENV);
}

/** Makes sure .venv-ministack holds the pinned ministack and cryptography. @returns {{ reused: boolean, ms: number }} */
export function ensureMinistackVenv() {
  return ensurePinnedVenv(MINISTACK_VENV);
}

/** A port that was free a moment ago (the OS picks it; we close and hand it to the emulator). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/**
 * moto picks the account per request from MOTO_ACCOUNT_ID first, then the
 * x-moto-account-id header; a stray MOTO_ACCOUNT_ID would put every party in one account.
 */
function motoEnv() {
  const env = { ...process.env, PYTHONUNBUFFERED: '1' };
  delete env.MOTO_ACCOUNT_ID;
  return env;
}

/**
 * ministack reads its settings from the environment: drop every one a developer's shell
 * may carry (persistence, TLS, auth, service lists, ports) and any AWS credentials (its
 * Lambda executor hands its environment on to functions), then set what we need.
 */
function ministackEnv(port, scratch) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(MINISTACK_|AWS_|LOCALSTACK_|S3_|LAMBDA_)/.test(name)) delete env[name];
  }
  for (const name of ['SERVICES', 'AUTH', 'USE_SSL', 'PERSIST_STATE', 'STATE_DIR', 'EDGE_PORT', 'DOCKER_HOST']) delete env[name];
  // Its pid file and the unpacked code of every Lambda function go to TMPDIR: one of our own, removed on stop.
  return { ...env, PYTHONUNBUFFERED: '1', BIND_HOST: '127.0.0.1', GATEWAY_PORT: String(port), MINISTACK_HOST: '127.0.0.1', LOG_LEVEL: 'WARNING', TMPDIR: scratch };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `refuse(response)` names what is wrong with an emulator that answers, or returns undefined. */
async function waitUntilUp(name, url, child, output, refuse = () => undefined) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    let response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    } catch {
      // not listening yet
    }
    if (response?.ok) {
      const refusal = refuse(response);
      if (refusal !== undefined) throw new Error(`${name} answered on ${url}, but ${refusal}:\n${output()}`);
      return;
    }
    await sleep(100);
  }
  throw new Error(`${name} did not answer on ${url} within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

/**
 * Spawns an emulator on a free 127.0.0.1 port and resolves once `readyPath` answers.
 * @returns {Promise<{ endpoint: string, startMs: number, stop(): Promise<void> }>}
 */
async function startServer({ name, executable, args, env, readyPath, refuse, log }) {
  const started = performance.now();
  // A port can be taken between our probe and the emulator's bind; try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let output = '';
    const child = spawn(executable, args(port), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: env(port) });
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const spawnFailed = new Promise((_, reject) => child.once('error', reject));
    spawnFailed.catch(() => {});
    try {
      await Promise.race([waitUntilUp(name, `${endpoint}${readyPath}`, child, () => output, refuse), spawnFailed]);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt < 3 && /already in use/i.test(output)) continue;
      throw error;
    }
    const startMs = performance.now() - started;
    log(`emulator: ${name} answering on ${endpoint} after ${Math.round(startMs)} ms`);

    const exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    let stopping;
    const stop = () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopping;
    };
    return { endpoint, startMs, stop, output: () => output };
  }
}

/**
 * Starts moto server on 127.0.0.1, DynamoDB serialised (MOTO_LAUNCHER), and resolves once it answers.
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ endpoint: string, setupMs: number, startMs: number, stop(): Promise<void> }>}
 */
export async function startEmulator(options = {}) {
  const log = options.log ?? (() => {});
  const venv = ensureVenv();
  log(`emulator: venv ${venv.reused ? 'reused' : 'created'} (${MOTO_REQUIREMENT}) in ${Math.round(venv.ms)} ms`);
  log(MOTO_SERIALISED_NOTE);
  const server = await startServer({
    name: 'moto_server',
    executable: MOTO_VENV.python,
    // The launcher takes moto_server's own arguments and hands them to moto's main().
    args: (port) => [MOTO_LAUNCHER, '-H', '127.0.0.1', '-p', String(port)],
    env: motoEnv,
    readyPath: '/moto-api/data.json',
    // The launcher marks moto's own API answers: proof that its dispatcher serves requests.
    refuse: (response) =>
      response.headers.get('x-frostline-dynamodb') === 'serialised' ? undefined : 'without the mark of scripts/moto_serialised.py (DynamoDB may not be serialised)',
    log,
  });
  return { endpoint: server.endpoint, setupMs: venv.ms, startMs: server.startMs, stop: server.stop };
}

/**
 * Starts ministack on 127.0.0.1 and resolves once it answers. It selects the emulated
 * account by a 12-digit access key id (what `createAwsClients({ accountId })` sends).
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ endpoint: string, setupMs: number, startMs: number, stop(): Promise<void>, output(): string }>}
 */
export async function startMinistack(options = {}) {
  const log = options.log ?? (() => {});
  const venv = ensureMinistackVenv();
  log(`emulator: venv ${venv.reused ? 'reused' : 'created'} (${MINISTACK_REQUIREMENTS.join(' ')}) in ${Math.round(venv.ms)} ms`);
  const scratch = mkdtempSync(join(tmpdir(), 'frostline-ministack-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  let server;
  try {
    server = await startServer({
      name: 'ministack',
      executable: MINISTACK_VENV.executable,
      args: () => [],
      env: (port) => ministackEnv(port, scratch),
      readyPath: '/_ministack/health',
      log,
    });
  } catch (error) {
    removeScratch();
    throw error;
  }
  const stop = async () => {
    await server.stop();
    removeScratch();
  };
  return { ...server, stop, setupMs: venv.ms };
}

async function main(command, which = 'moto') {
  const log = (line) => process.stderr.write(`${line}\n`);
  switch (command) {
    case 'setup': {
      const moto = ensureVenv();
      log(`emulator: .venv ${moto.reused ? 'already up to date' : 'created'} (${MOTO_REQUIREMENT}) in ${Math.round(moto.ms)} ms`);
      const ministack = ensureMinistackVenv();
      log(`emulator: .venv-ministack ${ministack.reused ? 'already up to date' : 'created'} (${MINISTACK_REQUIREMENTS.join(' ')}) in ${Math.round(ministack.ms)} ms`);
      return;
    }
    case 'start': {
      if (which !== 'moto' && which !== 'ministack') break;
      const emulator = which === 'ministack' ? await startMinistack({ log }) : await startEmulator({ log });
      process.stdout.write(`${emulator.endpoint}\n`);
      log(`emulator: export AWS_ENDPOINT_URL=${emulator.endpoint}  (Ctrl-C to stop)`);
      const shutdown = () => {
        emulator.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      return;
    }
  }
  log('usage: node scripts/emulator.mjs setup | start [moto|ministack]');
  process.exitCode = 2;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2], process.argv[3]).catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
