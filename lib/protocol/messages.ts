/**
 * Wire format. Every message on every queue is one envelope, validated here before
 * anything else reads it; unknown fields are refused (strict objects), and every byte
 * string is lower-case hex of a known length.
 */
import * as z from 'zod/mini';
import { hex, Hex32, hexUpTo } from './schema-atoms.js';

export { Hex32 } from './schema-atoms.js';
import { ElementHex, PublicKeyHex, ScalarHex, SealedScalarHex, SignatureHex } from './schema-atoms.js';

export const PROTOCOL_VERSION = 1;

/** Party, initiator and key names: short, printable, safe in keys, logs and ARNs. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const Name = z.string().check(z.regex(NAME_PATTERN, 'expected a name of a-z, 0-9 and "-" (at most 63)'));
export const COORDINATOR = 'coordinator';
export const RequestId = z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected 1-128 of A-Z a-z 0-9 . _ : -'));

export const MessageType = {
  keygenRequest: 'keygen.request',
  signRequest: 'sign.request',
  dkgStart: 'dkg.start',
  dkgRound1: 'dkg.round1',
  dkgRound2: 'dkg.round2',
  dkgShares: 'dkg.shares',
  dkgRound3: 'dkg.round3',
  dkgDone: 'dkg.done',
  dkgConfirm: 'dkg.confirm',
  dkgAbort: 'dkg.abort',
  signCommit: 'sign.commit',
  signCommitment: 'sign.commitment',
  signPackage: 'sign.package',
  signShare: 'sign.share',
  partyRefused: 'party.refused',
  keygenResult: 'keygen.result',
  signResult: 'sign.result',
  keyRequest: 'key.request',
  keyResult: 'key.result',
  refreshRequest: 'refresh.request',
  reshareRequest: 'reshare.request',
  reshareStart: 'reshare.start',
  reshareRound1: 'reshare.round1',
  reshareDeal: 'reshare.deal',
  reshareDealing: 'reshare.dealing',
  reshareShares: 'reshare.shares',
  reshareDone: 'reshare.done',
  reshareConfirm: 'reshare.confirm',
  reshareAbort: 'reshare.abort',
  reshareResult: 'reshare.result',
  poolRefill: 'pool.refill',
  poolBatch: 'pool.batch',
  signPooled: 'sign.pooled',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * What initiators send: keygen and sign requests, and public-key lookups. Request intake
 * admits these only (lib/lambda/handlers.ts).
 */
export const INITIATOR_REQUEST_TYPES: ReadonlySet<MessageType> = new Set([
  MessageType.keygenRequest,
  MessageType.signRequest,
  MessageType.keyRequest,
  MessageType.refreshRequest,
  MessageType.reshareRequest,
]);

/**
 * A short-lived message-signing key certified by its holder's identity key
 * (lib/protocol/delegation.ts): `sig` is the identity signature over the rest.
 */
export const DelegationCertificateSchema = z.strictObject({
  v: z.literal(1),
  purpose: z.literal('frostline/delegation/v1'),
  holder: Name,
  role: z.enum(['party', 'coordinator']),
  /** Raw Ed25519 public key. */
  publicKey: hex(32),
  notBefore: z.number().check(z.int(), z.nonnegative()),
  expires: z.number().check(z.int(), z.nonnegative()),
  sig: hexUpTo(128).check(z.minLength(2)),
});
export type DelegationCertificate = z.infer<typeof DelegationCertificateSchema>;

export const EnvelopeSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.enum(Object.values(MessageType) as [MessageType, ...MessageType[]]),
  session: hex(16),
  id: hex(16),
  from: Name,
  to: Name,
  ts: z.number().check(z.int(), z.nonnegative()),
  body: z.unknown(),
  /** Present when `sig` is by a delegated key rather than the identity key; covered by `sig`. */
  cert: z.optional(DelegationCertificateSchema),
  sig: hexUpTo(128).check(z.minLength(2)),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;
export type UnsignedEnvelope = Omit<Envelope, 'sig'>;

// ---- initiator requests -------------------------------------------------------------

export const KeygenRequestBody = z.strictObject({
  requestId: RequestId,
  keyId: Name,
  suite: z.string().check(z.maxLength(64)),
  threshold: z.number().check(z.int(), z.gte(2), z.lte(255)),
  parties: z.array(Name).check(z.minLength(2), z.maxLength(255)),
});
export type KeygenRequestBody = z.infer<typeof KeygenRequestBody>;

export const ApprovalSchema = z.strictObject({ approver: Name, sig: hexUpTo(128).check(z.minLength(2)) });

export const SignRequestBody = z.strictObject({
  requestId: RequestId,
  keyId: Name,
  /** The exact bytes to sign, hex. Size is bounded by policy, checked by every party. */
  message: hexUpTo(1024 * 1024),
  /** Approvers' signatures over this request, for keys whose policy requires a quorum. */
  approvals: z.optional(z.array(ApprovalSchema).check(z.maxLength(32))),
  /**
   * Non-hardened derivation path ("m/0/7"): sign with the child key. Each party parses it and
   * derives the tweak from its own stored public package (README "Derivation").
   */
  path: z.optional(z.string().check(z.maxLength(400))),
  /**
   * secp256k1-tr only: sign for the BIP341 output key of the key at `path` (or of the key
   * itself), that key being the internal key; `merkleRoot` commits to a script tree, absent
   * for a key-path-only (BIP86) output. README "Derivation".
   */
  taproot: z.optional(z.strictObject({ merkleRoot: z.optional(Hex32) })),
});
export type SignRequestBody = z.infer<typeof SignRequestBody>;

/** Looks up a key's public data; answered by the coordinator from its registry. */
export const KeyRequestBody = z.strictObject({ requestId: RequestId, keyId: Name });

/**
 * The head of the sending party's audit chain when it sent the message. Every message a
 * party sends carries it, so its identity signature anchors the chain outside the party's
 * own table: a rewritten chain no longer contains the anchored record.
 */
export const AuditAnchor = z.strictObject({ seq: z.number().check(z.int(), z.nonnegative()), hash: hex(32) });
export type AuditAnchor = z.infer<typeof AuditAnchor>;

// ---- keygen (DKG) ---------------------------------------------------------------------

export const DkgStartBody = z.strictObject({ request: EnvelopeSchema });

export const Round1Package = z.strictObject({
  identifier: ScalarHex,
  commitment: z.array(ElementHex).check(z.minLength(2), z.maxLength(255)),
  proofOfKnowledge: SignatureHex,
});
export type Round1Package = z.infer<typeof Round1Package>;

export const DkgRound1Body = z.strictObject({
  keyId: Name,
  package: Round1Package,
  /** X25519 public key that round-2 shares for this party are sealed to. */
  ephemeralKey: hex(32),
  audit: AuditAnchor,
});
export type DkgRound1Body = z.infer<typeof DkgRound1Body>;

export const DkgRound2Body = z.strictObject({
  request: EnvelopeSchema,
  round1: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
});

export const SealedShare = z.strictObject({ iv: hex(12), ct: SealedScalarHex });
export type SealedShare = z.infer<typeof SealedShare>;

export const DkgSharesBody = z.strictObject({
  keyId: Name,
  /** One sealed round-2 share per recipient party id. */
  shares: z.record(Name, SealedShare),
  audit: AuditAnchor,
});
export type DkgSharesBody = z.infer<typeof DkgSharesBody>;

export const DkgRound3Body = z.strictObject({
  request: EnvelopeSchema,
  round1: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
  shares: z.array(EnvelopeSchema).check(z.minLength(1), z.maxLength(254)),
});

export const PublicPackage = z.strictObject({
  signers: z.strictObject({ min: z.number().check(z.int()), max: z.number().check(z.int()) }),
  commitments: z.array(ElementHex).check(z.minLength(2), z.maxLength(255)),
  verifyingShares: z.record(ScalarHex, ElementHex),
});
export type PublicPackage = z.infer<typeof PublicPackage>;

/**
 * A party's attestation of a finished DKG: signed by the party, it states everything an
 * application must agree with before it trusts the group key (key id, suite, threshold,
 * the party set, the group key and the public package). Key results carry all n of them.
 */
export const DkgDoneBody = z.strictObject({
  keyId: Name,
  suite: z.string().check(z.maxLength(64)),
  threshold: z.number().check(z.int(), z.gte(2), z.lte(255)),
  /** Every party of the key, sorted. */
  parties: z.array(Name).check(z.minLength(2), z.maxLength(255)),
  groupKey: PublicKeyHex,
  publicPackageHash: hex(32),
  publicPackage: PublicPackage,
  /**
   * The key epoch this attestation is for: 0 (or absent, in attestations from before epochs)
   * for keygen, one more per refresh or reshare. The group key is the same in every epoch.
   */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
  /**
   * The keygen's (epoch 0) public-package hash, which fixes the key's derivation chain code
   * in every later epoch; absent in epoch 0, where it is `publicPackageHash`.
   */
  keygenPackageHash: z.optional(hex(32)),
  audit: AuditAnchor,
});
export type DkgDoneBody = z.infer<typeof DkgDoneBody>;

export const DkgConfirmBody = z.strictObject({
  request: EnvelopeSchema,
  done: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
});

/**
 * Tells a party that a keygen can never finish: relays, unchanged, the signed refusal of a
 * party of that session that abandoned it. A party acts on the refusal, never on the
 * coordinator's word.
 */
export const DkgAbortBody = z.strictObject({
  request: EnvelopeSchema,
  refusal: EnvelopeSchema,
});

// ---- signing --------------------------------------------------------------------------

export const SignCommitBody = z.strictObject({
  request: EnvelopeSchema,
  attempt: z.number().check(z.int(), z.gte(1), z.lte(255)),
  /**
   * The key epoch the session signs at (absent: 0). A party whose active share is of another
   * epoch (a refresh or reshare it has not yet, or already, switched to) refuses, rather than
   * commit with a share the coordinator would check against the other epoch's package.
   */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
});

export const NonceCommitment = z.strictObject({ identifier: ScalarHex, hiding: ElementHex, binding: ElementHex });
export type NonceCommitment = z.infer<typeof NonceCommitment>;

export const SignCommitmentBody = z.strictObject({
  attempt: z.number().check(z.int(), z.gte(1), z.lte(255)),
  commitment: NonceCommitment,
  audit: AuditAnchor,
});

export const SignPackageBody = z.strictObject({
  request: EnvelopeSchema,
  attempt: z.number().check(z.int(), z.gte(1), z.lte(255)),
  /** The chosen signers' own signed `sign.commitment` envelopes, relayed unchanged. */
  commitments: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
});

export const SignShareBody = z.strictObject({
  attempt: z.number().check(z.int(), z.gte(1), z.lte(255)),
  packageHash: hex(32),
  share: ScalarHex,
  audit: AuditAnchor,
});

// ---- nonce pools: one-round signing (README "How it works") --------------------------

/** The most commitments one pool batch carries (and a refill may ask for). */
export const MAX_POOL_BATCH = 64;

/**
 * Coordinator → party: make a batch of single-use nonces for this key and epoch and publish
 * their commitments. The envelope's `session` is the batch id: a redelivery gets the same
 * batch again, never a second one. A party refuses while it holds enough unused nonces.
 */
export const PoolRefillBody = z.strictObject({
  keyId: Name,
  epoch: z.number().check(z.int(), z.nonnegative()),
  count: z.number().check(z.int(), z.gte(1), z.lte(MAX_POOL_BATCH)),
});

/**
 * Party → coordinator, signed by the party's identity key (never a delegated key: it is
 * relayed, inside signing packages, for as long as the batch lives). The batch id is the
 * envelope's `session`; entry `i` is `commitments[i]`. Every commitment is usable once,
 * for this key at this epoch, until `expires` (epoch ms).
 */
export const PoolBatchBody = z.strictObject({
  keyId: Name,
  epoch: z.number().check(z.int(), z.nonnegative()),
  expires: z.number().check(z.int(), z.positive()),
  commitments: z.array(NonceCommitment).check(z.minLength(1), z.maxLength(MAX_POOL_BATCH)),
  audit: AuditAnchor,
});
export type PoolBatchBody = z.infer<typeof PoolBatchBody>;

/** One signer's pooled commitment in a one-round package: its party's signed batch, relayed unchanged, and the entry. */
export const PooledCommitment = z.strictObject({
  batch: EnvelopeSchema,
  index: z.number().check(z.int(), z.gte(0), z.lt(MAX_POOL_BATCH)),
});
export type PooledCommitment = z.infer<typeof PooledCommitment>;

/**
 * Coordinator → each chosen signer: the one-round signing package. The signer runs every
 * check of `sign.commit` (request, policy, approvals, rate limit, audit) and of
 * `sign.package`, spends its pooled nonce once, and answers with `sign.share` (or
 * `party.refused`, after which the coordinator falls back to two rounds).
 */
export const SignPooledBody = z.strictObject({
  request: EnvelopeSchema,
  attempt: z.number().check(z.int(), z.gte(1), z.lte(255)),
  /** The key epoch the session signs at (absent: 0), as in `sign.commit`. */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
  commitments: z.array(PooledCommitment).check(z.minLength(2), z.maxLength(255)),
});
export type SignPooledBody = z.infer<typeof SignPooledBody>;

/**
 * What proves that a DKG round-2 share was bad: the accuser's X25519 ephemeral secret of the
 * session. With it anyone holding the signed transcript opens the accused's sealed share and
 * runs vss_verify (see dkg-blame.ts). Revealed only once the accuser has abandoned the
 * session for good, so it protects nothing any more.
 */
export const ShareEvidence = z.strictObject({
  kind: z.literal('dkg-share'),
  ephemeralSecret: hex(32),
});
export type ShareEvidence = z.infer<typeof ShareEvidence>;

/**
 * What proves a refresh/reshare dealing bad (lib/protocol/reshare/blame.ts): for a share
 * (`reshare-share`), the accuser's X25519 receiving secret for the accused dealer only (its
 * round-1 `receiveKeys[accused]`), revealed once it abandoned the session: it opens the
 * accused's share to the accuser and no other dealer's; for commitments
 * (`reshare-commitment`), nothing secret: the dealer's signed dealing and the current
 * attestations in the signed transcript show it.
 */
export const DealingEvidence = z.strictObject({
  kind: z.enum(['reshare-share', 'reshare-commitment']),
  receiveSecret: z.optional(hex(32)),
});
export type DealingEvidence = z.infer<typeof DealingEvidence>;

/** A claim that `accused` misbehaved. Without evidence that holds, it counts against the accuser. */
export const Accusation = z.strictObject({
  accused: Name,
  evidence: z.optional(z.union([ShareEvidence, DealingEvidence])),
});
export type Accusation = z.infer<typeof Accusation>;

export const PartyRefusedBody = z.strictObject({
  inResponseTo: z.enum(Object.values(MessageType) as [MessageType, ...MessageType[]]),
  attempt: z.optional(z.number().check(z.int(), z.gte(1), z.lte(255))),
  code: z.string().check(z.maxLength(64)),
  reason: z.string().check(z.maxLength(500)),
  /**
   * Keygen only: the refusing party holds no share of this session and will never finish it
   * (its DKG state is deleted). Other parties delete their pending share on this promise.
   */
  abandoned: z.optional(z.boolean()),
  accusation: z.optional(Accusation),
  audit: AuditAnchor,
});
export type PartyRefusedBody = z.infer<typeof PartyRefusedBody>;

// ---- key lifecycle: refresh and reshare (README "Key lifecycle") -------------------------

/**
 * Same parties, same threshold, new shares: every party deals a zero-constant polynomial and
 * adds what it receives to its share. Signed by an initiator whose grant allows it.
 */
export const RefreshRequestBody = z.strictObject({
  requestId: RequestId,
  keyId: Name,
  /**
   * The key epoch this change was planned against (what the requester saw as current).
   * Every party refuses the request at any other epoch, so a coordinator can neither steer
   * a request planned on an old party set onto the key nor hold it back until a later epoch.
   */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
  /** Approvers' signatures over this request, for keys whose policy requires a quorum. */
  approvals: z.optional(z.array(ApprovalSchema).check(z.maxLength(32))),
});
export type RefreshRequestBody = z.infer<typeof RefreshRequestBody>;

/**
 * A new party set and/or threshold for an existing key; the group key stays. `dealers` are
 * the current parties that deal (at least the current threshold of them); absent: every
 * current party. A party that lost its share is left out of `dealers` and only receives.
 */
export const ReshareRequestBody = z.strictObject({
  requestId: RequestId,
  keyId: Name,
  /**
   * The key epoch this change was planned against (what the requester saw as current).
   * Every party refuses the request at any other epoch, so a coordinator can neither steer
   * a request planned on an old party set onto the key nor hold it back until a later epoch.
   */
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
  threshold: z.number().check(z.int(), z.gte(2), z.lte(255)),
  parties: z.array(Name).check(z.minLength(2), z.maxLength(255)),
  dealers: z.optional(z.array(Name).check(z.minLength(2), z.maxLength(255))),
  approvals: z.optional(z.array(ApprovalSchema).check(z.maxLength(32))),
});
export type ReshareRequestBody = z.infer<typeof ReshareRequestBody>;

/**
 * Coordinator → every current and every new party. `request` is the initiator's
 * refresh.request or reshare.request, unchanged. `current` are the current epoch's
 * attestations (the signed dkg.done or reshare.done of every current party): a new party
 * holds no share yet and learns the key's current public package only from them.
 */
export const ReshareStartBody = z.strictObject({
  request: EnvelopeSchema,
  current: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
});

/**
 * A participant's answer to reshare.start. `ephemeralKey`: the X25519 key a dealer seals
 * with (its secret is never revealed). `receiveKeys` (new parties only, exactly one per
 * dealer): the X25519 key that dealer's share to this party is sealed to. One per dealer so
 * that an accusation reveals the secret of one (accuser, accused) pair only: one secret that
 * opened every dealer's share would let anyone holding t′ of them interpolate each λ_j·s_j.
 */
export const ReshareRound1Body = z.strictObject({
  keyId: Name,
  /** The epoch being left, and its public-package hash as this party holds it (absent: holds no share). */
  epoch: z.number().check(z.int(), z.nonnegative()),
  publicPackageHash: z.optional(hex(32)),
  ephemeralKey: hex(32),
  receiveKeys: z.optional(z.record(Name, hex(32))),
  audit: AuditAnchor,
});
export type ReshareRound1Body = z.infer<typeof ReshareRound1Body>;

/** Coordinator → each dealer: every participant's signed reshare.round1, unchanged. */
export const ReshareDealBody = z.strictObject({
  request: EnvelopeSchema,
  current: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
  round1: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(510)),
});

/**
 * A dealer's dealing: Feldman commitments to its polynomial and one sealed share per new
 * party. A reshare commits to all t′ coefficients, the first being λ·Y of the dealer. A
 * refresh polynomial's constant term is zero by construction: its dealing commits to the
 * t − 1 other coefficients only, and receivers take the identity as the constant commitment
 * (so no dealing can carry any other constant).
 */
export const ReshareDealingBody = z.strictObject({
  keyId: Name,
  epoch: z.number().check(z.int(), z.nonnegative()),
  publicPackageHash: hex(32),
  /** The round-1 transcript (every participant's keys) the shares were sealed to (reshare/transcripts.ts reshareRound1Hash). */
  round1Hash: hex(32),
  commitments: z.array(ElementHex).check(z.minLength(1), z.maxLength(255)),
  shares: z.record(Name, SealedShare),
  audit: AuditAnchor,
});
export type ReshareDealingBody = z.infer<typeof ReshareDealingBody>;

/** Coordinator → each new party: the round-1 transcript and every dealer's signed dealing. */
export const ReshareSharesBody = z.strictObject({
  request: EnvelopeSchema,
  current: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
  round1: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(510)),
  dealings: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
});

/** Coordinator → every current and new party: every new party's signed reshare.done. */
export const ReshareConfirmBody = z.strictObject({
  request: EnvelopeSchema,
  done: z.array(EnvelopeSchema).check(z.minLength(2), z.maxLength(255)),
});

/** Coordinator → every participant: relays, unchanged, the signed refusal of a participant that abandoned the reshare. */
export const ReshareAbortBody = z.strictObject({
  request: EnvelopeSchema,
  refusal: EnvelopeSchema,
});

// ---- results to initiators ------------------------------------------------------------

export const ResultError = z.strictObject({
  code: z.string().check(z.maxLength(64)),
  message: z.string().check(z.maxLength(2000)),
  blame: z.optional(z.array(Name)),
});
export type ResultError = z.infer<typeof ResultError>;

/** Fields every result carries: which request, whether it succeeded, and why not. */
const ResultFields = {
  requestId: RequestId,
  keyId: Name,
  ok: z.boolean(),
  error: z.optional(ResultError),
};

/**
 * A key's public description, in keygen and key results. Only `attestations` is evidence:
 * the n party-signed `dkg.done` messages, which the SDK verifies against the parties'
 * pinned identity keys. The other fields are the coordinator's word, for display.
 */
const KeyFields = {
  publicKey: z.optional(PublicKeyHex),
  threshold: z.optional(z.number().check(z.int())),
  parties: z.optional(z.array(Name)),
  attestations: z.optional(z.array(EnvelopeSchema).check(z.maxLength(255))),
};

export const KeygenResultBody = z.strictObject({
  ...ResultFields,
  ...KeyFields,
  duplicate: z.boolean(),
});
export type KeygenResultBody = z.infer<typeof KeygenResultBody>;

export const SignResultBody = z.strictObject({
  ...ResultFields,
  duplicate: z.boolean(),
  message: z.optional(hexUpTo(1024 * 1024)),
  publicKey: z.optional(PublicKeyHex),
  signature: z.optional(SignatureHex),
  signers: z.optional(z.array(Name)),
  /** The request's derivation path; `publicKey` is then the child key. */
  path: z.optional(z.string().check(z.maxLength(400))),
});
export type SignResultBody = z.infer<typeof SignResultBody>;

export const KeyResultBody = z.strictObject({ ...ResultFields, ...KeyFields });
export type KeyResultBody = z.infer<typeof KeyResultBody>;

/** The result of a refresh or reshare: the new epoch's attestations (signed reshare.done of every new party). */
export const ReshareResultBody = z.strictObject({
  ...ResultFields,
  ...KeyFields,
  duplicate: z.boolean(),
  epoch: z.optional(z.number().check(z.int(), z.nonnegative())),
});
export type ReshareResultBody = z.infer<typeof ReshareResultBody>;

/** The body schema of every message type: checked before any handler sees the body. */
export const BodySchemas = {
  [MessageType.keygenRequest]: KeygenRequestBody,
  [MessageType.signRequest]: SignRequestBody,
  [MessageType.dkgStart]: DkgStartBody,
  [MessageType.dkgRound1]: DkgRound1Body,
  [MessageType.dkgRound2]: DkgRound2Body,
  [MessageType.dkgShares]: DkgSharesBody,
  [MessageType.dkgRound3]: DkgRound3Body,
  [MessageType.dkgDone]: DkgDoneBody,
  [MessageType.dkgConfirm]: DkgConfirmBody,
  [MessageType.dkgAbort]: DkgAbortBody,
  [MessageType.signCommit]: SignCommitBody,
  [MessageType.signCommitment]: SignCommitmentBody,
  [MessageType.signPackage]: SignPackageBody,
  [MessageType.signShare]: SignShareBody,
  [MessageType.partyRefused]: PartyRefusedBody,
  [MessageType.keygenResult]: KeygenResultBody,
  [MessageType.signResult]: SignResultBody,
  [MessageType.keyRequest]: KeyRequestBody,
  [MessageType.keyResult]: KeyResultBody,
  [MessageType.refreshRequest]: RefreshRequestBody,
  [MessageType.reshareRequest]: ReshareRequestBody,
  [MessageType.reshareStart]: ReshareStartBody,
  [MessageType.reshareRound1]: ReshareRound1Body,
  [MessageType.reshareDeal]: ReshareDealBody,
  [MessageType.reshareDealing]: ReshareDealingBody,
  [MessageType.reshareShares]: ReshareSharesBody,
  [MessageType.reshareDone]: DkgDoneBody,
  [MessageType.reshareConfirm]: ReshareConfirmBody,
  [MessageType.reshareAbort]: ReshareAbortBody,
  [MessageType.reshareResult]: ReshareResultBody,
  [MessageType.poolRefill]: PoolRefillBody,
  [MessageType.poolBatch]: PoolBatchBody,
  [MessageType.signPooled]: SignPooledBody,
} as const satisfies Record<MessageType, z.ZodMiniType>;

export type BodyOf<T extends MessageType> = z.infer<(typeof BodySchemas)[T]>;
