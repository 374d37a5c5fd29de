/**
 * Fuzzing (issue 15): hostile variants of every message of a real keygen and signing
 * session, delivered to the party or coordinator that received the original, in the state
 * it had then. Invariants in test/fuzz/runner.ts: never a throw (so never a dead letter),
 * always a typed refusal or correct processing, no state change on refusal.
 *
 * `npm test` runs a small fixed-seed sample; `npm run fuzz` runs 100 000 inputs
 * (FROSTLINE_FUZZ_RUNS; FROSTLINE_FUZZ_SEED reproduces a run's choices of mutation, though not
 * its bytes: the corpus session has fresh keys and ids each run).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEnvelope } from '../../lib/protocol/envelope.js';
import { COORDINATOR, type UnsignedEnvelope } from '../../lib/protocol/messages.js';
import { captureCorpus, type Corpus } from '../fuzz/capture.js';
import { describeCase, fuzzCase } from '../fuzz/mutations.js';
import { FuzzRunner } from '../fuzz/runner.js';
import { FuzzSummary } from '../fuzz/summary.js';
import { Scratch } from '../support/harness.js';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

const RUNS = Number(process.env.FROSTLINE_FUZZ_RUNS ?? 300);
/** Fixed for `npm test`; `random` (what `npm run fuzz` passes unless told otherwise) draws one, printed below to reproduce the run's mutations. */
const SEED_SETTING = process.env.FROSTLINE_FUZZ_SEED ?? '150202';
const SEED = SEED_SETTING === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_SETTING);

let corpus: Corpus;
beforeAll(async () => {
  corpus = await captureCorpus(scratch);
}, 300_000);

describe('fuzzed envelopes to parties and the coordinator', () => {
  it(`are refused with a typed refusal or processed, never throw, and change nothing when refused (${RUNS} inputs)`, async () => {
    const runner = new FuzzRunner(corpus);
    const summary = new FuzzSummary();
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(fuzzCase(corpus.deliveries.length), async (fuzz) => {
        const delivery = corpus.deliveries[fuzz.target];
        const began = performance.now();
        const { result, violations, unchanged } = await runner.run(fuzz);
        summary.add(`${delivery?.node ?? '?'}: ${delivery?.type ?? '?'}`, fuzz.kind, result, violations.length, performance.now() - began);
        if (result.kind === 'processed' && fuzz.kind === 'field' && !unchanged) summary.processedMutation(describeCase(fuzz, corpus));
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
    // Headroom for a loaded machine: a pass depends on the invariants, never on speed.
  }, 120_000 + RUNS * 50);
});

/** Inputs the fuzzer found that once made a handler throw (each a redelivery into the DLQ). */
describe('fuzzer findings', () => {
  it('a coordinator message to a party with a null or missing body is refused as malformed, not thrown', async () => {
    // Found by `npm run fuzz` (seed 15150202): the party's refusal report read `body.attempt`
    // of a body that is not an object. Only an authenticated sender gets there: here the
    // coordinator, re-signing each message it sends a party.
    const runner = new FuzzRunner(corpus);
    const signer = corpus.signers.get(COORDINATOR);
    if (signer === undefined) throw new Error('no coordinator key');
    const toParties = corpus.deliveries.flatMap((d, index) => (d.node === COORDINATOR ? [] : [{ d, index }]));
    // Every coordinator→party type, the one-round ones (pool.refill, sign.pooled) included.
    expect(new Set(toParties.map(({ d }) => d.type))).toEqual(new Set(['dkg.start', 'dkg.round2', 'dkg.round3', 'dkg.confirm', 'sign.commit', 'sign.package', 'pool.refill', 'sign.pooled']));
    for (const { d, index } of toParties) {
      const { sig: _sig, body: _body, ...rest } = JSON.parse(d.raw) as UnsignedEnvelope & { sig: string };
      for (const body of [{ body: null }, {}]) {
        const raw = JSON.stringify(await signEnvelope(signer, { ...rest, ...body } as UnsignedEnvelope));
        const { result, violations } = await runner.deliver(index, [raw]);
        expect(violations, `${d.node}: ${d.type} with ${JSON.stringify(body)}`).toEqual([]);
        expect(result).toEqual({ kind: 'refused', code: 'malformed' });
      }
    }
  });

  it('a party message to the coordinator with a null or missing body is refused as malformed, not thrown', async () => {
    // The same inputs the other way: each party re-signs what it sent the coordinator, pool.batch included.
    const runner = new FuzzRunner(corpus);
    const toCoordinator = corpus.deliveries.flatMap((d, index) => {
      const from = (JSON.parse(d.raw) as { from: string }).from;
      return d.node === COORDINATOR && corpus.signers.has(from) && from !== 'cli' ? [{ d, index, from }] : [];
    });
    expect(new Set(toCoordinator.map(({ d }) => d.type))).toEqual(new Set(['dkg.round1', 'dkg.shares', 'dkg.done', 'sign.commitment', 'sign.share', 'pool.batch']));
    for (const { d, index, from } of toCoordinator) {
      const signer = corpus.signers.get(from);
      if (signer === undefined) throw new Error(`no key of ${from}`);
      const { sig: _sig, body: _body, ...rest } = JSON.parse(d.raw) as UnsignedEnvelope & { sig: string };
      for (const body of [{ body: null }, {}]) {
        const raw = JSON.stringify(await signEnvelope(signer, { ...rest, ...body } as UnsignedEnvelope));
        const { result, violations } = await runner.deliver(index, [raw]);
        expect(violations, `${from}: ${d.type} with ${JSON.stringify(body)}`).toEqual([]);
        expect(result).toEqual({ kind: 'refused', code: 'malformed' });
      }
    }
  });
});
