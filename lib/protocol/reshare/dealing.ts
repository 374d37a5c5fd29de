/**
 * TEMPORARY STUB of the lead's lib/protocol/reshare/dealing.ts (LIFECYCLE.md API): the pure
 * math of refresh and reshare dealings. Replaced by main's file on `git merge main`.
 */
import type { PublicPackage } from '../messages.js';
import type { SecretScope } from '../secret-scope.js';
import type { Suite } from '../suite.js';
import { bytesToHex, decodeHex } from '../encoding.js';

export type LifecycleMode = 'refresh' | 'reshare';

interface P {
  add(other: P): P;
  multiply(scalar: bigint): P;
  multiplyUnsafe(scalar: bigint): P;
  equals(other: P): boolean;
  toBytes(): Uint8Array;
  is0(): boolean;
}
interface PointClass {
  readonly BASE: P;
  readonly ZERO: P;
  fromBytes(bytes: Uint8Array): P;
}

const pointsOf = (suite: Suite): PointClass => suite.Point as unknown as PointClass;
const scalarOf = (suite: Suite, hex: string): bigint => suite.frost.utils.Fn.fromBytes(decodeHex(hex, 'identifier'));
const el = (suite: Suite, hex: string): P => pointsOf(suite).fromBytes(decodeHex(hex, 'element'));
const mulAny = (point: P, scalar: bigint): P => (scalar === 0n ? pointsOf0(point) : point.multiplyUnsafe(scalar));
function pointsOf0(point: P): P {
  return point.multiplyUnsafe(0n);
}

export function lagrangeAtZero(suite: Suite, dealer: string, dealers: readonly string[]): bigint {
  const Fn = suite.frost.utils.Fn;
  const xi = scalarOf(suite, dealer);
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const other of dealers) {
    if (other === dealer) continue;
    const xj = scalarOf(suite, other);
    num = Fn.mul(num, xj);
    den = Fn.mul(den, Fn.sub(xj, xi));
  }
  return Fn.div(num, den);
}

export interface DealingOutput {
  readonly commitments: string[];
  readonly shares: ReadonlyMap<string, Uint8Array>;
}

export function deal(
  suite: Suite,
  input: { mode: LifecycleMode; threshold: number; recipients: readonly string[]; dealer: string; dealers: readonly string[]; signingShare?: Uint8Array },
  scope: SecretScope,
): DealingOutput {
  const Fn = suite.frost.utils.Fn;
  const G = pointsOf(suite).BASE;
  const constant =
    input.mode === 'refresh'
      ? 0n
      : Fn.mul(lagrangeAtZero(suite, input.dealer, input.dealers), Fn.fromBytes(input.signingShare ?? new Uint8Array(suite.sizes.scalar)));
  const coefficients = [constant];
  for (let k = 1; k < input.threshold; k++) coefficients.push(Fn.fromBytes(suite.frost.utils.randomScalar()));
  const committed = input.mode === 'refresh' ? coefficients.slice(1) : coefficients;
  const commitments = committed.map((c) => bytesToHex(G.multiply(c).toBytes()));
  const shares = new Map<string, Uint8Array>();
  for (const recipient of input.recipients) {
    const x = scalarOf(suite, recipient);
    let value = Fn.ZERO;
    for (let k = coefficients.length - 1; k >= 0; k--) value = Fn.add(Fn.mul(value, x), coefficients[k] ?? 0n);
    shares.set(recipient, scope.track(Fn.toBytes(value)));
  }
  return { commitments, shares };
}

export function checkDealingCommitments(
  suite: Suite,
  input: { mode: LifecycleMode; threshold: number; commitments: readonly string[]; dealer: string; dealers: readonly string[]; dealerVerifyingShare?: string },
): string | undefined {
  const expected = input.mode === 'refresh' ? input.threshold - 1 : input.threshold;
  if (input.commitments.length !== expected) return `${input.commitments.length} commitments, expected ${expected}`;
  for (const [i, c] of input.commitments.entries()) {
    if (!/^[0-9a-f]*$/.test(c) || c.length !== 2 * suite.sizes.element || !suite.isValidElement(decodeHex(c, 'element'))) return `commitment ${i} is not a valid element`;
  }
  if (input.mode === 'reshare') {
    if (input.dealerVerifyingShare === undefined) return 'dealer has no verifying share';
    const expectedConstant = mulAny(el(suite, input.dealerVerifyingShare), lagrangeAtZero(suite, input.dealer, input.dealers));
    const first = input.commitments[0];
    if (first === undefined || !el(suite, first).equals(expectedConstant)) return 'constant commitment is not λ·Y of the dealer';
  }
  return undefined;
}

export function constantsSumToGroupKey(suite: Suite, dealings: readonly (readonly string[])[], groupElement: string): boolean {
  let sum = pointsOf(suite).ZERO;
  for (const d of dealings) {
    const first = d[0];
    if (first === undefined) return false;
    sum = sum.add(el(suite, first));
  }
  return sum.equals(el(suite, groupElement));
}

function evaluate(suite: Suite, mode: LifecycleMode, commitments: readonly P[], x: bigint): P {
  const Fn = suite.frost.utils.Fn;
  let acc = pointsOf(suite).ZERO;
  let power = mode === 'refresh' ? x : Fn.ONE;
  for (const c of commitments) {
    acc = acc.add(mulAny(c, power));
    power = Fn.mul(power, x);
  }
  return acc;
}

export function shareMatchesDealing(suite: Suite, mode: LifecycleMode, identifier: string, share: Uint8Array, commitments: readonly string[]): boolean {
  const Fn = suite.frost.utils.Fn;
  const s = Fn.fromBytes(share);
  const left = s === 0n ? pointsOf(suite).ZERO : pointsOf(suite).BASE.multiply(s);
  return left.equals(evaluate(suite, mode, commitments.map((c) => el(suite, c)), scalarOf(suite, identifier)));
}

export function combineShares(suite: Suite, mode: LifecycleMode, received: readonly Uint8Array[], oldShare: Uint8Array | undefined, scope: SecretScope): Uint8Array {
  const Fn = suite.frost.utils.Fn;
  let sum = mode === 'refresh' && oldShare !== undefined ? Fn.fromBytes(oldShare) : Fn.ZERO;
  for (const r of received) sum = Fn.add(sum, Fn.fromBytes(r));
  return scope.track(Fn.toBytes(sum));
}

export function nextPublicPackage(
  suite: Suite,
  input: { mode: LifecycleMode; threshold: number; recipients: readonly string[]; dealings: readonly (readonly string[])[]; current: PublicPackage },
): PublicPackage {
  const Z = pointsOf(suite).ZERO;
  const combined: P[] = [];
  for (let k = 0; k < input.threshold; k++) combined.push(Z);
  if (input.mode === 'refresh') {
    input.current.commitments.forEach((c, k) => {
      combined[k] = (combined[k] ?? Z).add(el(suite, c));
    });
  }
  const offset = input.mode === 'refresh' ? 1 : 0;
  for (const d of input.dealings) d.forEach((c, k) => (combined[k + offset] = (combined[k + offset] ?? Z).add(el(suite, c))));
  const verifyingShares: Record<string, string> = {};
  for (const r of input.recipients) verifyingShares[r] = bytesToHex(evaluate(suite, 'reshare', combined, scalarOf(suite, r)).toBytes());
  return { signers: { min: input.threshold, max: input.recipients.length }, commitments: combined.map((c) => bytesToHex(c.toBytes())), verifyingShares };
}
