/**
 * What the fuzzer sends: fast-check arbitraries for one fuzz case (plain data, so a failing
 * case prints and shrinks), and `materialize`, which turns a case into the message bodies to
 * deliver, built from a captured real message. Each kind is one class of hostile input:
 *
 * - garbage-json / garbage-text: any JSON value, any text.
 * - truncated: the real message cut short.
 * - oversized: a field made huge (around the byte limit), or an array of about the JSON
 *   node limit; re-signed, so size or shape is the only fault.
 * - deep / deep-text: nesting beyond the 32-level limit, inside a re-signed envelope or as
 *   raw `[[[[…]]]]` text.
 * - field: one value anywhere in the envelope (relayed envelopes included) edited, then
 *   re-signed along the path by the real key of each enclosing envelope's sender ('all'),
 *   only the outer envelope ('outer'), or not at all ('none'). 'all' is the important one:
 *   it passes authentication and reaches the protocol steps.
 * - replay: the real message delivered twice. fresh-copy: delivered again with a new id and
 *   timestamp, re-signed (a sender repeating itself).
 * - cross: another captured message delivered to this node in this state.
 * - wrong-type / swap-session: the real message re-signed with another type or session.
 */
import fc from 'fast-check';
import type { KeyVault } from '../../lib/ports/key-vault.js';
import { newMessageId } from '../../lib/protocol/envelope.js';
import { MessageType } from '../../lib/protocol/messages.js';
import type { Corpus } from './capture.js';
import { getAt, pathsOf, resignAlong, setAt, type Json, type Path } from './json-paths.js';

export type Edit =
  | { readonly op: 'json'; readonly value: Json }
  | { readonly op: 'type-swap' }
  | { readonly op: 'delete' }
  | { readonly op: 'extra-key'; readonly key: string }
  | { readonly op: 'hex-flip'; readonly at: number; readonly char: string }
  | { readonly op: 'string-cut'; readonly at: number }
  | { readonly op: 'number'; readonly value: number }
  | { readonly op: 'name'; readonly value: string }
  | { readonly op: 'session'; readonly which: 'keygen' | 'sign' | 'unknown' }
  | { readonly op: 'array'; readonly how: 'dup' | 'drop' | 'reverse' | 'empty' };

export type FuzzCase =
  | { readonly kind: 'garbage-json'; readonly target: number; readonly value: Json }
  | { readonly kind: 'garbage-text'; readonly target: number; readonly text: string }
  | { readonly kind: 'truncated'; readonly target: number; readonly cut: number }
  | { readonly kind: 'oversized'; readonly target: number; readonly path: number; readonly shape: 'string' | 'array'; readonly size: number }
  | { readonly kind: 'deep'; readonly target: number; readonly path: number; readonly depth: number; readonly shape: 'array' | 'object' }
  | { readonly kind: 'deep-text'; readonly target: number; readonly depth: number }
  | { readonly kind: 'field'; readonly target: number; readonly path: number; readonly edit: Edit; readonly resign: 'all' | 'outer' | 'none' }
  | { readonly kind: 'replay'; readonly target: number }
  | { readonly kind: 'fresh-copy'; readonly target: number }
  | { readonly kind: 'cross'; readonly target: number; readonly other: number; readonly resign: boolean }
  | { readonly kind: 'wrong-type'; readonly target: number; readonly type: string }
  | { readonly kind: 'swap-session'; readonly target: number; readonly which: 'keygen' | 'sign' | 'unknown' };

export type FuzzKind = FuzzCase['kind'];

/** The byte and node limits the cases aim around (DEFAULT_LIMITS, JSON_SHAPE_LIMITS). */
const BYTE_LIMIT = 240 * 1024;
const NODE_LIMIT = 100_000;
const NAMES = ['p1', 'p2', 'p3', 'p4', 'coordinator', 'cli', '', 'P1', 'p1 ', '__proto__', 'constructor', 'k1', 'k2'];

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ op: 'json' as const, value: value as Json })) },
  { weight: 2, arbitrary: fc.constant({ op: 'type-swap' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'delete' as const }) },
  { weight: 1, arbitrary: fc.constantFrom('x', '__proto__', 'constructor', 'accusation', 'abandoned', 'attempt').map((key) => ({ op: 'extra-key' as const, key })) },
  { weight: 4, arbitrary: fc.record({ at: fc.nat(), char: fc.constantFrom('0', '1', 'f', 'F', 'g', ' ', 'é', '"') }).map((r) => ({ op: 'hex-flip' as const, ...r })) },
  { weight: 1, arbitrary: fc.nat().map((at) => ({ op: 'string-cut' as const, at })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constantFrom(-1, 0, 1, 2, 3, 4, 255, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 0.5, -0), fc.integer())
      .map((value) => ({ op: 'number' as const, value })),
  },
  { weight: 2, arbitrary: fc.constantFrom(...NAMES).map((value) => ({ op: 'name' as const, value })) },
  { weight: 1, arbitrary: fc.constantFrom('keygen' as const, 'sign' as const, 'unknown' as const).map((which) => ({ op: 'session' as const, which })) },
  { weight: 2, arbitrary: fc.constantFrom('dup' as const, 'drop' as const, 'reverse' as const, 'empty' as const).map((how) => ({ op: 'array' as const, how })) },
);

/** One fuzz case; `targets` is how many captured deliveries there are. */
export function fuzzCase(targets: number): fc.Arbitrary<FuzzCase> {
  const target = fc.nat({ max: targets - 1 });
  const path = fc.nat();
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('garbage-json' as const), target, value: fc.jsonValue({ maxDepth: 4 }).map((v) => v as Json) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage-text' as const), target, text: fc.string({ unit: 'binary', maxLength: 200 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncated' as const), target, cut: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.record({ kind: fc.constant('oversized' as const), target, path, shape: fc.constant('string' as const), size: fc.integer({ min: BYTE_LIMIT - 8_000, max: BYTE_LIMIT + 8_000 }) }),
        fc.record({ kind: fc.constant('oversized' as const), target, path, shape: fc.constant('array' as const), size: fc.integer({ min: NODE_LIMIT - 2_000, max: NODE_LIMIT + 15_000 }) }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('deep' as const), target, path, depth: fc.integer({ min: 20, max: 2_000 }), shape: fc.constantFrom('array' as const, 'object' as const) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep-text' as const), target, depth: fc.integer({ min: 30, max: BYTE_LIMIT / 2 + 1_000 }) }) },
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('field' as const), target, path, edit, resign: fc.constantFrom('all' as const, 'all' as const, 'all' as const, 'outer' as const, 'none' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), target }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fresh-copy' as const), target }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('cross' as const), target, other: fc.nat({ max: targets - 1 }), resign: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrong-type' as const), target, type: fc.constantFrom(...Object.values(MessageType)) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap-session' as const), target, which: fc.constantFrom('keygen' as const, 'sign' as const, 'unknown' as const) }) },
  );
}

type Vaults = ReadonlyMap<string, Pick<KeyVault, 'signIdentity'>>;

function sessionOf(corpus: Corpus, which: 'keygen' | 'sign' | 'unknown'): string {
  return which === 'keygen' ? corpus.keygenSession : which === 'sign' ? corpus.signSession : 'ab'.repeat(16);
}

function typeSwapped(old: Json): Json {
  if (typeof old === 'string') return old.length;
  if (typeof old === 'number') return String(old);
  if (typeof old === 'boolean') return old ? 1 : 'true';
  if (old === null) return 0;
  return Array.isArray(old) ? Object.fromEntries(old.map((v, i) => [String(i), v])) : Object.values(old);
}

function applyEdit(old: Json, change: Edit, corpus: Corpus): Json | undefined {
  switch (change.op) {
    case 'json':
      return change.value;
    case 'type-swap':
      return typeSwapped(old);
    case 'delete':
      return undefined;
    case 'extra-key':
      return old !== null && typeof old === 'object' && !Array.isArray(old) ? { ...old, [change.key]: 1 } : { [change.key]: old };
    case 'hex-flip': {
      if (typeof old !== 'string' || old.length === 0) return `${change.char}`;
      const at = change.at % old.length;
      // Always a change: a flip to the character already there would be no mutation.
      const char = old[at] === change.char ? (change.char === '0' ? '1' : '0') : change.char;
      return old.slice(0, at) + char + old.slice(at + 1);
    }
    case 'string-cut':
      return typeof old === 'string' ? old.slice(0, old.length === 0 ? 0 : change.at % old.length) : '';
    case 'number':
      return change.value === old ? change.value + 1 : change.value;
    case 'name':
      return change.value === old ? `${change.value}x` : change.value;
    case 'session':
      return sessionOf(corpus, change.which);
    case 'array':
      if (!Array.isArray(old)) return [old];
      if (change.how === 'dup') return old.length > 0 ? [...old, old[0] ?? null] : [null];
      if (change.how === 'drop') return old.slice(1);
      if (change.how === 'reverse') return [...old].reverse();
      return [];
  }
}

function nested(depth: number, shape: 'array' | 'object'): Json {
  let value: Json = 0;
  for (let i = 0; i < depth; i++) value = shape === 'array' ? [value] : { a: value };
  return value;
}

const pick = (paths: readonly Path[], index: number): Path => paths[index % paths.length] ?? [];

/** The bodies to deliver for `fuzz`, in order (one, or two for replays). */
export async function materialize(fuzz: FuzzCase, corpus: Corpus, vaults: Vaults): Promise<string[]> {
  const delivery = corpus.deliveries[fuzz.target];
  if (delivery === undefined) throw new Error(`no delivery ${fuzz.target}`);
  const raw = delivery.raw;
  const parsed = JSON.parse(raw) as Json;
  const resignAt = async (path: Path, change: (old: Json) => Json | undefined, outerOnly = false) =>
    JSON.stringify(await resignAlong(setAt(parsed, path, change) ?? null, path, vaults, outerOnly));
  switch (fuzz.kind) {
    case 'garbage-json':
      return [JSON.stringify(fuzz.value)];
    case 'garbage-text':
      return [fuzz.text];
    case 'truncated':
      return [raw.slice(0, Math.floor(fuzz.cut * raw.length))];
    case 'oversized': {
      const path = pick(pathsOf(getAt(parsed, ['body']) ?? null), fuzz.path);
      const big: Json = fuzz.shape === 'string' ? 'a'.repeat(fuzz.size) : new Array<Json>(fuzz.size).fill(0);
      return [await resignAt(['body', ...path], () => big)];
    }
    case 'deep': {
      const path = pick(pathsOf(getAt(parsed, ['body']) ?? null), fuzz.path);
      return [await resignAt(['body', ...path], () => nested(fuzz.depth, fuzz.shape))];
    }
    case 'deep-text':
      return ['['.repeat(fuzz.depth) + ']'.repeat(fuzz.depth)];
    case 'field': {
      const path = pick(pathsOf(parsed), fuzz.path);
      const edited = setAt(parsed, path, (old) => applyEdit(old, fuzz.edit, corpus)) ?? null;
      if (fuzz.resign === 'none') return [JSON.stringify(edited)];
      return [JSON.stringify(await resignAlong(edited, path, vaults, fuzz.resign === 'outer'))];
    }
    case 'replay':
      return [raw, raw];
    case 'fresh-copy':
      return [raw, await resignAt(['id'], () => newMessageId())];
    case 'cross': {
      const other = corpus.deliveries[fuzz.other];
      if (other === undefined) throw new Error(`no delivery ${fuzz.other}`);
      if (!fuzz.resign) return [other.raw];
      // Addressed to this node and signed again by its sender: only the state differs.
      const readdressed = setAt(JSON.parse(other.raw) as Json, ['to'], () => delivery.node) ?? null;
      return [JSON.stringify(await resignAlong(readdressed, ['to'], vaults, true))];
    }
    case 'wrong-type':
      return [await resignAt(['type'], () => fuzz.type)];
    case 'swap-session':
      return [await resignAt(['session'], () => sessionOf(corpus, fuzz.which))];
  }
}

/** A short label of what a case changed (for the processed-mutations listing): the edited path with array indexes as `[]`. */
export function describeCase(fuzz: FuzzCase, corpus: Corpus): string {
  const delivery = corpus.deliveries[fuzz.target];
  if (fuzz.kind !== 'field' || delivery === undefined) return fuzz.kind;
  const path = pick(pathsOf(JSON.parse(delivery.raw) as Json), fuzz.path);
  const shown = path.map((step) => (typeof step === 'number' ? '[]' : step)).join('.') || '(root)';
  return `${delivery.type} ${shown} ${fuzz.edit.op} (re-signed: ${fuzz.resign})`;
}
