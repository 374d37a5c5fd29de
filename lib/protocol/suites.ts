/**
 * The suite registry: a key's suite is chosen at keygen by name, carried by its RFC 9591
 * context string (`Suite.id`) in the signed request, the key records and the attestations,
 * and looked up here by either.
 */
import { RefusalCode, RefusedError } from '../ports/errors.js';
import { ed25519Suite, type Suite } from './suite.js';
import { ed448Suite } from './suites/ed448.js';
import { secp256k1TrSuite } from './suites/secp256k1-tr.js';

export const DEFAULT_SUITE_NAME = 'ed25519';

const SUITES: readonly Suite[] = [ed25519Suite, secp256k1TrSuite, ed448Suite];

/** The names keygen accepts, in the order help texts list them. */
export const SUITE_NAMES: readonly string[] = SUITES.map((suite) => suite.name);

/** The largest encodings of any suite: bounds for the generic wire schemas (exact lengths are checked per key). */
export const MAX_SIZES = {
  element: Math.max(...SUITES.map((s) => s.sizes.element)),
  scalar: Math.max(...SUITES.map((s) => s.sizes.scalar)),
  signature: Math.max(...SUITES.map((s) => s.sizes.signature)),
  publicKey: Math.max(...SUITES.map((s) => s.sizes.publicKey)),
};

/** The one-line refusal for an unknown suite name, listing the valid ones. */
export function unknownSuiteMessage(name: string): string {
  return `unknown suite "${name}": expected one of ${SUITE_NAMES.join(', ')}`;
}

/** The suite of a name (`ed25519`, `secp256k1-tr`, `ed448`); throws a one-line error naming the valid ones. */
export function suiteFor(name: string): Suite {
  const suite = SUITES.find((s) => s.name === name);
  if (suite === undefined) throw new RangeError(unknownSuiteMessage(name));
  return suite;
}

/** The suite of an RFC 9591 context string, as carried on the wire and stored. */
export function suiteById(id: string): Suite | undefined {
  return SUITES.find((s) => s.id === id);
}

/** The suite of a stored or signed context string; a refusal when it is not one we run. */
export function requiredSuite(id: string): Suite {
  const suite = suiteById(id);
  if (suite === undefined) throw new RefusedError(RefusalCode.malformed, `unsupported ciphersuite "${id}"`);
  return suite;
}
