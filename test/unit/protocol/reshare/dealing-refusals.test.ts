/**
 * Dealings that only a coalition of dealers can make (coefficients that cancel out) are
 * refused with a RefusalCode, never a plain Error: a plain error would be retried (the
 * message redelivered over and over) and name nothing.
 */
import { expect, it } from 'vitest';
import { RefusalCode, RefusedError } from '../../../../lib/ports/errors.js';
import { bytesToHex } from '../../../../lib/protocol/encoding.js';
import { nextPublicPackage } from '../../../../lib/protocol/reshare/dealing.js';
import { ed25519Suite } from '../../../../lib/protocol/suite.js';

const point = (k: bigint) => bytesToHex(ed25519Suite.Point.BASE.multiply(k).toBytes());
const order = ed25519Suite.frost.utils.Fn.ORDER;
const ids = ['a', 'b', 'c'].map((n) => ed25519Suite.frost.Identifier.derive(n));
const current = { signers: { min: 2, max: 3 }, commitments: [point(5n), point(3n)], verifyingShares: {} };

function refusalOf(run: () => unknown): RefusedError {
  try {
    run();
  } catch (error) {
    if (error instanceof RefusedError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

it('coefficients of two dealings that cancel: a refusal (inconsistent package), not a plain error', () => {
  const dealings = [
    [point(2n), point(7n)],
    [point(3n), point(order - 7n)],
  ];
  const error = refusalOf(() => nextPublicPackage(ed25519Suite, { mode: 'reshare', threshold: 2, recipients: ids, dealings, current }));
  expect(error.code).toBe(RefusalCode.inconsistentPackage);
});
