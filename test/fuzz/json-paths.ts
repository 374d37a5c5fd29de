/**
 * Editing parsed envelopes at a path, and signing them again: the tools of an insider who
 * holds an identity key (the coordinator, or a party) and alters what it relays or sends.
 * Every envelope-shaped object on the path to the edit (relayed envelopes inside an
 * envelope, then the envelope itself) is re-signed innermost first by the key of its own
 * `from`, when the run has that key: so the edit passes every signature check and reaches
 * the protocol logic behind them.
 */
import type { KeyVault } from '../../lib/ports/key-vault.js';
import { signEnvelope } from '../../lib/protocol/envelope.js';
import type { UnsignedEnvelope } from '../../lib/protocol/messages.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Path = readonly (string | number)[];

/** Every path in `value` (the root included), depth first; at most `limit` of them. */
export function pathsOf(value: Json, limit = 5_000): Path[] {
  const out: Path[] = [];
  const walk = (node: Json, path: Path) => {
    if (out.length >= limit) return;
    out.push(path);
    if (Array.isArray(node)) node.forEach((child, i) => walk(child, [...path, i]));
    else if (node !== null && typeof node === 'object') for (const [key, child] of Object.entries(node)) walk(child, [...path, key]);
  };
  walk(value, []);
  return out;
}

export function getAt(value: Json, path: Path): Json | undefined {
  let node: Json | undefined = value;
  for (const step of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = Array.isArray(node) ? node[step as number] : node[step as string];
  }
  return node;
}

/** A copy of `root` with the value at `path` replaced (`undefined`: removed). */
export function setAt(root: Json, path: Path, replace: (old: Json) => Json | undefined): Json | undefined {
  const [step, ...rest] = path;
  if (step === undefined) return replace(root);
  if (Array.isArray(root) && typeof step === 'number') {
    const copy = [...root];
    const child = copy[step];
    if (child === undefined) return copy;
    const next = setAt(child, rest, replace);
    if (next === undefined) copy.splice(step, 1);
    else copy[step] = next;
    return copy;
  }
  if (root !== null && typeof root === 'object' && !Array.isArray(root) && typeof step === 'string') {
    const copy: Record<string, Json> = { ...root };
    const child = copy[step];
    if (child === undefined) return copy;
    const next = setAt(child, rest, replace);
    if (next === undefined) delete copy[step];
    else copy[step] = next;
    return copy;
  }
  return root;
}

function isEnvelopeShaped(value: Json | undefined): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.sig === 'string' && typeof value.from === 'string' && 'type' in value;
}

/** Re-signs `envelope` (every field but `sig`, whatever they hold) under its `from`'s key, if known. */
async function resignObject(envelope: Record<string, Json>, vaults: ReadonlyMap<string, Pick<KeyVault, 'signIdentity'>>): Promise<Record<string, Json>> {
  const vault = typeof envelope.from === 'string' ? vaults.get(envelope.from) : undefined;
  if (vault === undefined) return envelope;
  const { sig: _sig, ...unsigned } = envelope;
  return (await signEnvelope(vault, unsigned as unknown as UnsignedEnvelope)) as unknown as Record<string, Json>;
}

/**
 * Re-signs every envelope-shaped object that encloses `path` in `root`, innermost first.
 * `outerOnly`: only the root (a relayed inner envelope keeps its now stale signature).
 */
export async function resignAlong(root: Json, path: Path, vaults: ReadonlyMap<string, Pick<KeyVault, 'signIdentity'>>, outerOnly: boolean): Promise<Json> {
  const prefixes: Path[] = [];
  for (let i = outerOnly ? 0 : path.length; i >= 0; i--) prefixes.push(path.slice(0, i));
  let out = root;
  for (const prefix of prefixes) {
    const node = getAt(out, prefix);
    if (!isEnvelopeShaped(node)) continue;
    const signed = await resignObject(node, vaults);
    out = setAt(out, prefix, () => signed) ?? out;
  }
  return out;
}
