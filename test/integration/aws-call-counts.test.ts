/**
 * The AWS calls of one keygen and one 2-of-3 signature through the real handlers on the
 * emulator, counted by SDK middleware (bench/aws.ts, `npm run bench -- --aws`), pinned
 * exactly: a change that adds a KMS, DynamoDB or SQS call, or a queue hop, fails here.
 * Counts, never times. When a change removes calls on purpose, lower the numbers here and
 * update README.md ("Cost on AWS"). The AWS wiring signs with delegated keys (its default).
 */
import { describe, expect, inject, it } from 'vitest';
import { callsOf, measureAwsPath } from '../../bench/aws.js';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const endpoint = inject('emulatorEndpoint');

describe('AWS calls per operation on the emulator', () => {
  it('a 2-of-3 signature and a keygen make exactly the pinned calls', async () => {
    const measured = await measureAwsPath({ endpoint, signatures: 2 });
    // Envelopes of the signing path are signed by delegated keys (lib/protocol/delegation.ts):
    // the first signature after keygen certifies one key per node that sends (the coordinator
    // and the three parties asked to commit), each one KMS Sign; later ones, within half a
    // certificate lifetime (5 minutes), make none.
    const signature = {
      hops: 6,
      kms: { Decrypt: 7, GenerateDataKey: 3 },
      dynamodb: { BatchGetItem: 14, GetItem: 2, PutItem: 15, TransactWriteItems: 7 },
      sqs: { SendMessage: 12 },
    };
    const [first, ...warm] = measured.signatures.map(callsOf);
    expect(first).toEqual({ ...signature, kms: { ...signature.kms, Sign: 4 } });
    expect(warm).toHaveLength(1);
    for (const run of warm) expect(run).toEqual(signature);
    expect(callsOf(measured.keygen)).toEqual({
      hops: 8,
      kms: { Decrypt: 6, GenerateDataKey: 6, Sign: 22 },
      dynamodb: { BatchGetItem: 22, GetItem: 1, PutItem: 31, TransactWriteItems: 16 },
      sqs: { SendMessage: 23 },
    });
    // The baseline it is compared with: one KMS Sign, the request and the result.
    for (const run of measured.baseline) expect(callsOf(run)).toEqual({ hops: 2, kms: { Sign: 1 }, dynamodb: {}, sqs: { SendMessage: 2 } });
  });

  it('without delegated keys every envelope of a signature is one KMS Sign (11), as before', async () => {
    const measured = await measureAwsPath({ endpoint, signatures: 1, delegatedKeys: false });
    for (const run of measured.signatures) {
      expect(callsOf(run)).toEqual({
        hops: 6,
        kms: { Decrypt: 7, GenerateDataKey: 3, Sign: 11 },
        dynamodb: { BatchGetItem: 14, GetItem: 2, PutItem: 15, TransactWriteItems: 7 },
        sqs: { SendMessage: 12 },
      });
    }
  });
});
