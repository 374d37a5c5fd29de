/**
 * The one module that knows the shape of noble's internal DKG round state (`DKG_Secret` in
 * @noble/curves 2.4.0 `abstract/frost.ts`); no other module reads or builds its fields.
 *
 * noble keeps round 2 idempotent within one object: `round2()` caches its output on the
 * secret it was given and checks a repeated transcript against it. A party's rounds run in
 * different invocations, so that object does not survive between them. Round 1 therefore
 * stores the polynomial coefficients (sealed), and each later round rebuilds the object as
 * round 1 left it; round 3 replays round 2 on it first (deterministic: it evaluates the
 * polynomial and re-checks the very transcript round 2 accepted), because noble's round 3
 * accepts only a state that went through round 2. The guard test
 * (test/unit/protocol/noble-dkg-state.test.ts) fails if a noble release changes this shape.
 */
import { FrostlineError, RefusalCode, RefusedError } from '../../ports/errors.js';
import { decodeHex } from '../encoding.js';
import type { FrostRound1 } from '../frost-wire.js';
import type { SecretScope } from '../secret-scope.js';
import type { Suite } from '../suite.js';

type Dkg = Suite['frost']['DKG'];
/** noble's mutable DKG round state. Never stored as is: see `packRoundSecret`. */
export type DkgSecret = ReturnType<Dkg['round1']>['secret'];
export type DkgRound2Output = ReturnType<Dkg['round2']>;

/** Bytes of the X25519 ephemeral secret at the start of the sealed round secret. */
export const EPHEMERAL_SECRET_BYTES = 32;

/** noble's output broke an invariant this code relies on: a noble change the guard test missed. Thrown, never refused. */
export class NobleDkgError extends FrostlineError {
  override readonly name = 'NobleDkgError';
  constructor(message: string) {
    super('noble-dkg', message);
  }
}

/** What a party keeps of round 1 to rebuild noble's state: the published parts and the sealed coefficients. */
export interface DkgSecretParts {
  /** This party's FROST identifier (hex). */
  readonly identifier: string;
  /** The polynomial coefficients, `Fn.BYTES` each (secret: a view into the caller's scope). */
  readonly coefficients: Uint8Array;
  /** This party's round-1 commitment, as published (hex). */
  readonly commitment: readonly string[];
  readonly signers: { readonly min: number; readonly max: number };
}

/**
 * The sealed round secret: the ephemeral X25519 secret || the polynomial coefficients of a
 * fresh round-1 state. The rest of noble's state is public (in the round-1 package) or
 * derived (identifier, signers), so it is not stored.
 */
export function packRoundSecret(suite: Suite, ephemeral: Uint8Array, secret: DkgSecret, scope: SecretScope): Uint8Array {
  const Fn = suite.frost.utils.Fn;
  const coefficients = secret.coefficients ?? [];
  const packed = scope.alloc(EPHEMERAL_SECRET_BYTES + coefficients.length * Fn.BYTES);
  packed.set(ephemeral, 0);
  coefficients.forEach((c, i) => packed.set(scope.track(Fn.toBytes(c)), EPHEMERAL_SECRET_BYTES + i * Fn.BYTES));
  return packed;
}

/** Splits a sealed round secret (views into `packed`, which the caller's scope owns). */
export function unpackRoundSecret(packed: Uint8Array): { ephemeral: Uint8Array; coefficients: Uint8Array } {
  return { ephemeral: packed.subarray(0, EPHEMERAL_SECRET_BYTES), coefficients: packed.subarray(EPHEMERAL_SECRET_BYTES) };
}

/** Rebuilds noble's state exactly as `DKG.round1()` returned it. The caller must `DKG.clean()` it. */
export function restoreRound1Secret(suite: Suite, parts: DkgSecretParts): DkgSecret {
  const Fn = suite.frost.utils.Fn;
  const coefficients: bigint[] = [];
  for (let offset = 0; offset < parts.coefficients.length; offset += Fn.BYTES) {
    coefficients.push(Fn.fromBytes(parts.coefficients.subarray(offset, offset + Fn.BYTES)));
  }
  return {
    identifier: Fn.fromBytes(decodeHex(parts.identifier, 'identifier', Fn.BYTES)),
    coefficients,
    commitment: parts.commitment.map((c, i) => decodeHex(c, `commitment[${i}]`)),
    signers: { min: parts.signers.min, max: parts.signers.max },
    step: 1,
  };
}

/**
 * noble's round 2 on `secret`, the outgoing shares registered in `scope` for wiping. A
 * package noble rejects is refused; the coordinator checks key id and identifier on
 * receipt, from the same signed envelope, and attributes it there.
 */
export function runRound2(suite: Suite, secret: DkgSecret, others: readonly FrostRound1[], scope: SecretScope): DkgRound2Output {
  let outgoing: DkgRound2Output;
  try {
    outgoing = suite.frost.DKG.round2(secret, [...others]);
  } catch (error) {
    throw new RefusedError(RefusalCode.invalidPackage, `a round-1 package was rejected: ${(error as Error).message}`);
  }
  for (const pkg of Object.values(outgoing)) scope.track(pkg.signingShare);
  return outgoing;
}

/** The share round 2 produced for `recipient` (its FROST identifier `identifier`). */
export function round2ShareFor(outgoing: DkgRound2Output, identifier: string, recipient: string): Uint8Array {
  const share = Object.hasOwn(outgoing, identifier) ? outgoing[identifier] : undefined;
  if (share === undefined) throw new NobleDkgError(`round 2 produced no share for "${recipient}"`);
  return share.signingShare;
}

/**
 * noble's state as round 2 left it, for round 3: rebuilt, then round 2 replayed on the
 * transcript round 2 accepted (the caller checked its hash). The caller must `DKG.clean()` it.
 */
export function restoreRound2Secret(suite: Suite, parts: DkgSecretParts, others: readonly FrostRound1[], scope: SecretScope): DkgSecret {
  const secret = restoreRound1Secret(suite, parts);
  try {
    runRound2(suite, secret, others, scope);
  } catch (error) {
    suite.frost.DKG.clean(secret);
    throw error;
  }
  return secret;
}
