import { describe, expect, it } from 'vitest';
import { LocalQueue } from '../../../lib/adapters/local/queue.js';
import { LocalTransport } from '../../../lib/adapters/local/transport.js';
import type { Destination } from '../../../lib/ports/transport.js';

const clock = { now: () => 0 };

describe('LocalTransport', () => {
  const coordinator = new LocalQueue('coordinator', { clock, visibilityTimeoutMs: 1, maxReceiveCount: 1 });
  const p1 = new LocalQueue('p1', { clock, visibilityTimeoutMs: 1, maxReceiveCount: 1 });
  const resolve = (d: Destination) => (d.kind === 'coordinator' ? coordinator : d.kind === 'party' && d.id === 'p1' ? p1 : undefined);

  it('routes each destination to its queue', async () => {
    const transport = new LocalTransport(resolve);
    await transport.send({ kind: 'party', id: 'p1' }, 'to p1');
    await transport.send({ kind: 'coordinator' }, 'to coordinator');
    expect(p1.peekAll()).toEqual(['to p1']);
    expect(coordinator.peekAll()).toEqual(['to coordinator']);
  });

  it('refuses an unknown destination', async () => {
    const transport = new LocalTransport(resolve);
    await expect(transport.send({ kind: 'party', id: 'p9' }, 'x')).rejects.toMatchObject({
      code: 'unknown-destination',
      message: expect.stringContaining('party p9'),
    });
  });

  it('refuses a body over the limit in UTF-8 bytes, naming size and limit', async () => {
    const transport = new LocalTransport(resolve, { maxMessageBytes: 10 });
    await transport.send({ kind: 'coordinator' }, '0123456789');
    // 'é' is 2 bytes in UTF-8: 6 characters, 12 bytes.
    await expect(transport.send({ kind: 'coordinator' }, 'éééééé')).rejects.toMatchObject({
      code: 'message-too-large',
      message: expect.stringMatching(/12 bytes.*10-byte limit/),
    });
    await expect(
      new LocalTransport(resolve).send({ kind: 'coordinator' }, 'x'.repeat(256 * 1024 + 1)),
    ).rejects.toMatchObject({ code: 'message-too-large' });
  });

  it('refuses characters SQS would refuse', async () => {
    const transport = new LocalTransport(resolve);
    await expect(transport.send({ kind: 'coordinator' }, 'a\u0000b')).rejects.toMatchObject({
      code: 'message-invalid-characters',
    });
    await expect(transport.send({ kind: 'coordinator' }, 'lone \uD800 surrogate')).rejects.toMatchObject({
      code: 'message-invalid-characters',
    });
  });
});
