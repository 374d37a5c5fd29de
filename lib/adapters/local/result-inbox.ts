/** An initiator's result queue on the local adapters, with the SDK's ResultInbox shape. */
import type { ReceivedMessage, ResultInbox } from '../../ports/result-inbox.js';
import type { LocalQueue } from './queue.js';

const POLL_INTERVAL_MS = 5;

export class LocalResultInbox implements ResultInbox {
  constructor(private readonly queue: LocalQueue) {}

  async receive(waitMs: number): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const batch = this.queue.receive(10);
      if (batch.length > 0 || Date.now() >= deadline) {
        return batch.map((message) => ({
          body: message.body,
          ack: async () => {
            this.queue.delete(message.receiptHandle);
          },
          release: async () => {
            this.queue.changeVisibility(message.receiptHandle, 0);
          },
        }));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, Math.max(deadline - Date.now(), 1))));
    }
  }
}
