/**
 * What the AWS SDK layer bundles in place of `@smithy/core/event-streams` (an esbuild alias
 * in cdk/handler-bundling.ts; nothing imports this module directly). The SDK loads event
 * stream support with a dynamic import, only for an operation that streams events; KMS,
 * DynamoDB and SQS have none, but esbuild cannot know that and bundled all of it (~15 KiB).
 * Gives up nothing the handlers can reach; were an event-stream operation ever called, it
 * fails with this error rather than without a trace.
 */
function unavailable(): never {
  throw new Error('AWS SDK event streams are not in the frostline AWS SDK layer (see functions/sdk-layer/no-event-streams.ts)');
}

export class EventStreamSerde {
  constructor() {
    unavailable();
  }
}

export const eventStreamSerdeProvider = (): never => unavailable();
