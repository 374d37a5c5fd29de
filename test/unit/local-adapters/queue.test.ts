import { describe, expect, it } from 'vitest';
import { LocalQueue } from '../../../lib/adapters/local/queue.js';
import { ConfigError } from '../../../lib/ports/errors.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}

describe('LocalQueue', () => {
  it('hides a received message for the visibility timeout, then redelivers it', () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 30_000, maxReceiveCount: 5 });
    const id = queue.send('hello');

    const [first] = queue.receive(10);
    expect(first).toMatchObject({ messageId: id, body: 'hello', receiveCount: 1, sentTimestamp: 1_000 });
    expect(queue.receive(10)).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 1 });
    expect(queue.nextVisibleAt()).toBe(31_000);

    clock.t = 30_999;
    expect(queue.receive(10)).toEqual([]);
    clock.t = 31_000;
    const [second] = queue.receive(10);
    expect(second).toMatchObject({ messageId: id, receiveCount: 2 });
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
  });

  it('returns at most maxMessages, oldest first', () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 1_000, maxReceiveCount: 5 });
    for (const body of ['a', 'b', 'c']) queue.send(body);
    expect(queue.receive(2).map((m) => m.body)).toEqual(['a', 'b']);
    expect(queue.receive(2).map((m) => m.body)).toEqual(['c']);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 3 });
  });

  it('delete needs the current receipt handle; a stale one is ignored', () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 10, maxReceiveCount: 5 });
    queue.send('m');
    const [first] = queue.receive(1);
    clock.t += 10;
    const [second] = queue.receive(1);
    if (first === undefined || second === undefined) throw new Error('expected two deliveries');

    expect(queue.delete(first.receiptHandle)).toBe(false);
    expect(queue.peekAll()).toEqual(['m']);
    expect(queue.delete(second.receiptHandle)).toBe(true);
    expect(queue.peekAll()).toEqual([]);
    expect(queue.delete(second.receiptHandle)).toBe(false);
  });

  it('changeVisibility extends or ends the timeout for the current handle only', () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 100, maxReceiveCount: 5 });
    queue.send('m');
    const [message] = queue.receive(1);
    if (message === undefined) throw new Error('expected a delivery');
    expect(queue.changeVisibility(message.receiptHandle, 1_000)).toBe(true);
    clock.t += 500;
    expect(queue.receive(1)).toEqual([]);
    expect(queue.changeVisibility(message.receiptHandle, 0)).toBe(true);
    expect(queue.changeVisibility('not-a-handle', 0)).toBe(false);
    expect(queue.receive(1)).toHaveLength(1);
  });

  it('moves a message to the DLQ instead of delivering it more than maxReceiveCount times', () => {
    const clock = fakeClock();
    const dlq = new LocalQueue('dlq', { clock, visibilityTimeoutMs: 100, maxReceiveCount: 10 });
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 100, maxReceiveCount: 3, deadLetterQueue: dlq });
    const id = queue.send('poison');

    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      counts.push(...queue.receive(1).map((m) => m.receiveCount));
      clock.t += 100;
    }
    expect(counts).toEqual([1, 2, 3]);
    expect(queue.receive(1)).toEqual([]);
    expect(queue.peekAll()).toEqual([]);
    expect(dlq.peekAll()).toEqual(['poison']);
    expect(dlq.receive(1)).toMatchObject([{ messageId: id, receiveCount: 1, sentTimestamp: 1_000 }]);
  });

  it('without a DLQ the message stays and keeps being delivered', () => {
    const clock = fakeClock();
    const queue = new LocalQueue('q', { clock, visibilityTimeoutMs: 0, maxReceiveCount: 1 });
    queue.send('m');
    expect(queue.receive(1)[0]?.receiveCount).toBe(1);
    expect(queue.receive(1)[0]?.receiveCount).toBe(2);
  });

  it('refuses impossible options, listing every problem', () => {
    const clock = fakeClock();
    expect(() => new LocalQueue('q', { clock, visibilityTimeoutMs: -1, maxReceiveCount: 0 })).toThrow(ConfigError);
    expect(() => new LocalQueue('q', { clock, visibilityTimeoutMs: -1, maxReceiveCount: 0 })).toThrow(
      /visibilityTimeoutMs.*maxReceiveCount/,
    );
  });
});
