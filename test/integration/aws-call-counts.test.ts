/**
 * The AWS calls of one keygen and one 2-of-3 signature through the real handlers on the
 * emulator, counted by SDK middleware (bench/aws.ts, `npm run bench -- --aws`), pinned
 * exactly: a change that adds a KMS, DynamoDB or SQS call, or a queue hop, fails here.
 * Counts, never times. When a change removes calls on purpose, lower the numbers here and
 * update README.md ("Cost on AWS").
 */
import { describe, expect, inject, it } from 'vitest';
import { callsOf, measureAwsPath } from '../../bench/aws.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');

describe('AWS calls per operation on the emulator', () => {
  it('a 2-of-3 signature and a keygen make exactly the pinned calls', async () => {
    const measured = await measureAwsPath({ endpoint, signatures: 2 });
    const signature = {
      hops: 6,
      kms: { Decrypt: 7, GenerateDataKey: 3, Sign: 11 },
      dynamodb: { BatchGetItem: 14, GetItem: 2, PutItem: 15, TransactWriteItems: 7 },
      sqs: { SendMessage: 12 },
    };
    for (const run of measured.signatures) expect(callsOf(run)).toEqual(signature);
    expect(callsOf(measured.keygen)).toEqual({
      hops: 8,
      kms: { Decrypt: 6, GenerateDataKey: 6, Sign: 22 },
      dynamodb: { BatchGetItem: 22, GetItem: 1, PutItem: 31, TransactWriteItems: 16 },
      sqs: { SendMessage: 23 },
    });
    // The baseline it is compared with: one KMS Sign, the request and the result.
    for (const run of measured.baseline) expect(callsOf(run)).toEqual({ hops: 2, kms: { Sign: 1 }, dynamodb: {}, sqs: { SendMessage: 2 } });
  });
});
