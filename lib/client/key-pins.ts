/**
 * Pinned group keys, per key id. A key is pinned the first time its attestations verify;
 * from then on every result for that key id is checked against the pin, and a key result
 * that names another key for a pinned id is refused (the coordinator cannot swap keys).
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
  /** The keygen's package hash (derivation chain code), once the key moved past epoch 0; absent: `publicPackageHash`. */
  keygenPackageHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type PinnedKey = z.infer<typeof PinnedKey>;

export interface KeyPins {
  get(keyId: string): Promise<PinnedKey | undefined>;
  /** Pins `key`; an identical pin is fine, a different key for a pinned id throws `KeyPinMismatchError`. */
  pin(key: PinnedKey): Promise<void>;
}

/** A key result named another key than the one pinned for its key id. */
export class KeyPinMismatchError extends FrostlineError {
  override readonly name = 'KeyPinMismatchError';
  constructor(keyId: string) {
    super('untrusted-result', `key "${keyId}" is pinned to another group key or party set than the one now attested`);
  }
}

export function pinOf(key: AttestedKey): PinnedKey {
  return {
    keyId: key.keyId,
    suite: key.suite,
    threshold: key.threshold,
    parties: [...key.parties],
    publicKey: key.publicKey,
    publicPackageHash: key.publicPackageHash,
    // Only when it differs, so pins written before epochs compare equal to epoch-0 keys.
    ...(key.keygenPackageHash !== key.publicPackageHash ? { keygenPackageHash: key.keygenPackageHash } : {}),
  };
}

function samePin(a: PinnedKey, b: PinnedKey): boolean {
  return JSON.stringify(PinnedKey.parse(a)) === JSON.stringify(PinnedKey.parse(b));
}

/** Pins for the life of one process (the SDK's default). */
export class MemoryKeyPins implements KeyPins {
  readonly #pins = new Map<string, PinnedKey>();

  async get(keyId: string): Promise<PinnedKey | undefined> {
    return this.#pins.get(keyId);
  }

  async pin(key: PinnedKey): Promise<void> {
    const existing = this.#pins.get(key.keyId);
    if (existing !== undefined && !samePin(existing, key)) throw new KeyPinMismatchError(key.keyId);
    this.#pins.set(key.keyId, key);
  }
}

const PinFile = z.strictObject({ version: z.literal(1), keys: z.record(z.string(), PinnedKey) });

/**
 * Pins in a JSON file (public data only), written atomically; the CLI keeps one beside each
 * deployment. Not for many concurrent writers: one process at a time.
 */
export class FileKeyPins implements KeyPins {
  constructor(readonly path: string) {}

  async get(keyId: string): Promise<PinnedKey | undefined> {
    const keys = (await this.#read()).keys;
    return Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  }

  async pin(key: PinnedKey): Promise<void> {
    const file = await this.#read();
    const existing = Object.hasOwn(file.keys, key.keyId) ? file.keys[key.keyId] : undefined;
    if (existing !== undefined) {
      if (!samePin(existing, key)) throw new KeyPinMismatchError(key.keyId);
      return;
    }
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
