/**
 * Owns the secret buffers of one round handler and zeroes them on every exit path.
 *
 * JavaScript cannot wipe strings or bigints, so secrets are kept as Uint8Arrays from the
 * moment they are decrypted until they are consumed; noble's bigint intermediates live
 * only inside single synchronous calls (see README, "What cannot be wiped").
 */
/**
 * A zeroed buffer for a secret, in memory outside the JavaScript heap. V8 keeps typed arrays
 * of up to 64 bytes inside its heap and moves them when it collects garbage, leaving the old
 * copy behind where no wipe reaches it; an ArrayBuffer's memory stays where it is until the
 * buffer is freed, so wiping it wipes the only copy.
 */
export function secretBytes(length: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(length));
}

export class SecretScope {
  readonly #buffers: Uint8Array[] = [];

  /** Registers `buffer` for wiping and returns it, so calls can be wrapped inline. */
  track<T extends Uint8Array>(buffer: T): T {
    this.#buffers.push(buffer);
    return buffer;
  }

  /** A fresh off-heap buffer (see `secretBytes`), registered for wiping. */
  alloc(length: number): Uint8Array<ArrayBuffer> {
    return this.track(secretBytes(length));
  }

  wipe(): void {
    for (const buffer of this.#buffers) buffer.fill(0);
  }

  /** The registered buffers (for the wipe assertion in tests). */
  get tracked(): readonly Uint8Array[] {
    return this.#buffers;
  }

  toJSON(): string {
    return '<SecretScope redacted>';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<SecretScope redacted>';
  }
}

/** Called after a scope is wiped; tests use it to prove every buffer became zeros. */
export type SecretScopeObserver = (scope: SecretScope) => void;

export async function withSecretScope<T>(
  work: (scope: SecretScope) => Promise<T>,
  observer?: SecretScopeObserver,
): Promise<T> {
  const scope = new SecretScope();
  try {
    return await work(scope);
  } finally {
    scope.wipe();
    observer?.(scope);
  }
}
