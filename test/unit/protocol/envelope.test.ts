import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyVault } from '../../../lib/adapters/local/file-key-vault.js';
import { RefusalCode } from '../../../lib/ports/errors.js';
import { DEFAULT_LIMITS, type Directory, type Role } from '../../../lib/protocol/directory.js';
import {
  assertJsonShape,
  authenticateEnvelope,
  createEnvelope,
  JSON_SHAPE_LIMITS,
  envelopeSigningInput,
  parseBody,
  signEnvelope,
  type InboundPolicy,
} from '../../../lib/protocol/envelope.js';
import { MessageType, type Envelope, type MessageType as MessageTypeT } from '../../../lib/protocol/messages.js';
import { Scratch } from '../../support/harness.js';
import { refusal } from '../../support/refusal.js';

const scratch = new Scratch();
let coordinator: FileKeyVault;
let p1: FileKeyVault;
let stranger: FileKeyVault;
let directory: Directory;
const SESSION = 'ab'.repeat(16);
const NOW = 1_800_000_000_000;

beforeAll(async () => {
  const dir = await scratch.dir();
  coordinator = await FileKeyVault.open(join(dir, 'coordinator'));
  p1 = await FileKeyVault.open(join(dir, 'p1'));
  stranger = await FileKeyVault.open(join(dir, 'stranger'));
  directory = {
    coordinator: await coordinator.identityPublicKey(),
    parties: { p1: await p1.identityPublicKey() },
    initiators: {},
  };
});
afterAll(() => scratch.cleanup());

/** What party p1 applies to its inbox: everything it accepts comes from the coordinator. */
function partyPolicy(overrides: Partial<InboundPolicy> = {}): InboundPolicy {
  return {
    self: 'p1',
    directory,
    limits: DEFAULT_LIMITS,
    now: NOW,
    senderRole: (type: MessageTypeT): Role | undefined => (type === MessageType.signCommit ? 'coordinator' : undefined),
    ...overrides,
  };
}

function signCommit(fields: Partial<{ from: string; to: string; ts: number; body: unknown }> = {}) {
  return createEnvelope(coordinator, fields.ts ?? NOW, {
    type: MessageType.signCommit,
    session: SESSION,
    from: fields.from ?? 'coordinator',
    to: fields.to ?? 'p1',
    body: (fields.body ?? { attempt: 1, request: { hello: 'world' } }) as never,
  });
}

/** Re-serialises with every object's keys in reverse order (same content, other bytes). */
function reversedJson(value: unknown): string {
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).reverse().map(([k, x]) => [k, reorder(x)]));
    }
    return v;
  };
  return JSON.stringify(reorder(value));
}

describe('envelope signing', () => {
  it('round-trips: a signed envelope authenticates and comes back field for field', async () => {
    const envelope = await signCommit();
    expect(authenticateEnvelope(JSON.stringify(envelope), partyPolicy())).toEqual(envelope);
  });

  it('signs the canonical form: the same content with keys in another order still verifies', async () => {
    const envelope = await signCommit({ body: { request: { z: 1, a: [{ y: 2, b: 3 }] }, attempt: 1 } });
    const reordered = reversedJson(envelope);
    expect(reordered).not.toBe(JSON.stringify(envelope));
    expect(authenticateEnvelope(reordered, partyPolicy())).toEqual(envelope);
    const { sig: _sig, ...unsigned } = envelope;
    const { sig: _sig2, ...unsignedReordered } = JSON.parse(reordered) as Envelope;
    expect(envelopeSigningInput(unsignedReordered)).toEqual(envelopeSigningInput(unsigned));
  });

  it('covers every field: changing any field after signing breaks the signature', async () => {
    const envelope = await signCommit();
    const changes: Array<Partial<Envelope>> = [
      { body: { attempt: 2, request: { hello: 'world' } } },
      { session: 'cd'.repeat(16) },
      { id: '00'.repeat(16) },
      { ts: NOW - 1 },
    ];
    for (const change of changes) {
      const error = refusal(() => authenticateEnvelope(JSON.stringify({ ...envelope, ...change }), partyPolicy()));
      expect(error.code).toBe(RefusalCode.badSignature);
    }
  });
});

describe('envelope refusals', () => {
  it('refuses a tampered body with bad-signature', async () => {
    const envelope = await signCommit();
    const raw = JSON.stringify({ ...envelope, body: { attempt: 1, request: { hello: 'mallory' } } });
    expect(refusal(() => authenticateEnvelope(raw, partyPolicy())).code).toBe(RefusalCode.badSignature);
  });

  it('refuses a signature by the wrong key, and a valid signature over other content', async () => {
    const envelope = await signCommit();
    const { sig: _sig, ...unsigned } = envelope;
    const forged = await signEnvelope(stranger, unsigned);
    expect(refusal(() => authenticateEnvelope(JSON.stringify(forged), partyPolicy())).code).toBe(RefusalCode.badSignature);
    const other = await signCommit({ body: { attempt: 3, request: {} } });
    const transplanted = { ...envelope, sig: other.sig };
    expect(refusal(() => authenticateEnvelope(JSON.stringify(transplanted), partyPolicy())).code).toBe(RefusalCode.badSignature);
  });

  it('refuses an unknown sender with unknown-sender', async () => {
    // A party inbox at the coordinator: dkg.round1 comes from parties; "p9" is nobody.
    const envelope = await createEnvelope(stranger, NOW, {
      type: MessageType.dkgRound1,
      session: SESSION,
      from: 'p9',
      to: 'coordinator',
      body: {} as never,
    });
    const policy = partyPolicy({ self: 'coordinator', senderRole: () => 'party' });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(envelope), policy)).code).toBe(RefusalCode.unknownSender);
    // A party name claiming to be the coordinator is just as unknown.
    const impostor = await signCommit({ from: 'p1' });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(impostor), partyPolicy())).code).toBe(RefusalCode.unknownSender);
  });

  it('refuses a message addressed to someone else with wrong-recipient', async () => {
    const envelope = await signCommit({ to: 'p2' });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(envelope), partyPolicy())).code).toBe(RefusalCode.wrongRecipient);
  });

  it('refuses a message type the receiver does not accept with wrong-round', async () => {
    const envelope = await createEnvelope(coordinator, NOW, {
      type: MessageType.signResult,
      session: SESSION,
      from: 'coordinator',
      to: 'p1',
      body: {} as never,
    });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(envelope), partyPolicy())).code).toBe(RefusalCode.wrongRound);
  });

  it('refuses a stale message: too old, and too far in the future', async () => {
    const { maxMessageAgeMs, maxClockSkewMs } = DEFAULT_LIMITS;
    const old = await signCommit({ ts: NOW - maxMessageAgeMs - 1 });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(old), partyPolicy())).code).toBe(RefusalCode.stale);
    const future = await signCommit({ ts: NOW + maxClockSkewMs + 1 });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(future), partyPolicy())).code).toBe(RefusalCode.stale);
    // The edges themselves are still accepted.
    const oldest = await signCommit({ ts: NOW - maxMessageAgeMs });
    expect(authenticateEnvelope(JSON.stringify(oldest), partyPolicy()).ts).toBe(NOW - maxMessageAgeMs);
    const latest = await signCommit({ ts: NOW + maxClockSkewMs });
    expect(authenticateEnvelope(JSON.stringify(latest), partyPolicy()).ts).toBe(NOW + maxClockSkewMs);
  });

  it('refuses text that is not JSON with malformed', () => {
    for (const raw of ['', '{', 'not json', '{"v":1,}']) {
      expect(refusal(() => authenticateEnvelope(raw, partyPolicy())).code).toBe(RefusalCode.malformed);
    }
  });

  it('refuses wrong types and unknown fields (strict schema), even when correctly signed', async () => {
    const envelope = await signCommit();
    const { sig: _sig, ...unsigned } = envelope;
    const variants: unknown[] = [
      { ...unsigned, ts: String(NOW) },
      { ...unsigned, v: 2 },
      { ...unsigned, id: 'AB'.repeat(16) },
      { ...unsigned, session: 'ab' },
      { ...unsigned, type: 'sign.nonsense' },
      { ...unsigned, from: 'Coordinator' },
      { ...unsigned, ts: -1 },
      { ...unsigned, extra: 'field' },
      [unsigned],
      null,
    ];
    for (const variant of variants) {
      // Signed by the genuine coordinator key: the schema, not the signature, must stop these.
      const signed = Array.isArray(variant) || variant === null ? variant : await signEnvelope(coordinator, variant as never);
      const error = refusal(() => authenticateEnvelope(JSON.stringify(signed), partyPolicy()));
      expect(error.code, JSON.stringify(variant)).toBe(RefusalCode.malformed);
    }
  });

  it('refuses a body with an unknown field or a wrong type (strict body schema)', async () => {
    const request = await createEnvelope(coordinator, NOW, { type: MessageType.signRequest, session: SESSION, from: 'cli', to: 'coordinator', body: { requestId: 'r1', keyId: 'k1', message: '00' } });
    const good = await signCommit({ body: { request, attempt: 1 } });
    expect(parseBody(good, MessageType.signCommit).attempt).toBe(1);
    const extra = await signCommit({ body: { request, attempt: 1, message: 'ff' } });
    expect(refusal(() => parseBody(extra, MessageType.signCommit)).code).toBe(RefusalCode.malformed);
    const wrongType = await signCommit({ body: { request, attempt: '1' } });
    expect(refusal(() => parseBody(wrongType, MessageType.signCommit)).code).toBe(RefusalCode.malformed);
    expect(refusal(() => parseBody(good, MessageType.signPackage)).code).toBe(RefusalCode.wrongRound);
  });

  it('refuses an oversized message with oversized before parsing it', async () => {
    const limits = { ...DEFAULT_LIMITS, maxEnvelopeBytes: 2048 };
    const big = await signCommit({ body: { attempt: 1, request: { pad: 'x'.repeat(4096) } } });
    expect(refusal(() => authenticateEnvelope(JSON.stringify(big), partyPolicy({ limits }))).code).toBe(RefusalCode.oversized);
    // Size is checked first: oversized garbage is not even parsed.
    expect(refusal(() => authenticateEnvelope('{'.repeat(4096), partyPolicy({ limits }))).code).toBe(RefusalCode.oversized);
    // Multi-byte characters count as bytes, not as UTF-16 units.
    const wide = '\u20ac'.repeat(700); // 2100 bytes, 700 units
    expect(refusal(() => authenticateEnvelope(wide, partyPolicy({ limits }))).code).toBe(RefusalCode.oversized);
    const small = await signCommit();
    expect(authenticateEnvelope(JSON.stringify(small), partyPolicy({ limits }))).toEqual(small);
  });

});

describe('envelope shape limits (before the schema and canonicalisation walk the tree)', () => {
  /** `levels` arrays, each inside the one before. */
  const nested = (levels: number): unknown => {
    let value: unknown = [];
    for (let i = 1; i < levels; i++) value = [value];
    return value;
  };

  it('accepts a correctly signed body nested to the depth limit and refuses one level more as malformed', async () => {
    // The envelope is level 1 and its body level 2.
    const deepest = await signCommit({ body: nested(JSON_SHAPE_LIMITS.maxDepth - 1) });
    expect(authenticateEnvelope(JSON.stringify(deepest), partyPolicy())).toEqual(deepest);
    const deeper = await signCommit({ body: nested(JSON_SHAPE_LIMITS.maxDepth) });
    const error = refusal(() => authenticateEnvelope(JSON.stringify(deeper), partyPolicy()));
    expect(error.code).toBe(RefusalCode.malformed);
    expect(error.message).toContain(`deeper than ${JSON_SHAPE_LIMITS.maxDepth}`);
  });

  it('counts every value, nested or not, against the node limit', () => {
    const limits = { maxDepth: 10, maxNodes: 5 };
    expect(() => assertJsonShape({ a: [1, 2], b: null }, limits)).not.toThrow(); // 5 values
    expect(refusal(() => assertJsonShape({ a: [1, 2], b: null, c: 'x' }, limits)).code).toBe(RefusalCode.malformed);
    expect(refusal(() => assertJsonShape([[[[[[[[[[[]]]]]]]]]]], limits)).code).toBe(RefusalCode.malformed);
  });

  it('turns an unexpected error on the way to the signature check into malformed, not a throw', () => {
    // JSON accepts 1e400 (Infinity), RFC 8785 canonicalisation does not.
    const raw = `{"v":1,"type":"sign.commit","session":"${SESSION}","id":"${'00'.repeat(16)}","from":"coordinator","to":"p1","ts":${NOW},"body":{"attempt":1e400},"sig":"${'00'.repeat(64)}"}`;
    const error = refusal(() => authenticateEnvelope(raw, partyPolicy()));
    expect(error.code).toBe(RefusalCode.malformed);
    expect(error.cause).toBeInstanceOf(Error);
  });
});
