/**
 * A coordinator whose table fails mid-message (throttling, an outage) lets that failure
 * through unchanged, for a redelivery: it does not try a second write for the audit anchor,
 * whose own failure would replace the real error in the logs and the DLQ reason.
 */
import { describe, expect, it } from 'vitest';
import { SqliteItemBackend } from '../../../lib/adapters/local/sqlite-backend.js';
import type { ItemBackend, WriteOperation } from '../../../lib/ports/store.js';
import { anchorKey } from '../../../lib/protocol/audit-anchors.js';
import { Coordinator } from '../../../lib/protocol/coordinator.js';
import { Cast, NOW, runDkg } from '../../support/coordinator-fixtures.js';
import { parseBody } from '../../../lib/protocol/envelope.js';
import { COORDINATOR, MessageType } from '../../../lib/protocol/messages.js';

/** A backend whose writes fail while `failing` is set, each with its own numbered error. */
function flakyWrites(inner: ItemBackend): { backend: ItemBackend; fail(on: boolean): void } {
  let failing = false;
  let failures = 0;
  const backend: ItemBackend = Object.assign(Object.create(inner) as ItemBackend, {
    write: async (operations: readonly WriteOperation[], nowSeconds: number) => {
      if (failing) throw new Error(`table unavailable (write ${++failures})`);
      return inner.write(operations, nowSeconds);
    },
  });
  return { backend, fail: (on) => void (failing = on) };
}

describe('coordinator under a failing table', () => {
  it('rethrows the first failure and writes no anchor; the redelivery anchors and applies the message', async () => {
    const cast = new Cast();
    const run = await runDkg(cast);
    const inner = await SqliteItemBackend.open(':memory:');
    const store = flakyWrites(inner);
    const coordinator = new Coordinator({
      vault: cast.signer(COORDINATOR),
      store: store.backend,
      transport: { send: () => Promise.resolve() },
      clock: { now: () => NOW },
      directory: cast.directory,
    });
    expect((await coordinator.handle(JSON.stringify(run.request))).status).toBe('processed');

    // A round-1 package whose audit head is past the start (seq 0 is never anchored).
    const signed = run.round1.p1;
    if (signed === undefined) throw new Error('no round 1 from p1');
    const round1 = JSON.stringify(await cast.envelope('p1', MessageType.dkgRound1, run.session, { ...parseBody(signed, MessageType.dkgRound1), audit: { seq: 3, hash: 'ab'.repeat(32) } }));
    store.fail(true);
    await expect(coordinator.handle(round1)).rejects.toThrow('table unavailable (write 1)');
    expect(await inner.get(anchorKey('p1'))).toBeUndefined();

    store.fail(false);
    expect((await coordinator.handle(round1)).status).toBe('processed');
    expect((await coordinator.auditAnchor('p1'))?.seq).toBe(3);
    const session = await coordinator.getSession(run.session);
    expect(session?.kind === 'keygen' ? Object.keys(session.round1) : []).toEqual(['p1']);
    inner.close();
  });
});
