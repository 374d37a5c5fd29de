/**
 * A party whose random source is replayed (a restored snapshot, a cloned VM) draws the same
 * pool nonces again: a refill must not publish one it already holds, unused or spent
 * (sign/party-pool-refill.ts `repeatedNonce`), or the nonce could sign a second package and
 * reveal the share (RFC 9591 §7.3). Through a real Party, with node:crypto's randomFillSync
 * (what nonce generation draws its 32 bytes from) recorded and then replayed.
 */
import type * as Crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';

const tape = vi.hoisted(() => ({ mode: 'live' as 'live' | 'record' | 'replay', recorded: [] as Uint8Array[], next: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  const randomFillSync = ((buffer: Uint8Array, ...rest: unknown[]) => {
    // Only the 32-byte draws of nonce generation are taped; everything else stays live.
    if (buffer.byteLength === 32 && tape.mode === 'replay') {
      const again = tape.recorded[tape.next++ % tape.recorded.length];
      if (again !== undefined) buffer.set(again);
      return buffer;
    }
    const filled = (actual.randomFillSync as (b: Uint8Array, ...r: unknown[]) => Uint8Array)(buffer, ...rest);
    if (buffer.byteLength === 32 && tape.mode === 'record') tape.recorded.push(Uint8Array.from(buffer));
    return filled;
  }) as typeof actual.randomFillSync;
  return { ...actual, randomFillSync, default: { ...actual, randomFillSync } };
});

const { RefusalCode } = await import('../../../../lib/ports/errors.js');
const { MessageType } = await import('../../../../lib/protocol/messages.js');
const { partyKeys } = await import('../../../../lib/protocol/party-state.js');
const { KEY_ID, PoolBench } = await import('../../../support/pool-bench.js');

let bench: Awaited<ReturnType<typeof PoolBench.open>> | undefined;
afterEach(() => {
  bench?.close();
  bench = undefined;
  Object.assign(tape, { mode: 'live', recorded: [], next: 0 });
});

const nonceItems = async (b: Awaited<ReturnType<typeof PoolBench.open>>) => (await b.member('p1').store.query(partyKeys.poolPartition(KEY_ID), 'nonce#'));

describe('a replayed random source at refill', () => {
  it('a batch that repeats spent nonces is refused (commitment-reused) before it is signed or stored', async () => {
    bench = await PoolBench.open();
    const b = bench;
    // Record the draws of one batch of 4, publish it, spend every entry.
    tape.mode = 'record';
    const first = await b.refill('p1', { count: 4 });
    tape.mode = 'live';
    expect(first.outcome.status).toBe('processed');
    const own = first.batch;
    if (own === undefined) throw new Error('no batch');
    const other = (await b.refill('p2', { count: 4 })).batch;
    if (other === undefined) throw new Error('no batch of p2');
    for (let index = 0; index < 4; index++) {
      const request = await b.request();
      const pooled = await b.signed('coordinator', MessageType.signPooled, request.session, { request: request.request, attempt: 1, epoch: 0, commitments: [{ batch: own, index }, { batch: other, index }] }, 'p1');
      expect((await b.deliver('p1', pooled)).status).toBe('processed');
    }
    expect((await nonceItems(b)).map((i) => i.data.state)).toEqual(['spent', 'spent', 'spent', 'spent']);

    // The same draws again: every new nonce is one already spent.
    tape.mode = 'replay';
    const before = await b.snapshot('p1');
    const sent = b.member('p1').sent.length;
    const again = await b.refill('p1', { count: 4 });
    expect(again.outcome).toMatchObject({ status: 'refused', code: RefusalCode.commitmentReused });
    expect(again.batch).toBeUndefined();
    // Nothing but the refusal went out: no batch was signed or sent.
    expect(b.member('p1').sent.slice(sent).map((e) => e.type)).toEqual([MessageType.partyRefused]);
    expect(await b.snapshot('p1')).toEqual(before);
  });

  it('a batch that repeats nonces still unused is refused too; fresh randomness afterwards is accepted', async () => {
    bench = await PoolBench.open();
    const b = bench;
    tape.mode = 'record';
    expect((await b.refill('p1', { count: 4 })).outcome.status).toBe('processed');
    tape.mode = 'replay';
    const before = await b.snapshot('p1');
    expect((await b.refill('p1', { count: 4 })).outcome).toMatchObject({ status: 'refused', code: RefusalCode.commitmentReused });
    expect(await b.snapshot('p1')).toEqual(before);
    tape.mode = 'live';
    expect((await b.refill('p1', { count: 4 })).outcome.status).toBe('processed');
    expect(await nonceItems(b)).toHaveLength(8);
  });
});
