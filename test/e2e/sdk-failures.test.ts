/**
 * The SDK never takes its host process down: every way a call can end — abort before or
 * during the send, a timeout shorter than the send, a transport that throws or rejects —
 * reaches the caller's promise as a typed error, and no promise is left to reject
 * unobserved (a process-level 'unhandledRejection' trap sees none). And bad options from
 * an application are an `InvalidArgumentError` naming the field, before anything is sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { LocalCluster, type Interceptor } from '../../lib/dev/cluster.js';
import { FrostlineClient } from '../../lib/client/client.js';
import { InvalidArgumentError, RequestAbortedError, RequestTimeoutError } from '../../lib/client/errors.js';
import { LocalResultInbox } from '../../lib/adapters/local/result-inbox.js';
import { LocalQueue } from '../../lib/adapters/local/queue.js';
import { systemClock } from '../../lib/ports/clock.js';
import { FrostlineError } from '../../lib/ports/errors.js';
import * as publicApi from '../../lib/index.js';

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the initiator's transport does with its next sends; the default delivers. */
let onInitiatorSend: ((body: string) => Promise<string[]>) | undefined;
let initiatorSends = 0;
const intercept: Interceptor = async ({ from, body }) => {
  if (from !== 'alice') return [body];
  initiatorSends++;
  return onInitiatorSend === undefined ? [body] : onInitiatorSend(body);
};

let dataDir: string;
let cluster: LocalCluster;
const unhandled: unknown[] = [];
const trap = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'frostline-sdk-failures-'));
  cluster = await LocalCluster.open({ dataDir, parties: 3, initiators: ['alice'], intercept });
  cluster.serve();
  await cluster.client('alice').keygen({ keyId: 'k1', threshold: 2, parties: ['p1', 'p2', 'p3'] });
});

afterAll(async () => {
  await cluster.close();
  await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  unhandled.length = 0;
  initiatorSends = 0;
  onInitiatorSend = undefined;
  process.on('unhandledRejection', trap);
});

afterEach(async () => {
  // Long enough for a rejection left behind (a timer of 1 ms, a send of 30 ms) to surface.
  await sleep(100);
  process.removeListener('unhandledRejection', trap);
  onInitiatorSend = undefined;
  expect(unhandled).toEqual([]);
});

/** A client whose key is pinned already, so `sign` sends one request (its own). */
async function pinnedClient(options: { timeoutMs?: number } = {}): Promise<FrostlineClient> {
  const client = cluster.client('alice', options);
  await client.getKey('k1');
  initiatorSends = 0;
  return client;
}

/** The send takes `ms` (a slow queue) and then delivers, or fails with `error`. */
function slowSend(ms: number, error?: Error): (body: string) => Promise<string[]> {
  return async (body) => {
    await sleep(ms);
    if (error !== undefined) throw error;
    return [body];
  };
}

describe('every failure of an SDK call reaches the caller, none is unhandled', () => {
  test('aborted before the send: RequestAbortedError, nothing sent', async () => {
    const client = await pinnedClient();
    const controller = new AbortController();
    controller.abort();
    await expect(client.sign({ keyId: 'k1', message: encoder.encode('x'), signal: controller.signal })).rejects.toBeInstanceOf(RequestAbortedError);
    expect(initiatorSends).toBe(0);
  });

  test('aborted while the request is being sent: RequestAbortedError', async () => {
    const client = await pinnedClient();
    const controller = new AbortController();
    onInitiatorSend = async (body) => {
      controller.abort();
      return slowSend(30)(body);
    };
    await expect(client.sign({ keyId: 'k1', message: encoder.encode('x'), signal: controller.signal })).rejects.toBeInstanceOf(RequestAbortedError);
  });

  test('timeoutMs: 1 with a send that takes longer: RequestTimeoutError, for sign and for the key lookup it starts with', async () => {
    onInitiatorSend = slowSend(30);
    const client = await pinnedClient();
    onInitiatorSend = slowSend(30);
    await expect(client.sign({ keyId: 'k1', message: encoder.encode('x'), timeoutMs: 1 })).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(cluster.client('alice').sign({ keyId: 'k1', message: encoder.encode('x'), timeoutMs: 1 })).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(cluster.client('alice', { timeoutMs: 1 }).keygen({ keyId: 'k2', threshold: 2, parties: ['p1', 'p2'] })).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  test('AbortSignal.timeout(1) with a send that takes longer: RequestAbortedError', async () => {
    const client = await pinnedClient();
    onInitiatorSend = slowSend(30);
    await expect(client.sign({ keyId: 'k1', message: encoder.encode('x'), signal: AbortSignal.timeout(1) })).rejects.toBeInstanceOf(RequestAbortedError);
    await expect(cluster.client('alice').getKey('k1', { signal: AbortSignal.timeout(1) })).rejects.toBeInstanceOf(RequestAbortedError);
  });

  test('a transport that rejects: its error, and a later call on the same client works', async () => {
    const client = await pinnedClient();
    onInitiatorSend = async () => {
      throw new Error('queue unavailable');
    };
    await expect(client.sign({ keyId: 'k1', message: encoder.encode('x') })).rejects.toThrow('queue unavailable');
    onInitiatorSend = undefined;
    const signed = await client.sign({ keyId: 'k1', message: encoder.encode('x') });
    expect(signed.signature).toHaveLength(64);
  });

  test('a transport that rejects after the timeout fired: the timeout, and the late rejection is observed', async () => {
    const client = await pinnedClient();
    onInitiatorSend = slowSend(30, new Error('queue unavailable'));
    await expect(client.sign({ keyId: 'k1', message: encoder.encode('x'), timeoutMs: 1 })).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  test('a transport that throws synchronously, and a result inbox that fails: errors reach the caller', async () => {
    const signer = cluster.vaults.get('alice');
    if (signer === undefined) throw new Error('no vault for alice');
    const results = new LocalQueue('unused', { clock: systemClock, visibilityTimeoutMs: 100, maxReceiveCount: 5 });
    const client = new FrostlineClient({
      initiatorId: 'alice',
      signer,
      coordinatorKey: cluster.directory.coordinator,
      partyKeys: cluster.directory.parties,
      requests: {
        send() {
          throw new Error('no route to the queue');
        },
      },
      results: new LocalResultInbox(results),
    });
    await expect(client.getKey('k1')).rejects.toThrow('no route to the queue');

    const failingInbox = new FrostlineClient({
      initiatorId: 'alice',
      signer,
      coordinatorKey: cluster.directory.coordinator,
      partyKeys: cluster.directory.parties,
      requests: { send: async () => {} },
      results: {
        receive: async () => {
          throw new Error('receive failed');
        },
      },
      pollWaitMs: 5,
      timeoutMs: 50,
    });
    await expect(failingInbox.getKey('k1')).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});

describe('invalid options are an InvalidArgumentError naming the field, and nothing is sent', () => {
  async function invalid(call: () => Promise<unknown>): Promise<InvalidArgumentError> {
    try {
      await call();
    } catch (error) {
      if (error instanceof InvalidArgumentError) return error;
      throw error;
    }
    throw new Error('the call succeeded');
  }

  test('keygen', async () => {
    const client = cluster.client('alice');
    const loose = client as unknown as { keygen(options: unknown): Promise<unknown> };
    const error = await invalid(() => loose.keygen({ parties: 3 }));
    expect(error).toBeInstanceOf(FrostlineError);
    expect(error).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument', field: 'options.keyId' });
    expect(error.message).toMatch(/^keygen: options\.keyId: is required; options\.threshold: is required; options\.parties: expected an array of party ids$/);
    expect(error.message).not.toMatch(/\n/);

    expect(await invalid(() => loose.keygen({ keyId: 'k3', threshold: 2, parties: 3 }))).toMatchObject({ field: 'options.parties' });
    expect((await invalid(() => client.keygen({ keyId: 'k3', threshold: 3, parties: ['p1', 'p2'] }))).message).toBe(
      'keygen: options.threshold: is larger than the number of parties',
    );
    expect(await invalid(() => client.keygen({ keyId: 'K 3', threshold: 2, parties: ['p1', 'p2'] }))).toMatchObject({ field: 'options.keyId' });
    expect(await invalid(() => client.keygen({ keyId: 'k3', threshold: 2, parties: ['p1', 'p1'] }))).toMatchObject({ field: 'options.parties' });
    expect(initiatorSends).toBe(0);
  });

  test('sign: message, request id, timeouts, signal and unknown options', async () => {
    const client = cluster.client('alice');
    const loose = client as unknown as { sign(options: unknown): Promise<unknown> };
    expect(await invalid(() => loose.sign({ keyId: 'k1', message: 'hello' }))).toMatchObject({ field: 'options.message' });
    expect(await invalid(() => client.sign({ keyId: 'k1', message: encoder.encode('x'), requestId: 'has space' }))).toMatchObject({ field: 'options.requestId' });
    expect(await invalid(() => client.sign({ keyId: 'k1', message: encoder.encode('x'), timeoutMs: 0 }))).toMatchObject({ field: 'options.timeoutMs' });
    // Above 2^31-1 ms Node fires a timer at once: refused rather than timing out immediately.
    expect(await invalid(() => client.sign({ keyId: 'k1', message: encoder.encode('x'), timeoutMs: 2 ** 31 }))).toMatchObject({ field: 'options.timeoutMs' });
    expect(await invalid(() => loose.sign({ keyId: 'k1', message: encoder.encode('x'), signal: 'soon' }))).toMatchObject({ field: 'options.signal' });
    const typo = await invalid(() => loose.sign({ keyId: 'k1', message: encoder.encode('x'), requestID: 'order-1' }));
    expect(typo.message).toBe('sign: options: unknown option requestID');
    // The message's bytes are never echoed.
    const secret = await invalid(() => loose.sign({ keyId: 'k1', message: 'wire 1,000,000 to mallory' }));
    expect(secret.message).not.toContain('mallory');
    expect(initiatorSends).toBe(0);
  });

  test('getKey, pinnedKey and the constructor', async () => {
    const client = cluster.client('alice');
    const loose = client as unknown as { getKey(keyId: unknown, options?: unknown): Promise<unknown>; pinnedKey(keyId: unknown): Promise<unknown> };
    expect((await invalid(() => loose.getKey(42))).message).toMatch(/^getKey: keyId: /);
    expect(await invalid(() => loose.getKey('k1', { timeoutMs: -1 }))).toMatchObject({ field: 'options.timeoutMs' });
    expect(await invalid(() => loose.pinnedKey(undefined))).toMatchObject({ field: 'keyId' });
    expect(initiatorSends).toBe(0);

    const construct = (options: unknown) => () => new FrostlineClient(options as ConstructorParameters<typeof FrostlineClient>[0]);
    expect(construct({ initiatorId: 'alice' })).toThrow(InvalidArgumentError);
    expect(construct({ initiatorId: 'alice' })).toThrow(/^new FrostlineClient: options\.signer: expected an object with signIdentity\(\) and identityPublicKey\(\)/);
  });

  test('InvalidArgumentError is part of the public API', () => {
    expect(publicApi.InvalidArgumentError).toBe(InvalidArgumentError);
  });
});
