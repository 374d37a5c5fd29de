/** Where an initiator's results arrive: its own queue, never shared with another initiator (SQS, or a local queue). */
export interface ReceivedMessage {
  readonly body: string;
  /** Removes the message: it was ours and has been handled. */
  ack(): Promise<void>;
  /** Makes the message visible again at once: it belongs to another client of this initiator. */
  release(): Promise<void>;
}

export interface ResultInbox {
  /** Waits up to `waitMs` for messages (long poll); returns an empty list on timeout. */
  receive(waitMs: number): Promise<ReceivedMessage[]>;
}
