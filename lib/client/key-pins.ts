/**
 * Pinned group keys, per key id. A key is pinned the first time its attestations verify;
 * from then on every result for that key id is checked against the pin, and a key result
 * that names another key for a pinned id is refused (the coordinator cannot swap keys).
 *
 * A refresh or reshare moves a key to a later epoch (README "Key lifecycle"): new party set,
 * threshold and public package, same group key and keygen package. A pin follows a later
 * epoch of the same key (its parties attested it); an older epoch than the pinned one, or
 * another key in the same epoch, is refused, so a coordinator cannot roll a client back to
 * shares that were deleted or replay a superseded party set.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ConfigError, FrostlineError } from '../ports/errors.js';
import type { AttestedKey } from '../protocol/attestation.js';
import { MAX_SIZES } from '../protocol/suites.js';

export const PinnedKey = z.strictObject({
  keyId: z.string(),
  suite: z.string(),
  threshold: z.number().int(),
  parties: z.array(z.string()),
  // The key's suite's encoding (32 bytes for Ed25519 and BIP340, 57 for Ed448); its exact length was checked against the suite when attested.
  publicKey: z.string().regex(/^(?:[0-9a-f]{2})+$/).max(2 * MAX_SIZES.publicKey),
  publicPackageHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The key epoch pinned (absent in pins from before epochs: 0). */
  epoch: z.number().int().nonnegative().optional(),
  /** The keygen's public-package hash, which fixes the derivation chain code in every epoch (absent: `publicPackageHash`, epoch 0). */
  keygenPackageHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type PinnedKey = z.infer<typeof PinnedKey>;

export interface KeyPins {
  get(keyId: string): Promise<PinnedKey | undefined>;
  /**
   * Pins `key`; an identical pin is fine and a later epoch of the pinned key replaces it
   * (`replacesPin`); anything else for a pinned id throws `KeyPinMismatchError`.
   */
  pin(key: PinnedKey): Promise<void>;
}

/** A key result named another key than the one pinned for its key id (or an epoch older than the pinned one). */
export class KeyPinMismatchError extends FrostlineError {
  override readonly name = 'KeyPinMismatchError';
  constructor(keyId: string, detail = 'another group key or party set than the one now attested') {
    super('untrusted-result', `key "${keyId}" is pinned to ${detail}`);
  }
}

/** What a pin keeps of an attested key (an epoch-0 key may come without the epoch fields). */
export type EpochedKey = Omit<AttestedKey, 'epoch' | 'keygenPackageHash' | 'publicPackage'> & { readonly epoch?: number | undefined; readonly keygenPackageHash?: string | undefined };

export function pinOf(key: EpochedKey): PinnedKey {
  const epoch = key.epoch ?? 0;
  return {
    keyId: key.keyId,
    suite: key.suite,
    threshold: key.threshold,
    parties: [...key.parties],
    publicKey: key.publicKey,
    publicPackageHash: key.publicPackageHash,
    // Epoch 0 pins keep their old shape, so pin files written before epochs compare equal.
    ...(epoch > 0 ? { epoch, keygenPackageHash: key.keygenPackageHash ?? key.publicPackageHash } : {}),
  };
}

/** A pin's epoch (0 for pins from before epochs). */
export function epochOf(pin: PinnedKey): number {
  return pin.epoch ?? 0;
}

/** The hash that fixes a pinned key's derivation chain code: the keygen's package, in every epoch. */
export function keygenHashOf(pin: PinnedKey): string {
  return pin.keygenPackageHash ?? pin.publicPackageHash;
}

/**
 * What derivation takes of a pin: the chain code comes from the keygen's package hash, so
 * child keys stay the same across refreshes and reshares.
 */
export function derivableOf(pin: PinnedKey): PinnedKey {
  return { ...pin, publicPackageHash: keygenHashOf(pin) };
}

function samePin(a: PinnedKey, b: PinnedKey): boolean {
  return JSON.stringify(PinnedKey.parse(a)) === JSON.stringify(PinnedKey.parse(b));
}

/**
 * Whether `next` may be pinned where `existing` is: the same pin, or a later epoch of the
 * same key (same id, suite, group key and keygen package). Throws `KeyPinMismatchError`
 * otherwise; returns true when `next` replaces `existing`.
 */
export function replacesPin(existing: PinnedKey | undefined, next: PinnedKey): boolean {
  if (existing === undefined) return true;
  if (samePin(existing, next)) return false;
  const sameKey = existing.keyId === next.keyId && existing.suite === next.suite && existing.publicKey === next.publicKey && keygenHashOf(existing) === keygenHashOf(next);
  if (!sameKey) throw new KeyPinMismatchError(next.keyId);
  if (epochOf(next) < epochOf(existing)) throw new KeyPinMismatchError(next.keyId, `epoch ${epochOf(existing)}; the attested epoch ${epochOf(next)} is older`);
  if (epochOf(next) === epochOf(existing)) throw new KeyPinMismatchError(next.keyId, `another party set or public package in epoch ${epochOf(existing)}`);
  return true;
}

/** Pins for the life of one process (the SDK's default). */
export class MemoryKeyPins implements KeyPins {
  readonly #pins = new Map<string, PinnedKey>();

  async get(keyId: string): Promise<PinnedKey | undefined> {
    return this.#pins.get(keyId);
  }

  async pin(key: PinnedKey): Promise<void> {
    if (replacesPin(this.#pins.get(key.keyId), key)) this.#pins.set(key.keyId, key);
  }
}

const PinFile = z.strictObject({ version: z.literal(1), keys: z.record(z.string(), PinnedKey) });

/**
 * Pins in a JSON file (public data only), written atomically; the CLI keeps one beside each
 * deployment. Not for many concurrent writers: one process at a time.
 */
/** The pin writes under way per file in this process (FileKeyPins.pin). */
const pinWrites = new Map<string, Promise<void>>();

export class FileKeyPins implements KeyPins {
  constructor(readonly path: string) {}

  async get(keyId: string): Promise<PinnedKey | undefined> {
    const keys = (await this.#read()).keys;
    return Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  }

  /**
   * Read, change and write back, one pin at a time per file in this process: concurrent calls
   * (several signatures, a lookup and a reshare on one client) would otherwise each write the
   * file as they read it, and the last would put back an entry another had just replaced —
   * an older epoch, say. Processes sharing one file (CLI runs with one `--config`) are not
   * serialised: give each its own file, or run them one at a time.
   */
  async pin(key: PinnedKey): Promise<void> {
    const previous = pinWrites.get(this.path) ?? Promise.resolve();
    const mine = previous.then(() => this.#pinNow(key));
    // The chain goes on after a failed write: the next pin reads the file afresh.
    const tail = mine.catch(() => undefined);
    pinWrites.set(this.path, tail);
    try {
      await mine;
    } finally {
      if (pinWrites.get(this.path) === tail) pinWrites.delete(this.path);
    }
  }

  async #pinNow(key: PinnedKey): Promise<void> {
    const file = await this.#read();
    const existing = Object.hasOwn(file.keys, key.keyId) ? file.keys[key.keyId] : undefined;
    if (!replacesPin(existing, key)) return;
    file.keys[key.keyId] = key;
    await mkdir(dirname(this.path), { recursive: true });
    // A temporary name of this write's own: two processes pinning at once must not rename each other's file away.
    const temporary = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`);
    await rename(temporary, this.path);
  }

  async #read(): Promise<z.infer<typeof PinFile>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: {} };
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ConfigError(`${this.path} is not valid JSON`);
    }
    const parsed = PinFile.safeParse(json);
    if (!parsed.success) throw new ConfigError(`${this.path} is not a pinned-keys file: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }
}
