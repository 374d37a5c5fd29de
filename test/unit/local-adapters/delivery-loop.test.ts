/**
 * Issue #14: every inbox is consumed with bounded concurrency. Handlers here block on a
 * gate the test opens, so "in progress at once" is counted, never timed.
 */
import { describe, expect, it } from 'vitest';
import { DeliveryLoop, HANDLER_LEASE_MS, LocalEventSource, type MessageHandler } from '../../../lib/adapters/local/event-source.js';
import { LocalQueue } from '../../../lib/adapters/local/queue.js';

function fakeClock(start = 0) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}

/** A handler that records each body and blocks until `open()`; counts how many run at once. */
function gated() {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const state = { running: 0, peak: 0, started: [] as string[], finished: [] as string[] };
  const handler = (name: string): MessageHandler => async (body) => {
    state.running += 1;
    state.peak = Math.max(state.peak, state.running);
    state.started.push(`${name}:${body}`);
    try {
      await gate;
    } finally {
      state.running -= 1;
      state.finished.push(`${name}:${body}`);
    }
  };
  return { state, handler, open: () => release() };
}

/** Lets every pending promise callback and zero-delay timer run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

const quiet = { onError: () => {} };

describe('DeliveryLoop', () => {
  it('runs deliveries to different inboxes and several to one inbox at once, bounded per inbox', async () => {
    const clock = fakeClock();
    const options = { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 };
    const party = new LocalQueue('party', options);
    const coordinator = new LocalQueue('coordinator', options);
    const { state, handler, open } = gated();
    const sources = [
      new LocalEventSource(party, handler('party'), { concurrency: 3, ...quiet }),
      new LocalEventSource(coordinator, handler('coordinator'), { concurrency: 3, ...quiet }),
    ];
    for (let i = 0; i < 5; i++) party.send(`m${i}`);
    coordinator.send('c0');

    const loop = new DeliveryLoop(sources, { clock });
    const drained = loop.drain(60_000);
    await settle();
    // The old loop ran one handler at a time: it would be stuck on the first with peak 1.
    expect(state.running).toBe(4);
    expect(state.started.filter((s) => s.startsWith('party:'))).toHaveLength(3);
    expect(state.started).toContain('coordinator:c0');
    expect(party.stats()).toEqual({ visible: 2, inFlight: 3 });

    open();
    await drained;
    expect(state.peak).toBe(4);
    expect(state.finished).toHaveLength(6);
    expect(party.stats()).toEqual({ visible: 0, inFlight: 0 });
    expect(coordinator.stats()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('one session at a time per inbox: same-group messages wait, other groups run', async () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 });
    const { state, handler, open } = gated();
    const source = new LocalEventSource(queue, handler('q'), { concurrency: 4, groupOf: (body) => body.split('/')[0], ...quiet });
    for (const body of ['a/1', 'a/2', 'b/1']) queue.send(body);
    const loop = new DeliveryLoop([source], { clock });
    const drained = loop.drain(60_000);
    await settle();
    expect(state.started).toEqual(['q:a/1', 'q:b/1']);
    open();
    await drained;
    expect(state.finished).toHaveLength(3);
  });

  it('a handler slower than the visibility timeout is not redelivered while it runs (visibility renewed)', async () => {
    const clock = fakeClock();
    const dlq = new LocalQueue('dlq', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 100 });
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 2, deadLetterQueue: dlq });
    const { state, handler, open } = gated();
    const source = new LocalEventSource(queue, handler('q'), { concurrency: 4, ...quiet });
    queue.send('slow');
    const loop = new DeliveryLoop([source], { clock, sleep: () => new Promise(() => {}) });
    const serving = loop.serve();
    await settle();
    // Each send wakes the loop, which receives again: by then the slow message's first lease
    // (and the queue's 1 s timeout) has long run out, yet it is not handed out again.
    for (const t of [0.9, 1.8, 2.7, 3.6].map((f) => f * HANDLER_LEASE_MS)) {
      clock.t = t;
      queue.send(`other at ${t}`);
      await settle();
    }
    expect(state.started.filter((s) => s === 'q:slow')).toHaveLength(1);
    expect(queue.stats()).toEqual({ visible: 1, inFlight: 4 }); // four slots: the fifth waits its turn
    open();
    loop.stop();
    await serving;
    expect(dlq.peekAll()).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 1, inFlight: 0 }); // stopped before the fifth was received
  });

  it.each([1, 4])('keeps SQS semantics (concurrency %i): a failing handler is redelivered after the queue timeout, then dead-lettered; the others are unaffected', async (concurrency) => {
    const clock = fakeClock();
    const dlq = new LocalQueue('dlq', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 100 });
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 3, deadLetterQueue: dlq });
    const handled: string[] = [];
    const errors: unknown[] = [];
    const attempts = new Map<string, number>();
    const source = new LocalEventSource(
      queue,
      async (body) => {
        attempts.set(body, (attempts.get(body) ?? 0) + 1);
        if (body === 'poison') throw new Error('cannot parse');
        if (body === 'flaky' && attempts.get(body) === 1) throw new Error('transient');
        handled.push(body);
      },
      {
        concurrency,
        onError: (error) => {
          errors.push(error);
          throw new Error('a listener that throws isolates nothing away');
        },
      },
    );
    for (const body of ['a', 'poison', 'flaky', 'b']) queue.send(body);
    const sleep = async (ms: number) => {
      clock.t += ms;
    };
    await new DeliveryLoop([source], { clock, sleep }).drain(60_000);
    expect(handled.sort()).toEqual(['a', 'b', 'flaky']);
    expect(attempts.get('poison')).toBe(3);
    expect(errors).toHaveLength(4);
    expect(dlq.peekAll()).toEqual(['poison']);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0 });
    // Two redeliveries, each one queue timeout after the failure: not a handler lease.
    expect(clock.t).toBeLessThanOrEqual(3_000);
  });

  it('stop() returns only after running handlers finish; what was not received stays queued', async () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 });
    const { state, handler, open } = gated();
    const source = new LocalEventSource(queue, handler('q'), { concurrency: 2, ...quiet });
    for (let i = 0; i < 5; i++) queue.send(`m${i}`);
    const loop = new DeliveryLoop([source], { clock });
    const serving = loop.serve();
    await settle();
    expect(state.running).toBe(2);
    loop.stop();
    let stopped = false;
    void serving.then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false); // two handlers still run
    open();
    await serving;
    expect(state.running).toBe(0);
    expect(state.finished).toHaveLength(2);
    expect(queue.stats()).toEqual({ visible: 3, inFlight: 0 });
  });

  it('wakes on a send instead of polling', async () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 });
    const handled: string[] = [];
    const source = new LocalEventSource(queue, async (body) => void handled.push(body), { concurrency: 2, ...quiet });
    // A sleep that never ends: only a send can wake the idle loop.
    const loop = new DeliveryLoop([source], { clock, sleep: () => new Promise(() => {}) });
    const serving = loop.serve();
    await settle();
    queue.send('late');
    await settle();
    expect(handled).toEqual(['late']);
    loop.stop();
    await serving;
  });
});

describe('LocalQueue receipt handles', () => {
  it('a handle goes stale on the next receive and after a delete, also with many messages in flight', () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 10, maxReceiveCount: 5 });
    for (let i = 0; i < 1_000; i++) queue.send(`m${i}`);
    const first = queue.receive(1_000);
    clock.t += 10;
    const second = queue.receive(1_000);
    expect(first.every((m) => !queue.delete(m.receiptHandle) && !queue.changeVisibility(m.receiptHandle, 0))).toBe(true);
    expect(second.every((m) => queue.delete(m.receiptHandle))).toBe(true);
    expect(second.some((m) => queue.delete(m.receiptHandle))).toBe(false);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0 });
  });
});
