/**
 * Transport on SQS standard queues: one inbox queue per party, coordinator and initiator.
 * A destination in another account is addressed by its full queue URL; the owner's queue
 * policy must allow this account's `sqs:SendMessage`.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { FrostlineError } from '../../ports/errors.js';
import type { Destination, Transport } from '../../ports/transport.js';
import { infrastructureError } from './errors.js';

/**
 * The largest body sent, in UTF-8 bytes. SQS now accepts 1 MiB, but emulators and older
 * regions stop at 256 KiB; staying under the lower limit works everywhere.
 */
export const SQS_MAX_MESSAGE_BYTES = 262_144;

/** Characters SQS accepts in a message body (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html). */
const SQS_INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Maps a destination to its queue URL; throws (e.g. ConfigError) for an unknown one. */
export type QueueUrlResolver = (destination: Destination) => string;

export class SqsTransport implements Transport {
  constructor(
    private readonly client: SQSClient,
    private readonly resolveQueueUrl: QueueUrlResolver,
  ) {}

  async send(destination: Destination, body: string): Promise<void> {
    const bytes = new TextEncoder().encode(body).length;
    // Refused before sending: SQS would reject it anyway, after the caller had committed
    // to the send; this way the error is immediate and names the size.
    if (bytes > SQS_MAX_MESSAGE_BYTES) {
      throw new FrostlineError(
        'message-too-large',
        `message to ${describe(destination)} is ${bytes} bytes; the limit is ${SQS_MAX_MESSAGE_BYTES}`,
      );
    }
    if (bytes === 0) throw new FrostlineError('malformed', `empty message to ${describe(destination)}`);
    if (SQS_INVALID_CHARACTER.test(body)) {
      throw new FrostlineError('malformed', `message to ${describe(destination)} has characters SQS does not accept`);
    }
    const queueUrl = this.resolveQueueUrl(destination);
    try {
      await this.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    } catch (error) {
      throw infrastructureError('sqs:SendMessage', error);
    }
  }
}

function describe(destination: Destination): string {
  return destination.kind === 'coordinator' ? 'coordinator' : `${destination.kind} ${destination.id}`;
}
