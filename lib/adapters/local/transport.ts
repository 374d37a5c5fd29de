/**
 * The embedded `Transport`: delivers envelopes to in-process `LocalQueue`s. It refuses what
 * SQS would refuse (oversized bodies, characters outside SQS's allowed set), so a message
 * that works locally does not fail for the first time in AWS.
 */
import { FrostlineError } from '../../ports/errors.js';
import type { Destination, Transport } from '../../ports/transport.js';

/** SQS's classic limit. AWS now accepts up to 1 MiB; staying under 256 KiB keeps every region and emulator happy. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

/** Where a body is put: a `LocalQueue`, or (worker threads) a port to the thread that owns the queues. */
export interface QueueSink {
  send(body: string): unknown;
}

/** Finds the inbox for a destination; `undefined` when there is none. */
export type QueueResolver = (destination: Destination) => QueueSink | undefined;

export interface LocalTransportOptions {
  /**
   * Largest body accepted, in UTF-8 bytes.
   * @default DEFAULT_MAX_MESSAGE_BYTES (256 KiB)
   */
  readonly maxMessageBytes?: number;
}

// SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
const SQS_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export class LocalTransport implements Transport {
  private readonly maxMessageBytes: number;

  constructor(
    private readonly resolve: QueueResolver,
    options?: LocalTransportOptions,
  ) {
    const max = options?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new FrostlineError('invalid-argument', `maxMessageBytes must be a positive integer, got ${max}`);
    }
    this.maxMessageBytes = max;
  }

  async send(destination: Destination, body: string): Promise<void> {
    const queue = this.resolve(destination);
    if (queue === undefined) {
      throw new FrostlineError('unknown-destination', `no queue for ${describe(destination)}`);
    }
    const size = Buffer.byteLength(body, 'utf8');
    if (size > this.maxMessageBytes) {
      throw new FrostlineError(
        'message-too-large',
        `message for ${describe(destination)} is ${size} bytes, over the ${this.maxMessageBytes}-byte limit`,
      );
    }
    if (SQS_FORBIDDEN.test(body)) {
      throw new FrostlineError('message-invalid-characters', `message for ${describe(destination)} has characters SQS refuses`);
    }
    queue.send(body);
  }
}

function describe(destination: Destination): string {
  switch (destination.kind) {
    case 'party':
      return `party ${destination.id}`;
    case 'coordinator':
      return 'coordinator';
    case 'initiator':
      return `initiator ${destination.id}`;
  }
}
