/**
 * vitest globalSetup: one moto server and one ministack for the whole run, their endpoints
 * handed to tests as `inject('emulatorEndpoint')` and `inject('ministackEndpoint')`. Fails
 * the run (never skips) when Python is missing.
 *
 * moto serves most integration tests; ministack is there for what moto lacks: Ed25519 KMS
 * keys (the production identity key spec) and CloudFormation with Lambda.
 *
 * It also probes moto once for isolation of concurrent conditional transactions
 * (test/support/transaction-isolation.ts) and hands the verdict to the tests as
 * `inject('motoTransactionIsolation')`: race tests assert it before relying on moto.
 */
import type { TestProject } from 'vitest/node';
import { createDynamoDbClient } from '../lib/adapters/aws/clients.js';
import { type Emulator, startEmulator, startMinistack } from '../scripts/emulator.mjs';
import { describeVerdict, type IsolationVerdict, probeTransactionIsolation } from './support/transaction-isolation.js';

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
    ministackEndpoint: string;
    motoTransactionIsolation: IsolationVerdict;
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
    // An account of its own, so the probe's table is in no test's way.
    const probeClient = createDynamoDbClient({ endpoint: moto.endpoint, region: 'eu-west-1', accountId: '999999999999' });
    const verdict = await probeTransactionIsolation(probeClient).finally(() => probeClient.destroy());
    log(`emulator: moto transaction isolation probe: ${describeVerdict(verdict)}`);
    project.provide('motoTransactionIsolation', verdict);
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
