import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Two tiers, one run: fast tests on the local adapters, and integration tests against the
 * moto emulator (started once by the global setup; it fails the run, never skips, when
 * Python is missing).
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    // vitest's default is one worker per core minus one: a single worker on a 2-core CI
    // machine. Much of this suite waits on child processes (the CLI binary, cdk, Python
    // emulators) rather than computing, so two files at once use both cores.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        test: {
          name: 'local',
          include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/cdk/**/*.test.ts'],
          // Budgets for a loaded 2-core machine, not a quiet laptop: a test fails on what it
          // checks, never on how fast the machine happens to be (hooks run whole DKGs).
          hookTimeout: 300_000,
          testTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'emulator',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/global-setup.emulator.ts'],
          hookTimeout: 300_000,
          testTimeout: 300_000,
        },
      },
    ],
  },
});
