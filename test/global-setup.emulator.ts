/**
 * vitest globalSetup: one moto server for the whole run, its endpoint handed to tests as
 * `inject('emulatorEndpoint')`. Fails the run (never skips) when Python is missing.
 */
import type { TestProject } from 'vitest/node';
import { type Emulator, startEmulator } from '../scripts/emulator.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
  }
}

let emulator: Emulator | undefined;

export async function setup(project: TestProject): Promise<void> {
  emulator = await startEmulator({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stderr.write(
    `emulator: ready at ${emulator.endpoint} (venv ${Math.round(emulator.setupMs)} ms, server start ${Math.round(emulator.startMs)} ms)\n`,
  );
  project.provide('emulatorEndpoint', emulator.endpoint);
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
  emulator = undefined;
}
