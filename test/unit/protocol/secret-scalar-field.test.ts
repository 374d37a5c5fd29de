/**
 * The suite's scalar decoding matches noble's for every input (same values, same refusals),
 * while taking another route (the memory scan checks what that route leaves behind).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withUncopiedFromBytes } from '../../../lib/protocol/secret-scalar-field.js';
import { ed25519Suite } from '../../../lib/protocol/suite.js';

const stock = ed25519.Point.Fn;
const ours = withUncopiedFromBytes(stock);
const ORDER = stock.ORDER;

function leBytes(value: bigint, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, v = value; i < length; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function outcome(decode: () => bigint): bigint | string {
  try {
    return decode();
  } catch (error) {
    return (error as Error).message;
  }
}

describe('scalar field without decoding copies', () => {
  it('is the suite FROST uses', () => {
    expect(ed25519Suite.frost.utils.Fn.fromBytes).not.toBe(stock.fromBytes);
  });

  it('decodes every 32-byte string as noble does, validated or not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (bytes, skip) => {
        expect(outcome(() => ours.fromBytes(bytes, skip))).toEqual(outcome(() => stock.fromBytes(bytes, skip)));
      }),
      { seed: 20261202, numRuns: 500 },
    );
  });

  it('agrees at the edges of the range: 0, 1, order − 1, order, order + 1, 2²⁵⁶ − 1', () => {
    for (const value of [0n, 1n, ORDER - 1n, ORDER, ORDER + 1n, (1n << 256n) - 1n]) {
      for (const skip of [false, true]) {
        expect(outcome(() => ours.fromBytes(leBytes(value), skip))).toEqual(outcome(() => stock.fromBytes(leBytes(value), skip)));
      }
    }
    expect(() => ours.fromBytes(leBytes(ORDER))).toThrow(/outside of range/);
  });

  it('refuses wrong lengths as noble does, and works on a view into a larger buffer', () => {
    for (const length of [0, 31, 33, 64]) {
      expect(outcome(() => ours.fromBytes(new Uint8Array(length)))).toEqual(outcome(() => stock.fromBytes(new Uint8Array(length))));
    }
    const backing = new Uint8Array(48).fill(0x11);
    const view = backing.subarray(5, 37);
    view.set(leBytes(ORDER - 12345n));
    expect(ours.fromBytes(view)).toBe(ORDER - 12345n);
  });

  it('leaves every other field operation to noble', () => {
    expect(ours.add(ORDER - 1n, 2n)).toBe(1n);
    expect(ours.toBytes(5n)).toEqual(stock.toBytes(5n));
    expect(ours.ORDER).toBe(ORDER);
  });
});
