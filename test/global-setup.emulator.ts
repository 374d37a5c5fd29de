/**
 * vitest globalSetup: one moto server and one ministack for the whole run, their endpoints
 * handed to tests as `inject('emulatorEndpoint')` and `inject('ministackEndpoint')`. Fails
 * the run (never skips) when Python is missing.
 *
 * moto serves most integration tests; ministack is there for what moto lacks: Ed25519 KMS
 * keys (the production identity key spec) and CloudFormation with Lambda.
 */
import type { TestProject } from 'vitest/node';
import { type Emulator, startEmulator, startMinistack } from '../scripts/emulator.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
    ministackEndpoint: string;
  }
}

const emulators: Emulator[] = [];

export async function setup(project: TestProject): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    // One after the other: setting up a venv blocks (pip runs synchronously), and ministack
    // answers within a second.
    const moto = await startEmulator({ log });
    emulators.push(moto);
    const ministack = await startMinistack({ log });
    emulators.push(ministack);
    for (const [name, emulator] of [['moto', moto], ['ministack', ministack]] as const) {
      log(`emulator: ${name} ready at ${emulator.endpoint} (venv ${Math.round(emulator.setupMs)} ms, server start ${Math.round(emulator.startMs)} ms)`);
    }
    project.provide('emulatorEndpoint', moto.endpoint);
    project.provide('ministackEndpoint', ministack.endpoint);
  } catch (error) {
    await teardown();
    throw error;
  }
}

export async function teardown(): Promise<void> {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
}
