/**
 * Owns the secret buffers of one round handler and zeroes them on every exit path.
 *
 * JavaScript cannot wipe strings or bigints, so secrets are kept as Uint8Arrays from the
 * moment they are decrypted until they are consumed; noble's bigint intermediates live
 * only inside single synchronous calls (see README, "What cannot be wiped").
 */
export class SecretScope {
  readonly #buffers: Uint8Array[] = [];

  /** Registers `buffer` for wiping and returns it, so calls can be wrapped inline. */
  track<T extends Uint8Array>(buffer: T): T {
    this.#buffers.push(buffer);
    return buffer;
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
