/**
 * The arithmetic of refresh and reshare (README "Key lifecycle"), composed from noble's points
 * and scalar fields (derivation/group.ts): no curve or field arithmetic of our own.
 *
 * - Refresh: dealer j draws f_j with f_j(0) = 0 and deals f_j(k) to every party k; new share
 *   s'_k = s_k + Σ_j f_j(k). The constant term is zero by construction: a refresh dealing
 *   commits to coefficients 1..t−1 only, and receivers use the identity for the constant, so
 *   no dealing can smuggle in another constant.
 * - Reshare from dealers Q to new parties P′ with threshold t′: dealer j draws g_j of degree
 *   t′−1 with g_j(0) = λ_j(Q)·s_j; its constant commitment must be λ_j·Y_j (Y_j its verifying
 *   share in the current package), the constants must sum to the group element, and
 *   s'_k = Σ_j g_j(k).
 *
 * Either way each received share is checked against its dealer's Feldman commitments
 * (share·G = Σ_m C_m·k^m), and the new public package is the coefficient-wise sum of the
 * commitments, every new verifying share being that sum evaluated at the party's identifier.
 *
 * Secrets: shares and the dealer's polynomial are bigints inside one call (noble computes
 * with bigints, which JavaScript cannot wipe; README "What cannot be wiped"); every secret
 * byte array is owned by the caller's scope.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { groupOfCurve, type Group } from '../derivation/group.js';
import { curveOfSuite } from '../derivation/derive.js';
import { bytesToHex, decodeHex } from '../encoding.js';
import { decodeSuiteHex } from '../frost-wire.js';
import type { PublicPackage } from '../messages.js';
import type { SecretScope } from '../secret-scope.js';
import type { Suite } from '../suite.js';

export type LifecycleMode = 'refresh' | 'reshare';

export interface DealingOutput {
  /** Encoded Feldman commitments, hex: t′ of them for a reshare, t − 1 (no constant) for a refresh. */
  readonly commitments: string[];
  /** One secret share per recipient identifier (hex), each owned by the caller's scope. */
  readonly shares: ReadonlyMap<string, Uint8Array>;
}

function groupOfSuite(suite: Suite): Group {
  const curve = curveOfSuite(suite.id);
  if (curve === undefined) throw new Error(`suite "${suite.id}" has no group for key lifecycle operations`);
  return groupOfCurve(curve);
}

/** An identifier (a public scalar, hex in the suite's encoding) as a field element. */
function identifierScalar(group: Group, identifier: string): bigint {
  return group.field.fromBytes(decodeHex(identifier, 'identifier', group.scalarBytes));
}

/** Where the commitments of a dealing start: a refresh dealing has no constant commitment. */
const firstPower = (mode: LifecycleMode): number => (mode === 'refresh' ? 1 : 0);

/** λ_j(Q) at zero: the Lagrange coefficient of `dealer` over the identifiers `dealers`. */
export function lagrangeAtZero(suite: Suite, dealer: string, dealers: readonly string[]): bigint {
  const group = groupOfSuite(suite);
  const Fn = group.field;
  const xs = dealers.map((d) => identifierScalar(group, d));
  const xj = identifierScalar(group, dealer);
  if (new Set(xs).size !== xs.length) throw new Error('dealer identifiers are not distinct');
  if (!xs.includes(xj)) throw new Error('dealer is not in the dealing set');
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const x of xs) {
    if (x === xj) continue;
    num = Fn.mul(num, x);
    den = Fn.mul(den, Fn.sub(x, xj));
  }
  return Fn.div(num, den);
}

/**
 * Dealer side: a fresh polynomial (constant 0 for a refresh, λ_j·s_j for a reshare) of degree
 * `threshold` − 1, its commitments, and its value at every recipient.
 */
export function deal(
  suite: Suite,
  input: {
    readonly mode: LifecycleMode;
    /** t′: the threshold the dealt sharing has (a refresh keeps the key's t). */
    readonly threshold: number;
    /** Identifiers (hex) of the parties receiving shares. */
    readonly recipients: readonly string[];
    readonly dealer: string;
    readonly dealers: readonly string[];
    /** This dealer's current signing share (reshare only). */
    readonly signingShare?: Uint8Array;
  },
  scope: SecretScope,
): DealingOutput {
  const group = groupOfSuite(suite);
  const Fn = group.field;
  let constant = 0n;
  if (input.mode === 'reshare') {
    if (input.signingShare === undefined) throw new Error('a reshare dealer needs its signing share');
    constant = Fn.mul(lagrangeAtZero(suite, input.dealer, input.dealers), group.scalarFromBytes(input.signingShare));
  }
  const coefficients = [constant];
  for (let m = 1; m < input.threshold; m++) {
    const random = scope.track(suite.frost.utils.randomScalar());
    coefficients.push(group.scalarFromBytes(random));
  }
  const commitments = coefficients.slice(firstPower(input.mode)).map((a) => bytesToHex(group.baseMultiply(a)));
  const shares = new Map<string, Uint8Array>();
  for (const recipient of input.recipients) {
    const x = identifierScalar(group, recipient);
    let value = 0n;
    // Horner's rule over noble's field: Σ a_m·x^m.
    for (let m = coefficients.length - 1; m >= 0; m--) value = Fn.add(Fn.mul(value, x), coefficients[m] ?? 0n);
    shares.set(recipient, scope.track(group.scalarToBytes(value)));
  }
  return { commitments, shares };
}

/**
 * What a dealing's commitments must be before any share is looked at: the right number, each
 * a valid element of the suite, and for a reshare the constant λ_j·Y_j. Returns a one-line
 * reason naming what is wrong, or undefined.
 */
export function checkDealingCommitments(
  suite: Suite,
  input: {
    readonly mode: LifecycleMode;
    readonly threshold: number;
    readonly commitments: readonly string[];
    readonly dealer: string;
    readonly dealers: readonly string[];
    /** The dealer's verifying share in the current public package (reshare only). */
    readonly dealerVerifyingShare?: string;
  },
): string | undefined {
  const expected = input.threshold - firstPower(input.mode);
  if (input.commitments.length !== expected) return `dealing has ${input.commitments.length} commitments, expected ${expected}`;
  for (const [i, hex] of input.commitments.entries()) {
    const bytes = hexOfSuite(suite, hex);
    if (bytes === undefined || !suite.isValidElement(bytes)) return `commitment[${i}] is not a valid ${suite.name} element`;
  }
  if (input.mode === 'refresh') return undefined;
  if (input.dealerVerifyingShare === undefined) return 'the dealer has no verifying share in the current public package';
  const share = hexOfSuite(suite, input.dealerVerifyingShare);
  if (share === undefined || !suite.isValidElement(share)) return 'the dealer\'s verifying share is not a valid element';
  const group = groupOfSuite(suite);
  const expectedConstant = group.combine([{ point: share, scalar: lagrangeAtZero(suite, input.dealer, input.dealers) }]);
  if (expectedConstant === undefined || bytesToHex(expectedConstant) !== input.commitments[0]) {
    return 'constant commitment is not λ·Y of the dealer (it would change the group key)';
  }
  return undefined;
}

/** Reshare: the dealings' constant commitments add up to the group element (the key is unchanged). */
export function constantsSumToGroupKey(suite: Suite, dealings: readonly (readonly string[])[], groupElement: string): boolean {
  const group = groupOfSuite(suite);
  const terms = dealings.map((commitments) => ({ point: decodeHex(commitments[0] ?? '', 'commitment[0]'), scalar: 1n }));
  const sum = group.combine(terms);
  return sum !== undefined && bytesToHex(sum) === groupElement;
}

/** Feldman check of one received share: share·G = Σ_m C_m·x^m (from m = 1 for a refresh). */
export function shareMatchesDealing(suite: Suite, mode: LifecycleMode, identifier: string, share: Uint8Array, commitments: readonly string[]): boolean {
  const group = groupOfSuite(suite);
  let lhs: Uint8Array;
  try {
    if (share.length !== group.scalarBytes) return false;
    const value = group.scalarFromBytes(share);
    if (value === 0n) return false;
    lhs = group.baseMultiply(value);
  } catch {
    return false; // not a canonical scalar of the suite
  }
  const rhs = evaluateCommitments(group, firstPower(mode), commitments, identifierScalar(group, identifier));
  return rhs !== undefined && bytesToHex(lhs) === bytesToHex(rhs);
}

/** Σ_m C_m·x^(m + offset): a Feldman commitment vector evaluated at x (public values only). */
function evaluateCommitments(group: Group, offset: number, commitments: readonly string[], x: bigint): Uint8Array | undefined {
  const Fn = group.field;
  let power = Fn.pow(x, BigInt(offset));
  const terms = commitments.map((hex) => {
    const term = { point: decodeHex(hex, 'commitment'), scalar: power };
    power = Fn.mul(power, x);
    return term;
  });
  return group.combine(terms);
}

/** The new signing share: the sum of the received shares, plus the old share for a refresh. Owned by `scope`. */
export function combineShares(suite: Suite, mode: LifecycleMode, received: readonly Uint8Array[], oldShare: Uint8Array | undefined, scope: SecretScope): Uint8Array {
  const group = groupOfSuite(suite);
  const Fn = group.field;
  if (mode === 'refresh' && oldShare === undefined) throw new Error('a refresh adds to the old share');
  const parts = mode === 'refresh' && oldShare !== undefined ? [oldShare, ...received] : received;
  let sum = 0n;
  for (const part of parts) sum = Fn.add(sum, group.scalarFromBytes(part));
  return scope.track(group.scalarToBytes(sum));
}

/**
 * The new epoch's public package from the dealings' commitments (every new party computes
 * it; they must all agree before the switch): a reshare sums the dealers' commitments
 * coefficient-wise; a refresh adds them to the current commitments from degree 1 up.
 */
export function nextPublicPackage(
  suite: Suite,
  input: {
    readonly mode: LifecycleMode;
    readonly threshold: number;
    readonly recipients: readonly string[];
    readonly dealings: readonly (readonly string[])[];
    readonly current: PublicPackage;
  },
): PublicPackage {
  const group = groupOfSuite(suite);
  const commitments: string[] = [];
  for (let m = 0; m < input.threshold; m++) {
    const terms: { point: Uint8Array; scalar: bigint }[] = [];
    if (input.mode === 'refresh') {
      terms.push({ point: decodeHex(input.current.commitments[m] ?? '', `current commitment[${m}]`), scalar: 1n });
      if (m > 0) for (const dealing of input.dealings) terms.push({ point: decodeHex(dealing[m - 1] ?? '', 'commitment'), scalar: 1n });
    } else {
      for (const dealing of input.dealings) terms.push({ point: decodeHex(dealing[m] ?? '', 'commitment'), scalar: 1n });
    }
    const sum = group.combine(terms);
    // Dealings whose coefficients cancel (only a coalition of dealers can arrange it): refused, not a plain error (no redelivery loop).
    if (sum === undefined) throw new RefusedError(RefusalCode.inconsistentPackage, `commitment ${m} of the new package is the identity`);
    commitments.push(bytesToHex(sum));
  }
  const verifyingShares: Record<string, string> = {};
  for (const recipient of input.recipients) {
    const share = evaluateCommitments(group, 0, commitments, identifierScalar(group, recipient));
    if (share === undefined) throw new RefusedError(RefusalCode.inconsistentPackage, 'a new verifying share is the identity');
    verifyingShares[recipient] = bytesToHex(share);
  }
  return { signers: { min: input.threshold, max: input.recipients.length }, commitments, verifyingShares };
}

function hexOfSuite(suite: Suite, hex: string): Uint8Array | undefined {
  try {
    return decodeSuiteHex(suite, 'element', hex, 'element');
  } catch {
    return undefined;
  }
}
