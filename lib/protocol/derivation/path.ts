/**
 * Derivation paths: "m" followed by non-hardened indices, "m/0/7". Hardened steps need the
 * parent's private key, which no party ever holds (only shares of it), so they are refused
 * rather than silently reinterpreted.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';

/** Indices at or above 2^31 are BIP32's hardened range. */
export const HARDENED_OFFSET = 0x8000_0000;
/** BIP32 serialises depth in one byte; 255 steps is far beyond any sane wallet layout. */
export const MAX_PATH_DEPTH = 32;
/** Longest path text accepted before parsing ("m" + 32 × "/2147483647"). */
const MAX_PATH_CHARS = 1 + MAX_PATH_DEPTH * 11;

export type DerivationPath = readonly number[];

export class PathError extends RefusedError {
  override readonly name = 'PathError';
  constructor(message: string) {
    super(RefusalCode.malformed, message);
  }
}

/** Parses "m/0/7" into [0, 7]; "m" alone is the key itself. Throws `PathError` (one line). */
export function parsePath(text: string): DerivationPath {
  if (typeof text !== 'string' || text.length > MAX_PATH_CHARS) throw new PathError(`derivation path is longer than ${MAX_PATH_DEPTH} steps`);
  const [head, ...steps] = text.split('/');
  if (head !== 'm') throw new PathError(`derivation path "${text}" must start with "m"`);
  if (steps.length > MAX_PATH_DEPTH) throw new PathError(`derivation path is deeper than ${MAX_PATH_DEPTH} steps`);
  return steps.map((step) => {
    if (/^\d+['hH]$/.test(step)) throw new PathError(`hardened step "${step}" is not supported: only non-hardened derivation works on a threshold key`);
    if (!/^(?:0|[1-9]\d{0,9})$/.test(step)) throw new PathError(`derivation path step "${step}" is not a decimal index`);
    const index = Number(step);
    if (index >= HARDENED_OFFSET) throw new PathError(`derivation index ${step} is in the hardened range (>= 2^31)`);
    return index;
  });
}

export function formatPath(path: DerivationPath): string {
  return ['m', ...path.map(String)].join('/');
}

/** Whether `path` starts with `prefix` (both parsed): the unit of per-initiator path policy. */
export function hasPathPrefix(path: DerivationPath, prefix: DerivationPath): boolean {
  return prefix.length <= path.length && prefix.every((index, i) => path[i] === index);
}

/** BIP32 ser32(i): 4 bytes big-endian. */
export function ser32(index: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, index, false);
  return out;
}
