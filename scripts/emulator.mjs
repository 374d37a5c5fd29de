#!/usr/bin/env node
// The AWS API emulator for integration tests and local development: moto server from PyPI,
// pinned, in a project-local venv (.venv/), bound to 127.0.0.1 on a free port.
//
//   node scripts/emulator.mjs setup   # create/refresh .venv only
//   node scripts/emulator.mjs start   # print the endpoint, run until SIGINT/SIGTERM
//
// Programmatic: `import { startEmulator } from './scripts/emulator.mjs'`.
// Plain Node ESM with no dependencies, so it runs before `npm ci` has built anything.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one place the emulator version is pinned. Bump deliberately and rerun the integration tests. */
export const MOTO_REQUIREMENT = 'moto[server]==5.2.5';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const VENV = join(ROOT, '.venv');
const MARKER = join(VENV, '.frostline-moto');
const BIN = process.platform === 'win32' ? join(VENV, 'Scripts') : join(VENV, 'bin');
const PYTHON = join(BIN, process.platform === 'win32' ? 'python.exe' : 'python');
const MOTO_SERVER = join(BIN, process.platform === 'win32' ? 'moto_server.exe' : 'moto_server');
const START_TIMEOUT_MS = 30_000;

const INSTALL_HELP = [
  'frostline integration tests need Python 3 (3.10 or newer) with the venv module, to run the moto AWS emulator.',
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
 * Makes sure .venv holds the pinned moto. Reuses the venv when its marker names the pinned
 * requirement and moto_server is present; otherwise (re)creates it. Throws with install
 * instructions when Python or its venv module is missing — never skips silently.
 * @returns {{ reused: boolean, ms: number }}
 */
export function ensureVenv() {
  const started = performance.now();
  const markerOk =
    existsSync(MARKER) && readFileSync(MARKER, 'utf8').trim() === MOTO_REQUIREMENT && existsSync(MOTO_SERVER);
  if (markerOk) return { reused: true, ms: performance.now() - started };

  const python = findPython();
  // A venv without pip is left behind when ensurepip is missing (Debian ships it in
  // python3-venv): rebuild it rather than trust it.
  if (existsSync(VENV) && !run(PYTHON, ['-m', 'pip', '--version'], 'checking pip in the venv').ok) {
    rmSync(VENV, { recursive: true, force: true });
  }
  if (!existsSync(PYTHON)) {
    const venv = run(python, ['-m', 'venv', VENV], 'creating the venv');
    if (!venv.ok) throw new Error(`${venv.detail}\n\n${INSTALL_HELP}`);
  }
  const pip = run(PYTHON, ['-m', 'pip', '--version'], 'checking pip in the venv');
  if (!pip.ok) throw new Error(`${pip.detail}\n\n${INSTALL_HELP}`);
  const install = run(
    PYTHON,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', MOTO_REQUIREMENT],
    `pip install ${MOTO_REQUIREMENT}`,
  );
  if (!install.ok) throw new Error(install.detail);
  if (!existsSync(MOTO_SERVER)) throw new Error(`${MOTO_REQUIREMENT} installed but ${MOTO_SERVER} is missing`);
  writeFileSync(MARKER, `${MOTO_REQUIREMENT}\n`);
  return { reused: false, ms: performance.now() - started };
}

/** A port that was free a moment ago (the OS picks it; we close and hand it to moto). */
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
function emulatorEnv() {
  const env = { ...process.env, PYTHONUNBUFFERED: '1' };
  delete env.MOTO_ACCOUNT_ID;
  return env;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilUp(endpoint, child, output) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto_server exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`moto_server did not answer on ${endpoint} within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

/**
 * Starts moto server on 127.0.0.1 and resolves once it answers.
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ endpoint: string, setupMs: number, startMs: number, stop(): Promise<void> }>}
 */
export async function startEmulator(options = {}) {
  const log = options.log ?? (() => {});
  const venv = ensureVenv();
  log(`emulator: venv ${venv.reused ? 'reused' : 'created'} (${MOTO_REQUIREMENT}) in ${Math.round(venv.ms)} ms`);

  const started = performance.now();
  // A port can be taken between our probe and moto's bind; try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let output = '';
    const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: emulatorEnv(),
    });
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const spawnFailed = new Promise((_, reject) => child.once('error', reject));
    spawnFailed.catch(() => {});
    try {
      await Promise.race([waitUntilUp(endpoint, child, () => output), spawnFailed]);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt < 3 && /address already in use/i.test(output)) continue;
      throw error;
    }
    const startMs = performance.now() - started;
    log(`emulator: moto_server answering on ${endpoint} after ${Math.round(startMs)} ms`);

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
    return { endpoint, setupMs: venv.ms, startMs, stop };
  }
}

async function main(command) {
  const log = (line) => process.stderr.write(`${line}\n`);
  switch (command) {
    case 'setup': {
      const venv = ensureVenv();
      log(`emulator: venv ${venv.reused ? 'already up to date' : 'created'} (${MOTO_REQUIREMENT}) in ${Math.round(venv.ms)} ms`);
      return;
    }
    case 'start': {
      const emulator = await startEmulator({ log });
      process.stdout.write(`${emulator.endpoint}\n`);
      log(`emulator: export AWS_ENDPOINT_URL=${emulator.endpoint}  (Ctrl-C to stop)`);
      const shutdown = () => {
        emulator.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      return;
    }
    default:
      log('usage: node scripts/emulator.mjs setup|start');
      process.exitCode = 2;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2]).catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
