/** Where a message goes. Each party, the coordinator and each initiator has its own inbox. */
export type Destination =
  | { readonly kind: 'party'; readonly id: string }
  | { readonly kind: 'coordinator' }
  | { readonly kind: 'initiator'; readonly id: string };

export interface Transport {
  /** Enqueues one serialized envelope. Delivery is at least once. */
  send(destination: Destination, body: string): Promise<void>;
}
