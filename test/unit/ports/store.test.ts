import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import { ConditionFailedError, InfrastructureError } from '../../../lib/ports/errors.js';
import { type ItemBackend, ItemTable, retryOnConflict } from '../../../lib/ports/store.js';

const NOW = 1_000_000;
const Value = z.strictObject({ owner: z.string() });
type Value = z.infer<typeof Value>;
const KEY = { pk: 'claim#s1', sk: 'x' };

/** The backend, with its reads counted (and, optionally, the returned item stripped from failed conditions). */
function counted(backend: ItemBackend, options: { stripExisting?: boolean } = {}) {
  const counts = { get: 0 };
  const wrapped: ItemBackend = {
    get: (key) => {
      counts.get++;
      return backend.get(key);
    },
    query: (pk, prefix) => backend.query(pk, prefix),
    scanPrefix: (prefix) => backend.scanPrefix(prefix),
    write: async (operations, now) => {
      try {
        await backend.write(operations, now);
      } catch (error) {
        if (options.stripExisting === true && error instanceof ConditionFailedError) throw new ConditionFailedError(error.message);
        throw error;
      }
    },
  };
  return { backend: wrapped, counts };
}

describe('ItemTable.createOrGet on the embedded store', () => {
  let store: SqliteItemBackend;
  let now: number;
  beforeEach(async () => {
    store = await SqliteItemBackend.open(':memory:');
    now = NOW;
  });
  afterEach(() => store.close());

  const table = (backend: ItemBackend) => new ItemTable<Value>(backend, (data) => Value.parse(data), () => now);

  it('creates the item when none exists', async () => {
    const { backend, counts } = counted(store);
    await expect(table(backend).createOrGet(KEY, { owner: 'a' })).resolves.toEqual({ created: true, value: { owner: 'a' }, version: 1 });
    expect(await store.get(KEY)).toMatchObject({ data: { owner: 'a' }, version: 1 });
    expect(counts.get).toBe(0);
  });

  it('adopts the winner from the failed condition itself, without a second read', async () => {
    const { backend, counts } = counted(store);
    await table(backend).createOrGet(KEY, { owner: 'winner' });
    await expect(table(backend).createOrGet(KEY, { owner: 'loser' })).resolves.toEqual({ created: false, value: { owner: 'winner' }, version: 1 });
    expect(counts.get).toBe(0);
    expect(await store.get(KEY)).toMatchObject({ data: { owner: 'winner' } });
  });

  it('of two concurrent creators exactly one wins, and both end with its value', async () => {
    const results = await Promise.all([table(store).createOrGet(KEY, { owner: 'a' }), table(store).createOrGet(KEY, { owner: 'b' })]);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    const winner = results.find((result) => result.created)?.value;
    for (const result of results) expect(result.value).toEqual(winner);
  });

  it('falls back to one read where the backend returns no item with the failed condition', async () => {
    const { backend, counts } = counted(store, { stripExisting: true });
    await table(backend).createOrGet(KEY, { owner: 'winner' });
    await expect(table(backend).createOrGet(KEY, { owner: 'loser' })).resolves.toMatchObject({ created: false, value: { owner: 'winner' } });
    expect(counts.get).toBe(1);
  });

  it('an expired item does not win: it is replaced', async () => {
    await table(store).createOrGet(KEY, { owner: 'old' }, 10);
    now = NOW + 10;
    await expect(table(store).createOrGet(KEY, { owner: 'new' })).resolves.toEqual({ created: true, value: { owner: 'new' }, version: 1 });
  });

  it('reports the race when the winner is gone again before it could be read', async () => {
    const vanishing: ItemBackend = {
      ...store,
      get: async () => undefined,
      query: (pk, prefix) => store.query(pk, prefix),
      scanPrefix: (prefix) => store.scanPrefix(prefix),
      write: () => Promise.reject(new ConditionFailedError('lost')),
    };
    await expect(table(vanishing).createOrGet(KEY, { owner: 'a' })).rejects.toBeInstanceOf(ConditionFailedError);
  });

  it('a damaged winner fails loudly instead of being adopted', async () => {
    await store.write([{ op: 'put', item: { ...KEY, data: { owner: 7 }, version: 1 }, condition: { kind: 'none' } }], NOW);
    await expect(table(store).createOrGet(KEY, { owner: 'a' })).rejects.toThrow();
  });
});

describe('SqliteItemBackend: the existing item on a failed condition', () => {
  let store: SqliteItemBackend;
  beforeEach(async () => {
    store = await SqliteItemBackend.open(':memory:');
    await store.write([{ op: 'put', item: { pk: 'a', sk: '1', data: { n: 1 }, version: 1 }, condition: { kind: 'none' } }], NOW);
    await store.write([{ op: 'put', item: { pk: 'b', sk: '1', data: { n: 2 }, version: 4 }, condition: { kind: 'none' } }], NOW);
  });
  afterEach(() => store.close());

  async function failure(write: Promise<void>): Promise<ConditionFailedError> {
    const error: unknown = await write.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    if (!(error instanceof ConditionFailedError)) throw new Error('expected a ConditionFailedError');
    return error;
  }

  it('carries the live item that failed `absent`', async () => {
    const error = await failure(store.write([{ op: 'put', item: { pk: 'a', sk: '1', data: { n: 9 }, version: 1 }, condition: { kind: 'absent' } }], NOW));
    expect(error.existing).toMatchObject({ data: { n: 1 }, version: 1 });
  });

  it('carries nothing when the item is absent (`exists` failed)', async () => {
    const error = await failure(store.write([{ op: 'delete', key: { pk: 'c', sk: '1' }, condition: { kind: 'exists' } }], NOW));
    expect(error.existing).toBeUndefined();
  });

  it('in a transaction: the item of the one failed operation, and none when several failed', async () => {
    const one = await failure(
      store.write(
        [
          { op: 'put', item: { pk: 'b', sk: '1', data: { n: 3 }, version: 5 }, condition: { kind: 'version', version: 3 } },
          { op: 'put', item: { pk: 'c', sk: '1', data: { n: 3 }, version: 1 }, condition: { kind: 'absent' } },
        ],
        NOW,
      ),
    );
    expect(one.existing).toMatchObject({ pk: 'b', sk: '1', version: 4 });
    const two = await failure(
      store.write(
        [
          { op: 'put', item: { pk: 'a', sk: '1', data: {}, version: 1 }, condition: { kind: 'absent' } },
          { op: 'put', item: { pk: 'b', sk: '1', data: {}, version: 1 }, condition: { kind: 'absent' } },
        ],
        NOW,
      ),
    );
    expect(two.existing).toBeUndefined();
    expect(await store.get({ pk: 'c', sk: '1' })).toBeUndefined();
  });
});

describe('retryOnConflict', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  /** Runs `retryOnConflict` on fake time; returns its outcome and when each attempt started. */
  async function run(failures: number, options: { error?: () => Error; maxAttempts?: number } = {}) {
    const started: number[] = [];
    const attempt = async () => {
      started.push(Date.now());
      if (started.length <= failures) throw (options.error ?? (() => new ConditionFailedError('lost the race')))();
      return 'done';
    };
    const outcome = retryOnConflict(attempt, options.maxAttempts).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await vi.runAllTimersAsync();
    return { outcome: await outcome, delays: started.slice(1).map((at, i) => at - (started[i] ?? at)) };
  }

  it('backs off exponentially with full jitter, capped at 200 ms', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { outcome, delays } = await run(9);
    expect(outcome).toEqual({ value: 'done' });
    // half of min(200, 2 * 2^(i-1)) ms before attempt i + 1
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 64, 100, 100]);
  });

  it('jitter spreads racing writers out: each wait is random within its ceiling', async () => {
    const draws = [0, 0.75, 0.25];
    vi.spyOn(Math, 'random').mockImplementation(() => draws.shift() ?? 0);
    const { delays } = await run(3);
    expect(delays[0]).toBe(0);
    expect(delays[1]).toBe(3);
    expect(delays[2]).toBe(2);
  });

  it('gives up after maxAttempts, rethrowing the conflict', async () => {
    const { outcome, delays } = await run(100, { maxAttempts: 5 });
    expect(outcome).toMatchObject({ error: expect.any(ConditionFailedError) });
    expect(delays).toHaveLength(4);
  });

  it('does not retry other errors', async () => {
    const { outcome, delays } = await run(1, { error: () => new InfrastructureError('dynamodb:PutItem', 'throttled') });
    expect(outcome).toMatchObject({ error: expect.any(InfrastructureError) });
    expect(delays).toEqual([]);
  });
});

