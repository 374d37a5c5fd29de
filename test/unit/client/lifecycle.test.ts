/**
 * `client.refresh`, `client.reshare` and `client.repair` against a fake coordinator that
 * answers with results we build: keys made with noble's trusted dealer from one secret, so
 * every epoch's public package is real and keeps the group key, and attestations signed by
 * the parties' own identity keys (or, for the refusals, by someone else's). The SDK accepts
 * a new epoch only as every new party attested it, in this request's session, with the
 * pinned group key, the requested set and threshold, and an epoch no older than the pin's;
 * after each refusal the pin is unchanged.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrostlineClient } from '../../../lib/client/client.js';
import { MemoryKeyPins } from '../../../lib/client/key-pins.js';
import { LocalKeySigner } from '../../../lib/client/signers.js';
import type { ReceivedMessage, ResultInbox } from '../../../lib/client/result-inbox.js';
import { deriveSessionId } from '../../../lib/protocol/envelope.js';
import { groupKeyOf, publicPackageHash, publicToWire } from '../../../lib/protocol/frost-wire.js';
import { COORDINATOR, MessageType, type Envelope } from '../../../lib/protocol/messages.js';
import { ed25519Suite } from '../../../lib/protocol/suite.js';
import { AUDIT, Cast, identifierOf, NOW } from '../../support/coordinator-fixtures.js';

const { frost } = ed25519Suite;
const KEY = 'k1';

/** A fixed group secret: every epoch dealt from it has the same group key. */
const SECRET = frost.utils.Fn.toBytes(123456789n);
const OTHER_SECRET = frost.utils.Fn.toBytes(987654321n);

interface Epoch {
  readonly parties: readonly string[];
  readonly threshold: number;
  readonly epoch: number;
  readonly session: string;
  /** Who signs each attestation (default: the party itself). */
  readonly signedBy?: (party: string) => string;
  readonly secret?: Uint8Array;
  readonly keygenPackageHash?: string;
}

const cast = new Cast(['p1', 'p2', 'p3', 'p4', 'p5']);
const keygenSession = deriveSessionId('cli', 'keygen-k1');
const keygenEpoch: Epoch = { parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 0, session: keygenSession };

function packageOf(e: Epoch) {
  const parties = [...e.parties].sort();
  const dealt = frost.trustedDealer({ min: e.threshold, max: parties.length }, parties.map(identifierOf), e.secret ?? SECRET);
  return publicToWire(dealt.public);
}

const keygenPackage = packageOf(keygenEpoch);
const KEYGEN_HASH = publicPackageHash(keygenPackage);
const GROUP_KEY = groupKeyOf(ed25519Suite, keygenPackage) ?? '';

/** Every party's attestation of epoch `e`: dkg.done for epoch 0, reshare.done after. */
async function attest(e: Epoch): Promise<Envelope[]> {
  const parties = [...e.parties].sort();
  const publicPackage = e.epoch === 0 ? keygenPackage : packageOf(e);
  return Promise.all(
    parties.map(async (party) => {
      const body = {
        keyId: KEY,
        suite: ed25519Suite.id,
        threshold: e.threshold,
        parties,
        groupKey: groupKeyOf(ed25519Suite, publicPackage) ?? '',
        publicPackageHash: publicPackageHash(publicPackage),
        publicPackage,
        ...(e.epoch > 0 ? { epoch: e.epoch, keygenPackageHash: e.keygenPackageHash ?? KEYGEN_HASH } : {}),
        audit: AUDIT,
      };
      const envelope = await cast.envelope(e.signedBy?.(party) ?? party, e.epoch === 0 ? MessageType.dkgDone : MessageType.reshareDone, e.session, body);
      // The sender named is the party, whoever signed it.
      return { ...envelope, from: party };
    }),
  );
}

type Answer = (request: Envelope) => Promise<Record<string, unknown> | undefined>;

/**
 * The fake coordinator: answers key.request with the current epoch's attestations and a
 * refresh/reshare request with whatever `answer` builds (undefined: never answers).
 */
class FakeCoordinator {
  current: Envelope[] = [];
  readonly requests: Envelope[] = [];
  answer: Answer = async () => undefined;
  readonly #queue: string[] = [];

  readonly transport = {
    send: async (_destination: unknown, raw: string) => {
      const request = JSON.parse(raw) as Envelope;
      this.requests.push(request);
      const body = request.body as { requestId: string; keyId: string };
      if (request.type === MessageType.keyRequest) {
        await this.#reply(MessageType.keyResult, request, { requestId: body.requestId, keyId: body.keyId, ok: true, attestations: this.current });
        return;
      }
      const answer = await this.answer(request);
      if (answer !== undefined) await this.#reply(MessageType.reshareResult, request, { requestId: body.requestId, keyId: body.keyId, ok: true, duplicate: false, ...answer });
    },
  };

  readonly inbox: ResultInbox = {
    receive: async (waitMs: number): Promise<ReceivedMessage[]> => {
      const raw = this.#queue.shift();
      if (raw === undefined) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 5)));
        return [];
      }
      return [{ body: raw, ack: async () => {}, release: async () => void this.#queue.push(raw) }];
    },
  };

  async #reply(type: typeof MessageType.keyResult | typeof MessageType.reshareResult, request: Envelope, body: Record<string, unknown>): Promise<void> {
    const envelope = await cast.envelope(COORDINATOR, type, request.session, body as never, 'cli');
    this.#queue.push(JSON.stringify(envelope));
  }
}

const initiatorKey = new LocalKeySigner(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());

/** A client pinned to the key at epoch 0 (p1, p2, p3; 2-of-3), talking to a fake coordinator. */
async function setup(options: { partyKeys?: readonly string[] } = {}) {
  const coordinator = new FakeCoordinator();
  coordinator.current = await attest(keygenEpoch);
  const pins = new MemoryKeyPins();
  const partyKeys = Object.fromEntries((options.partyKeys ?? ['p1', 'p2', 'p3', 'p4']).flatMap((p) => Object.entries(cast.directory.parties).filter(([id]) => id === p)));
  const client = new FrostlineClient({
    initiatorId: 'cli',
    signer: initiatorKey,
    coordinatorKey: cast.directory.coordinator,
    partyKeys,
    pins,
    requests: coordinator.transport,
    results: coordinator.inbox,
    clock: { now: () => NOW },
    timeoutMs: 10_000,
    pollWaitMs: 5,
  });
  await client.getKey(KEY);
  return { coordinator, pins, client };
}

/** The session the SDK derives for one of its requests. */
const sessionOf = (requestId: string) => deriveSessionId('cli', requestId);

/** Answers each lifecycle request with every new party's attestation of `epoch` (its session: the request's). */
function honest(next: Omit<Epoch, 'session'>): Answer {
  return async (request) => ({ epoch: next.epoch, attestations: await attest({ ...next, session: request.session }), threshold: next.threshold, parties: [...next.parties] });
}

describe('refresh and reshare results the SDK accepts', () => {
  it('refresh: a new epoch of the same key, same set and threshold, pinned', async () => {
    const { coordinator, pins, client } = await setup();
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 1 });
    const result = await client.refresh({ keyId: KEY, requestId: 'refresh-1' });
    expect(result).toMatchObject({ keyId: KEY, publicKey: GROUP_KEY, epoch: 1, threshold: 2, parties: ['p1', 'p2', 'p3'], duplicate: false, requestId: 'refresh-1' });
    expect(await pins.get(KEY)).toMatchObject({ epoch: 1, keygenPackageHash: KEYGEN_HASH, publicKey: GROUP_KEY });
    const sent = coordinator.requests.at(-1);
    expect(sent?.type).toBe(MessageType.refreshRequest);
    expect(sent?.body).toEqual({ requestId: 'refresh-1', keyId: KEY, epoch: 0 });
    expect(sent?.session).toBe(sessionOf('refresh-1'));
  });

  it('reshare to a new set and threshold: pinned; derived child keys unchanged (chain code of the keygen package)', async () => {
    const { coordinator, pins, client } = await setup();
    const before = await client.derivePublicKey(KEY, 'm/0/7');
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p4'], threshold: 3, epoch: 1 });
    const result = await client.reshare({ keyId: KEY, parties: ['p4', 'p2', 'p1'], threshold: 3, dealers: ['p2', 'p1'], requestId: 'add-p4' });
    expect(result).toMatchObject({ epoch: 1, threshold: 3, parties: ['p1', 'p2', 'p4'], publicKey: GROUP_KEY });
    expect(coordinator.requests.at(-1)?.body).toEqual({ requestId: 'add-p4', keyId: KEY, epoch: 0, threshold: 3, parties: ['p1', 'p2', 'p4'], dealers: ['p1', 'p2'] });
    expect((await pins.get(KEY))?.publicPackageHash).not.toBe(KEYGEN_HASH);
    expect(await client.derivePublicKey(KEY, 'm/0/7')).toEqual(before);
  });

  it('a repeated request id: the first result again is accepted (same pin)', async () => {
    const { coordinator, client } = await setup();
    const attestations = await attest({ parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 1, session: sessionOf('r') });
    coordinator.answer = async () => ({ epoch: 1, attestations });
    await client.refresh({ keyId: KEY, requestId: 'r' });
    coordinator.answer = async () => ({ epoch: 1, attestations, duplicate: true });
    await expect(client.refresh({ keyId: KEY, requestId: 'r' })).resolves.toMatchObject({ epoch: 1, duplicate: true });
  });

  it('repair: a reshare to the current set and threshold, dealt by every other party', async () => {
    const { coordinator, client } = await setup();
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 1 });
    await expect(client.repair({ keyId: KEY, party: 'p2', requestId: 'fix-p2' })).resolves.toMatchObject({ epoch: 1, parties: ['p1', 'p2', 'p3'] });
    expect(coordinator.requests.at(-1)).toMatchObject({
      type: MessageType.reshareRequest,
      body: { requestId: 'fix-p2', keyId: KEY, threshold: 2, parties: ['p1', 'p2', 'p3'], dealers: ['p1', 'p3'] },
    });
  });
});

describe('refused: UntrustedResultError naming the coordinator, pin unchanged', () => {
  const cases: [string, (request: Envelope) => Promise<Record<string, unknown>>, RegExp, { parties?: string[]; threshold?: number }?][] = [
    [
      'another group key (a dealing of another secret, signed by every new party)',
      async (request) => ({ attestations: await attest({ parties: ['p1', 'p2', 'p4'], threshold: 2, epoch: 1, session: request.session, secret: OTHER_SECRET }) }),
      /the parties attest group key [0-9a-f]{64}, "k1" is pinned to [0-9a-f]{64}/,
    ],
    [
      'an attestation by a party the client has not pinned',
      async (request) => ({ attestations: await attest({ parties: ['p1', 'p2', 'p5'], threshold: 2, epoch: 1, session: request.session }) }),
      /"p5", which is not a pinned party/,
      { parties: ['p1', 'p2', 'p5'], threshold: 2 },
    ],
    [
      'a new party\'s attestation signed by the coordinator\'s own key',
      async (request) => ({ attestations: await attest({ parties: ['p1', 'p2', 'p4'], threshold: 2, epoch: 1, session: request.session, signedBy: (p) => (p === 'p4' ? COORDINATOR : p) }) }),
      /"p4" is not signed by its pinned identity key/,
    ],
    [
      'another party set than requested (p3 kept, p4 left out)',
      async (request) => ({ attestations: await attest({ parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 1, session: request.session }) }),
      /parties attest the set p1, p2, p3, p1, p2, p4 was requested/,
    ],
    [
      'another threshold than requested',
      async (request) => ({ attestations: await attest({ parties: ['p1', 'p2', 'p4'], threshold: 3, epoch: 1, session: request.session }) }),
      /threshold 3, 2 was requested/,
    ],
    [
      'attestations of another session (an earlier reshare replayed)',
      async () => ({ attestations: await attest({ parties: ['p1', 'p2', 'p4'], threshold: 2, epoch: 1, session: sessionOf('earlier') }) }),
      /not a reshare\.done of this request's session/,
    ],
    [
      'the keygen\'s own dkg.done presented as the new epoch',
      async () => ({ attestations: await attest(keygenEpoch) }),
      /the set p1, p2, p3|not a reshare\.done/,
    ],
    [
      'another keygen package (the chain code would change)',
      async (request) => ({ attestations: await attest({ parties: ['p1', 'p2', 'p4'], threshold: 2, epoch: 1, session: request.session, keygenPackageHash: 'ab'.repeat(32) }) }),
      /another keygen package/,
    ],
    [
      'a result that names another epoch than the attested one',
      async (request) => ({ epoch: 7, attestations: await attest({ parties: ['p1', 'p2', 'p4'], threshold: 2, epoch: 1, session: request.session }) }),
      /names epoch 7, the parties attest 1/,
    ],
  ];

  it.each(cases)('reshare: %s', async (_name, answer, message, requested = { parties: ['p1', 'p2', 'p4'], threshold: 2 }) => {
    const { coordinator, pins, client } = await setup();
    const before = await pins.get(KEY);
    coordinator.answer = answer;
    await expect(client.reshare({ keyId: KEY, parties: requested.parties ?? [], threshold: requested.threshold ?? 2 })).rejects.toMatchObject({
      name: 'UntrustedResultError',
      culprit: 'coordinator',
      message: expect.stringMatching(message),
    });
    expect(await pins.get(KEY)).toEqual(before);
  });

  it('an epoch older than the pinned one (the client saw epoch 2) is refused', async () => {
    const { coordinator, pins, client } = await setup();
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 2 });
    await client.refresh({ keyId: KEY });
    const pinned = await pins.get(KEY);
    expect(pinned?.epoch).toBe(2);
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p3'], threshold: 2, epoch: 1 });
    await expect(client.refresh({ keyId: KEY })).rejects.toMatchObject({ name: 'UntrustedResultError', message: expect.stringMatching(/epoch 1, older than the pinned epoch 2/) });
    expect(await pins.get(KEY)).toEqual(pinned);
  });

  it('a key lookup that rolls the pin back to an older epoch is refused', async () => {
    const { coordinator, pins, client } = await setup();
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p4'], threshold: 2, epoch: 1 });
    await client.reshare({ keyId: KEY, parties: ['p1', 'p2', 'p4'], threshold: 2 });
    const pinned = await pins.get(KEY);
    coordinator.current = await attest(keygenEpoch); // the deleted epoch-0 set, genuinely attested back then
    await expect(client.getKey(KEY)).rejects.toMatchObject({ name: 'UntrustedResultError', message: expect.stringMatching(/epoch 0 is older/) });
    expect(await pins.get(KEY)).toEqual(pinned);
  });

  it('a refresh attested with another threshold is refused', async () => {
    const { coordinator, pins, client } = await setup();
    const before = await pins.get(KEY);
    coordinator.answer = honest({ parties: ['p1', 'p2', 'p3'], threshold: 3, epoch: 1 });
    await expect(client.refresh({ keyId: KEY })).rejects.toMatchObject({ name: 'UntrustedResultError', message: expect.stringMatching(/a refresh attested as 3-of-p1,p2,p3, the key was 2-of-p1,p2,p3/) });
    expect(await pins.get(KEY)).toEqual(before);
  });
});

describe('options, abort and timeout', () => {
  it('bad options are an InvalidArgumentError naming the field; nothing is sent', async () => {
    const { coordinator, client } = await setup();
    const sent = coordinator.requests.length;
    await expect(client.reshare({ keyId: KEY, parties: ['p1', 'p2'], threshold: 3 })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'options.threshold' });
    await expect(client.reshare({ keyId: KEY, parties: ['p1', 'p1', 'p2'], threshold: 2 })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'options.parties' });
    await expect(client.refresh({ keyId: 'Not A Name' })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'options.keyId' });
    await expect(client.repair({ keyId: KEY, party: 'p9' })).rejects.toMatchObject({ name: 'InvalidArgumentError', message: expect.stringMatching(/"p9" holds no share/) });
    // Only the repair's key lookup went out.
    expect(coordinator.requests.slice(sent).map((r) => r.type)).toEqual([MessageType.keyRequest]);
  });

  it('repair refuses when the others are fewer than the threshold', async () => {
    const { coordinator, client } = await setup();
    coordinator.current = await attest({ parties: ['p1', 'p2', 'p3'], threshold: 3, epoch: 1, session: sessionOf('x') });
    await expect(client.repair({ keyId: KEY, party: 'p3' })).rejects.toMatchObject({ name: 'InvalidArgumentError', message: expect.stringMatching(/only 2 parties remain to deal, the key's threshold is 3/) });
  });

  it('no answer: RequestTimeoutError; aborted: RequestAbortedError', async () => {
    const { client } = await setup();
    await expect(client.refresh({ keyId: KEY, timeoutMs: 50 })).rejects.toMatchObject({ name: 'RequestTimeoutError' });
    const abort = new AbortController();
    const pending = client.reshare({ keyId: KEY, parties: ['p1', 'p2', 'p4'], threshold: 2, signal: abort.signal });
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: 'RequestAbortedError' });
  });

  it('a refused request is a typed error from its code; a blamed dealer is named', async () => {
    const { coordinator, pins, client } = await setup();
    const before = await pins.get(KEY);
    coordinator.answer = async () => ({ ok: false, error: { code: 'unauthorised-initiator', message: 'p1: initiator cli may not reshare k1' } });
    await expect(client.refresh({ keyId: KEY })).rejects.toMatchObject({ name: 'PolicyRefusedError', code: 'unauthorised-initiator' });
    coordinator.answer = async () => ({ ok: false, error: { code: 'bad-dealing', message: 'p3 dealt a share off its commitments', blame: ['p3'] } });
    await expect(client.reshare({ keyId: KEY, parties: ['p1', 'p2', 'p4'], threshold: 2 })).rejects.toMatchObject({ name: 'BadDealingError', code: 'bad-dealing', blame: ['p3'] });
    expect(await pins.get(KEY)).toEqual(before);
  });
});
