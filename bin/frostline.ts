#!/usr/bin/env node
/** `frostline` entry point: parse, run, and turn any failure into one line and a non-zero exit. */
import { CommanderError } from 'commander';
import { failureLine } from '../lib/cli/output.js';
import { buildProgram } from '../lib/cli/program.js';

// The AWS SDK warns on every run under Node 20 that its releases after January 2027 will
// need Node 22; frostline pins an SDK that supports Node 20, and a CLI that prints eight
// lines of that before each answer buries the answer. Set it to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // commander already printed help or the usage error
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`${failureLine(error)}\n`);
    process.exitCode = 1;
  }
}
