import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretScope, withSecretScope } from '../../../lib/protocol/secret-scope.js';

const secretBytes = () => Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
const allZero = (b: Uint8Array) => b.every((x) => x === 0);

describe('SecretScope', () => {
  it('wipes every tracked buffer when the work returns, and hands back the result', async () => {
    const seen: SecretScope[] = [];
    const kept: Uint8Array[] = [];
    const result = await withSecretScope(
      async (scope) => {
        kept.push(scope.track(secretBytes()), scope.track(secretBytes().subarray(4, 12)));
        expect(kept.every((b) => !allZero(b))).toBe(true);
        return 'done';
      },
      (scope) => seen.push(scope),
    );
    expect(result).toBe('done');
    expect(kept.every(allZero)).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.tracked).toHaveLength(2);
  });

  it('wipes every tracked buffer when the work throws, and rethrows the same error', async () => {
    const boom = new Error('boom');
    const kept: Uint8Array[] = [];
    let observed: readonly Uint8Array[] = [];
    await expect(
      withSecretScope(
        async (scope) => {
          kept.push(scope.track(secretBytes()));
          await Promise.resolve();
          kept.push(scope.track(secretBytes()));
          throw boom;
        },
        // The observer runs after the wipe: what it sees is already zeros.
        (scope) => {
          observed = scope.tracked;
          expect(scope.tracked.every(allZero)).toBe(true);
        },
      ),
    ).rejects.toBe(boom);
    expect(kept).toHaveLength(2);
    expect(kept.every(allZero)).toBe(true);
    expect(observed).toHaveLength(2);
  });

  it('wipes buffers tracked after an await, not only synchronous ones', async () => {
    let late: Uint8Array | undefined;
    await withSecretScope(async (scope) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      late = scope.track(secretBytes());
    });
    expect(late !== undefined && allZero(late)).toBe(true);
  });

  it('never prints its contents', () => {
    const scope = new SecretScope();
    scope.track(secretBytes());
    expect(JSON.stringify({ scope })).toBe('{"scope":"<SecretScope redacted>"}');
    expect(inspect(scope)).toBe('<SecretScope redacted>');
  });
});
