#!/usr/bin/env node
/**
 * `npm test`: typecheck, lint, then every vitest project (local and emulator) in one run, then
 * one summary line in the plain "N passed, N failed, N skipped" form CI reads, and how many
 * tests ran against the AWS emulator, then the wall time of the whole run. Exit code: non-zero
 * if anything failed or if no test ran at all. Extra arguments go to vitest (`npm run
 * test:local` passes `--project local`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const started = performance.now();
// Printed on every exit, failures included: how long a run takes is what the quick loop is for.
process.on('exit', () => {
  const seconds = Math.round((performance.now() - started) / 1000);
  console.log(`wall time: ${Math.floor(seconds / 60)} min ${seconds % 60} s`);
});

const bin = (name) => join(process.cwd(), 'node_modules', '.bin', name);

/** Runs a command to the end with its stdout and stderr kept together, for printing on failure. */
function runCaptured(command, args) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? 1, output: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
  });
}

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

// Typecheck and lint share nothing and each waits on one core for most of a minute: run them
// side by side, their output captured and printed only when one fails (both are silent when clean).
const [typecheck, lint] = await Promise.all([
  runCaptured(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']),
  // eslint.config.js: unawaited promises, focused or skipped tests, `!`, `@ts-ignore`.
  runCaptured(bin('eslint'), ['--max-warnings', '0', '.']),
]);
if (typecheck.status !== 0) {
  process.stdout.write(typecheck.output);
  console.error('typecheck failed');
  process.exit(typecheck.status);
}
if (lint.status !== 0) {
  process.stdout.write(lint.output);
  console.error('lint failed: fix what eslint reports above (npm run lint)');
  process.exit(lint.status);
}
console.log(`typecheck and lint: clean (${Math.round(Math.max(typecheck.ms, lint.ms) / 1000)} s)`);

const reportDir = mkdtempSync(join(tmpdir(), 'frostline-test-report-'));
const reportFile = join(reportDir, 'vitest.json');
const status = run(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...process.argv.slice(2)]);

if (!existsSync(reportFile)) {
  console.error('vitest wrote no report: the run did not complete');
  process.exit(status === 0 ? 1 : status);
}
const report = JSON.parse(readFileSync(reportFile, 'utf8'));
rmSync(reportDir, { recursive: true, force: true });

const passed = report.numPassedTests ?? 0;
// A file that failed without a failing test (an import or setup error) counts as one failure.
const brokenFiles = (report.testResults ?? []).filter(
  (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const emulatorFiles = (report.testResults ?? []).filter((file) => file.name.includes(`${join('test', 'integration')}`));
const emulator = emulatorFiles.flatMap((file) => file.assertionResults ?? []).filter((test) => test.status === 'passed').length;

// `npm run test:local` runs no emulator file: say so rather than report a suspicious zero.
console.log(emulatorFiles.length === 0 ? 'emulator: not run (local project only)' : `emulator: ${emulator} tests passed against the AWS emulators (moto, ministack)`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed === 0) {
  console.error('no test ran');
  process.exit(1);
}
process.exit(status !== 0 ? status : failed > 0 ? 1 : 0);
