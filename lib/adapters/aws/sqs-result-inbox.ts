/** An initiator's result queue on SQS, with the SDK's ResultInbox shape (long polling). */
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ReceivedMessage, ResultInbox } from '../../ports/result-inbox.js';
import { infrastructureError } from './errors.js';

/** SQS long polls for at most 20 s. */
const MAX_WAIT_SECONDS = 20;

export class SqsResultInbox implements ResultInbox {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async receive(waitMs: number): Promise<ReceivedMessage[]> {
    let output;
    try {
      output = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.round(waitMs / 1000))),
        }),
      );
    } catch (error) {
      throw infrastructureError('sqs:ReceiveMessage', error);
    }
    return (output.Messages ?? []).flatMap((message) => {
      const { Body: body, ReceiptHandle: handle } = message;
      if (body === undefined || handle === undefined) return [];
      return [
        {
          body,
          ack: async () => {
            try {
              await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: handle }));
            } catch (error) {
              throw infrastructureError('sqs:DeleteMessage', error);
            }
          },
          release: async () => {
            try {
              await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }));
            } catch (error) {
              throw infrastructureError('sqs:ChangeMessageVisibility', error);
            }
          },
        },
      ];
    });
  }
}
