import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../lib/cli/program.js';

describe('frostline command line', () => {
  // docs/deploy.md runs `npx frostline config pin`; it was built but never added to the program.
  it('has `config pin`', () => {
    const config = buildProgram().commands.find((command) => command.name() === 'config');
    expect(config?.commands.map((command) => command.name())).toContain('pin');
  });
});
