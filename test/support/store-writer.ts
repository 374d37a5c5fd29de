/**
 * A child process for the store's multi-process tests: opens one store file and races
 * another copy of itself on it. Prints one JSON line with what it won, then either closes
 * the store or, with `--crash`, writes one last item and dies by SIGKILL without closing.
 *
 * argv: <path> <name> <claims> <increments> <startAtEpochMs> [--crash]
 */
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import { ConditionFailedError } from '../../lib/ports/errors.js';

const [path, name, claims, increments, startAt, crash] = process.argv.slice(2);
if (path === undefined || name === undefined) throw new Error('usage: store-writer <path> <name> <claims> <increments> <startAtEpochMs> [--crash]');
const NOW = 1_000_000;
const COUNTER = { pk: 'counter', sk: 'x' };

const store = await SqliteItemBackend.open(path);
// Start together, so that the two processes' writes interleave.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));

// Mutually exclusive creates: of two `absent` puts on one key exactly one may commit.
const won: number[] = [];
for (let i = 0; i < Number(claims); i++) {
  try {
    await store.write([{ op: 'put', item: { pk: `claim#${i}`, sk: 'x', data: { owner: name }, version: 1 }, condition: { kind: 'absent' } }], NOW);
    won.push(i);
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
}

// Read-modify-write under a version condition: a lost update would leave the count short.
let conflicts = 0;
for (let i = 0; i < Number(increments); i++) {
  for (;;) {
    const current = await store.get(COUNTER);
    const count = typeof current?.data.count === 'number' ? current.data.count : 0;
    const version = current?.version ?? 0;
    try {
      await store.write(
        [{ op: 'put', item: { ...COUNTER, data: { count: count + 1 }, version: version + 1 }, condition: current === undefined ? { kind: 'absent' } : { kind: 'version', version } }],
        NOW,
      );
      break;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      conflicts++;
    }
  }
}

process.stdout.write(`${JSON.stringify({ name, engine: store.engine, won, conflicts })}\n`);
if (crash === '--crash') {
  await store.write([{ op: 'put', item: { pk: `last#${name}`, sk: 'x', data: {}, version: 1 }, condition: { kind: 'absent' } }], NOW);
  // No close, no exit handlers: what the resolved write put on disk is all that survives.
  process.kill(process.pid, 'SIGKILL');
}
store.close();
