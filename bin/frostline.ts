#!/usr/bin/env node
/** `frostline` entry point: parse, run, and turn any failure into one line and a non-zero exit. */
import { CommanderError } from 'commander';
import { buildProgram } from '../lib/cli/program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // commander already printed help or the usage error
    process.exitCode = error.exitCode;
  } else {
    const code = typeof (error as { code?: unknown }).code === 'string' ? ` [${(error as { code: string }).code}]` : '';
    process.stderr.write(`frostline: ${(error as Error).message ?? String(error)}${code}\n`);
    process.exitCode = 1;
  }
}
