/** Runs the `frostline` program in this process (no build needed) and returns what it wrote to stdout. */
import { buildProgram } from '../../lib/cli/program.js';

export async function runCliInProcess(args: readonly string[]): Promise<string> {
  const written: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  };
  try {
    await buildProgram().parseAsync([...args], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return written.join('');
}
