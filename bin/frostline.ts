#!/usr/bin/env node
/**
 * `frostline` entry point: parse, run, and turn any failure into one line on stderr
 * (`frostline: <code>: <reason>`; with --json also `{"ok":false,"code","message"}` on
 * stdout) and an exit status: 1 refused or failed, 2 usage, 3 infrastructure
 * (lib/cli/failure.ts). Help is printed only when asked for (--help, `frostline help`).
 */
import { CommanderError } from 'commander';
import { exitStatusOf, ExitStatus, failureJson, failureLine } from '../lib/cli/failure.js';
import { buildProgram, commandPathOf } from '../lib/cli/program.js';

// The AWS SDK warns on every run under Node 20 that its releases after January 2027 will
// need Node 22; frostline pins an SDK that supports Node 20, and a CLI that prints eight
// lines of that before each answer buries the answer. Set it to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = process.argv.slice(2);
const end = args.indexOf('--');
const json = (end === -1 ? args : args.slice(0, end)).includes('--json');
const program = buildProgram();

/** A usage error's line: what commander found wrong, and where the right help is. */
function usageLine(error: CommanderError): string {
  const path = commandPathOf(program, args);
  const command = `frostline${path === '' ? '' : ` ${path}`}`;
  if (error.code === 'commander.help') {
    // A command that needs a subcommand (or none at all) was given none.
    const target = path === '' ? program : program.commands.find((c) => c.name() === path.split(' ')[0]);
    const names = (target?.commands ?? []).map((c) => c.name()).join(', ');
    return `frostline: usage: ${command} needs a command: ${names} (${command} --help)`;
  }
  return failureLine(error, `${command} --help`);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const status = exitStatusOf(error);
  if (status !== ExitStatus.ok) {
    const line = error instanceof CommanderError ? usageLine(error) : failureLine(error);
    if (json) {
      const value = error instanceof CommanderError ? { ok: false, code: 'usage', message: line.replace(/^frostline: usage: /, '') } : failureJson(error);
      process.stdout.write(`${JSON.stringify(value)}\n`);
    }
    process.stderr.write(`${line}\n`);
  }
  process.exitCode = status;
}
