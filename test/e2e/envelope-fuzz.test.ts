/**
 * Fuzzing (issue 15): hostile variants of every message of a real keygen and signing
 * session, delivered to the party or coordinator that received the original, in the state
 * it had then. Invariants in test/fuzz/runner.ts: never a throw (so never a dead letter),
 * always a typed refusal or correct processing, no state change on refusal.
 *
 * `npm test` runs a small fixed-seed sample; `npm run fuzz` runs 100 000 inputs
 * (FROSTLINE_FUZZ_RUNS, FROSTLINE_FUZZ_SEED to reproduce a run's choices of mutation).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { captureCorpus } from '../fuzz/capture.js';
import { fuzzCase } from '../fuzz/mutations.js';
import { FuzzRunner } from '../fuzz/runner.js';
import { FuzzSummary } from '../fuzz/summary.js';
import { Scratch } from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const RUNS = Number(process.env.FROSTLINE_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FROSTLINE_FUZZ_SEED ?? 15_0202);

describe('fuzzed envelopes to parties and the coordinator', () => {
  it(`are refused with a typed refusal or processed, never throw, and change nothing when refused (${RUNS} inputs)`, async () => {
    const corpus = await captureCorpus(scratch);
    const runner = new FuzzRunner(corpus);
    const summary = new FuzzSummary();
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(fuzzCase(corpus.deliveries.length), async (fuzz) => {
        const delivery = corpus.deliveries[fuzz.target];
        const began = performance.now();
        const { result, violations } = await runner.run(fuzz);
        summary.add(`${delivery?.node ?? '?'}: ${delivery?.type ?? '?'}`, fuzz.kind, result, violations.length, performance.now() - began);
        expect(violations).toEqual([]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz: seed ${SEED}, ${summary.inputs} inputs over ${corpus.deliveries.length} captured deliveries in ${seconds.toFixed(1)} s ` +
        `(${Math.round(summary.inputs / seconds)} inputs/s), unexpected: ${summary.unexpected}\n\n${summary.render()}`,
    );
    expect(summary.unexpected).toBe(0);
  }, 120_000 + RUNS * 20);
});
