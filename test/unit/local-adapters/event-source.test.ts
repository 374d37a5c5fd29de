import { describe, expect, it } from 'vitest';
import { drainAll, LocalEventSource } from '../../../lib/adapters/local/event-source.js';
import type { MessageHandler } from '../../../lib/adapters/local/event-source.js';
import { LocalQueue } from '../../../lib/adapters/local/queue.js';
import { LocalTransport } from '../../../lib/adapters/local/transport.js';

function fakeClock(start = 0) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}

/** A sleep that moves the fake clock instead of waiting, recording each wait. */
function fakeSleep(clock: { t: number }, waits: number[] = []) {
  return async (ms: number) => {
    waits.push(ms);
    clock.t += ms;
  };
}

const quiet = { onError: () => {} };

describe('LocalEventSource', () => {
  it('a handler that throws once is retried after the visibility timeout and succeeds', async () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 5_000, maxReceiveCount: 3 });
    const seen: Array<{ body: string; receiveCount: number }> = [];
    const errors: unknown[] = [];
    const handler: MessageHandler = async (body, { receiveCount }) => {
      seen.push({ body, receiveCount });
      if (receiveCount === 1) throw new Error('transient');
    };
    const source = new LocalEventSource(queue, handler, { onError: (error) => errors.push(error) });
    queue.send('m');

    expect(await source.pollOnce()).toBe(1);
    expect(errors).toHaveLength(1);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 1 });
    expect(await source.pollOnce()).toBe(0);

    clock.t += 5_000;
    expect(await source.pollOnce()).toBe(1);
    expect(seen).toEqual([
      { body: 'm', receiveCount: 1 },
      { body: 'm', receiveCount: 2 },
    ]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('a poison message ends in the DLQ while the rest of its batch is deleted', async () => {
    const clock = fakeClock();
    const dlq = new LocalQueue('dlq', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 });
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 2, deadLetterQueue: dlq });
    const handled: string[] = [];
    const source = new LocalEventSource(
      queue,
      async (body) => {
        if (body === 'poison') throw new Error('cannot parse');
        handled.push(body);
      },
      { batchSize: 10, ...quiet },
    );
    for (const body of ['a', 'poison', 'b']) queue.send(body);

    await source.pollOnce();
    expect(handled).toEqual(['a', 'b']);
    expect(queue.peekAll()).toEqual(['poison']);

    await drainAll([source], { clock, timeoutMs: 60_000, sleep: fakeSleep(clock) });
    expect(queue.peekAll()).toEqual([]);
    expect(dlq.peekAll()).toEqual(['poison']);
    expect(handled).toEqual(['a', 'b']);
  });
});

describe('drainAll', () => {
  it('terminates once messages passed between queues are all handled', async () => {
    const clock = fakeClock();
    const options = { clock, visibilityTimeoutMs: 2_000, maxReceiveCount: 5 };
    const parties = new LocalQueue('party', options);
    const coordinator = new LocalQueue('coordinator', options);
    const transport = new LocalTransport((d) => (d.kind === 'party' ? parties : d.kind === 'coordinator' ? coordinator : undefined));

    const results: string[] = [];
    let failedOnce = false;
    const partySource = new LocalEventSource(
      parties,
      async (body) => {
        if (body === 'r2' && !failedOnce) {
          failedOnce = true;
          throw new Error('transient');
        }
        await transport.send({ kind: 'coordinator' }, `ack ${body}`);
      },
      quiet,
    );
    const coordinatorSource = new LocalEventSource(coordinator, async (body) => {
      results.push(body);
      const round = Number(body.slice('ack r'.length));
      if (round < 3) await transport.send({ kind: 'party', id: 'p1' }, `r${round + 1}`);
    });
    parties.send('r1');

    const waits: number[] = [];
    await drainAll([partySource, coordinatorSource], {
      clock,
      timeoutMs: 60_000,
      idleWaitMs: 500,
      sleep: fakeSleep(clock, waits),
    });
    expect(results).toEqual(['ack r1', 'ack r2', 'ack r3']);
    expect(parties.stats()).toEqual({ visible: 0, inFlight: 0 });
    expect(coordinator.stats()).toEqual({ visible: 0, inFlight: 0 });
    // The one retry waited out the 2 s visibility timeout in idleWaitMs steps.
    expect(waits).toEqual([500, 500, 500, 500]);
  });

  it('with the real clock and setTimeout it waits out a short visibility timeout', async () => {
    const clock = { now: () => Date.now() };
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 20, maxReceiveCount: 5 });
    let attempts = 0;
    const source = new LocalEventSource(
      queue,
      async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('transient');
      },
      quiet,
    );
    queue.send('m');
    await drainAll([source], { clock, timeoutMs: 5_000, idleWaitMs: 5 });
    expect(attempts).toBe(2);
  });

  it('times out naming the busy queues when messages never succeed', async () => {
    const clock = fakeClock();
    const queue = new LocalQueue('stuck-queue', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 100 });
    const source = new LocalEventSource(
      queue,
      async () => {
        throw new Error('always');
      },
      quiet,
    );
    queue.send('m');
    await expect(drainAll([source], { clock, timeoutMs: 10_000, sleep: fakeSleep(clock) })).rejects.toMatchObject({
      code: 'drain-timeout',
      message: expect.stringContaining('stuck-queue (visible 0, in flight 1)'),
    });
  });

  it('polls sources round-robin so a self-feeding queue cannot starve another', async () => {
    const clock = fakeClock();
    const options = { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 };
    const busy = new LocalQueue('busy', options);
    const other = new LocalQueue('other', options);
    const order: string[] = [];
    let remaining = 5;
    const busySource = new LocalEventSource(
      busy,
      async () => {
        order.push('busy');
        if (--remaining > 0) busy.send('again');
      },
      { batchSize: 1 },
    );
    const otherSource = new LocalEventSource(other, async () => {
      order.push('other');
    });
    busy.send('start');
    other.send('x');
    await drainAll([busySource, otherSource], { clock, timeoutMs: 1_000, sleep: fakeSleep(clock) });
    expect(order.indexOf('other')).toBe(1);
    expect(order.filter((o) => o === 'busy')).toHaveLength(5);
  });
});
