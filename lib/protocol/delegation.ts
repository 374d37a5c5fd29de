/**
 * Delegated message-signing keys: one KMS `Sign` per few minutes instead of one per envelope.
 *
 * A sender (a party or the coordinator; never an initiator or approver) makes an ephemeral
 * Ed25519 key pair in process memory and has its identity key sign ONE certificate for it:
 * `{v, purpose, holder, role, publicKey, notBefore, expires}`. Envelopes of the per-signature
 * types (DELEGABLE_TYPES) are then signed by the delegated key and carry the certificate in
 * `cert`; the envelope signature covers the certificate too.
 *
 * A receiver accepts such an envelope only when the certificate is signed by the pinned
 * identity key of `envelope.from`, names `envelope.from` as holder and the role the
 * receiver expects of it, lasts no longer than `delegatedKeyLifetimeMs`, covers the
 * envelope's own timestamp, and (for anything received or relayed now) is valid at the
 * receiver's clock within `maxClockSkewMs`; then the envelope signature must verify under
 * the certified key. Verified certificates are cached by hash (public keys only).
 *
 * What a stolen delegated key allows: signing the delegable protocol messages as its holder
 * until the certificate expires (plus skew). Not keys, shares or nonces: those stay sealed
 * under KMS envelope encryption and are opened only inside the invocation that uses them.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import type { DelegatedKey, EnvelopeDelegation, IdentityPublicKey, KeyVault } from '../ports/key-vault.js';
import { RefusalCode } from '../ports/errors.js';
import { DEFAULT_DELEGATED_KEY_LIFETIME_MS, DEFAULT_LIMITS, type Limits, type Role } from './directory.js';
import { bytesToHex, canonicalBytes, concatBytes, decodeHex, utf8ToBytes } from './encoding.js';
import { verifyIdentitySignature } from './identity.js';
import { MessageType, type DelegationCertificate, type Envelope } from './messages.js';

export const DELEGATION_PURPOSE = 'frostline/delegation/v1';
const CERTIFICATE_DOMAIN = utf8ToBytes(`${DELEGATION_PURPOSE}\u0000`);

/**
 * The envelope types a delegated key may sign: the per-signature path, where the KMS calls
 * are. Everything else stays identity-signed: initiator requests and approvals (never
 * delegated), and messages kept as long-lived evidence (dkg.done attestations, party.refused
 * accusations, DKG transcripts, `pool.batch` commitments relayed for the batch's lifetime),
 * which are verified long after a certificate has expired.
 */
export const DELEGABLE_TYPES: ReadonlySet<string> = new Set([
  MessageType.signCommit,
  MessageType.signCommitment,
  MessageType.signPackage,
  MessageType.signPooled,
  MessageType.poolRefill,
  MessageType.signShare,
  MessageType.signResult,
]);

/** The bytes the identity key signs for a certificate: its own domain tag, then SHA-256 of JCS(cert − sig). */
export function certificateSigningInput(unsigned: Omit<DelegationCertificate, 'sig'>): Uint8Array {
  return concatBytes(CERTIFICATE_DOMAIN, sha256(canonicalBytes(unsigned)));
}

const ED25519_SPKI_PREFIX = decodeHex('302a300506032b6570032100', 'spki prefix');

export interface DelegationOptions {
  readonly holder: string;
  readonly role: 'party' | 'coordinator';
  /** @default DEFAULT_DELEGATED_KEY_LIFETIME_MS */
  readonly lifetimeMs?: number;
  /**
   * A key signs only while at least this much of its lifetime is left, so that everything it
   * signed stays acceptable for as long as a message may be redelivered or relayed.
   * @default DEFAULT_LIMITS.maxMessageAgeMs, or half the lifetime if the lifetime is not longer
   */
  readonly minRemainingMs?: number;
}

/**
 * The sender's side: one delegated key at a time, renewed once less than `minRemainingMs` of
 * its lifetime is left, so that every envelope it signs stays acceptable for as long as a
 * message may still be redelivered or relayed (`maxMessageAgeMs`): with the defaults a key
 * signs for 5 minutes and is accepted for 15. Each renewal is a new key pair and one
 * identity signature.
 */
export class Delegation implements EnvelopeDelegation {
  readonly #vault: Pick<KeyVault, 'signIdentity'>;
  readonly #holder: string;
  readonly #role: 'party' | 'coordinator';
  readonly #lifetimeMs: number;
  /** How long after its `notBefore` a key is used for signing. */
  readonly #signingMs: number;
  #current: DelegatedKey | undefined;
  #renewal: Promise<DelegatedKey> | undefined;

  constructor(vault: Pick<KeyVault, 'signIdentity'>, options: DelegationOptions) {
    const lifetimeMs = options.lifetimeMs ?? DEFAULT_DELEGATED_KEY_LIFETIME_MS;
    if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 2_000) throw new TypeError('delegated key lifetime must be an integer of at least 2000 ms');
    this.#vault = vault;
    this.#holder = options.holder;
    this.#role = options.role;
    this.#lifetimeMs = lifetimeMs;
    const minRemainingMs = options.minRemainingMs ?? (lifetimeMs > DEFAULT_LIMITS.maxMessageAgeMs ? DEFAULT_LIMITS.maxMessageAgeMs : lifetimeMs / 2);
    if (!(minRemainingMs > 0 && minRemainingMs < lifetimeMs)) throw new TypeError('a delegated key must have some of its lifetime left for signing');
    this.#signingMs = lifetimeMs - minRemainingMs;
  }

  keyAt(now: number): Promise<DelegatedKey> {
    const current = this.#current;
    if (current !== undefined && now >= current.certificate.notBefore && now < current.certificate.notBefore + this.#signingMs) {
      return Promise.resolve(current);
    }
    // One renewal at a time: the envelopes of one invocation go out concurrently.
    this.#renewal ??= this.#issue(now)
      .then((key) => {
        this.#current = key;
        return key;
      })
      .finally(() => {
        this.#renewal = undefined;
      });
    return this.#renewal;
  }

  async #issue(now: number): Promise<DelegatedKey> {
    // The private key lives in OpenSSL memory (a KeyObject), never on the JavaScript heap;
    // OpenSSL clears it when the object is collected after the next renewal.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(ED25519_SPKI_PREFIX.length);
    const unsigned = {
      v: 1,
      purpose: DELEGATION_PURPOSE,
      holder: this.#holder,
      role: this.#role,
      publicKey: bytesToHex(raw),
      notBefore: now,
      expires: now + this.#lifetimeMs,
    } as const;
    const sig = bytesToHex(await this.#vault.signIdentity(certificateSigningInput(unsigned)));
    return new SigningKey({ ...unsigned, sig }, privateKey);
  }

  toJSON(): string {
    return '<Delegation redacted>';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<Delegation redacted>';
  }
}

class SigningKey implements DelegatedKey {
  readonly #privateKey: KeyObject;
  constructor(
    readonly certificate: DelegationCertificate,
    privateKey: KeyObject,
  ) {
    this.#privateKey = privateKey;
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.#privateKey));
  }

  toJSON(): unknown {
    return { certificate: this.certificate };
  }
}

/** `vault` with a delegation for `options.holder` (one per process: create it once, at start). */
export function withDelegation(vault: KeyVault, options: DelegationOptions): KeyVault {
  const delegation = new Delegation(vault, options);
  return {
    generateDataKey: (context) => vault.generateDataKey(context),
    decryptDataKey: (encrypted, context) => vault.decryptDataKey(encrypted, context),
    signIdentity: (message) => vault.signIdentity(message),
    identityPublicKey: () => vault.identityPublicKey(),
    delegation,
  };
}

// ---- the receiver's side ----------------------------------------------------------------

/**
 * Certificates whose identity signature verified, by SHA-256 of the certificate and the
 * pinned key it verified under: public keys only, bounded (oldest dropped first).
 */
const MAX_CACHED_CERTIFICATES = 256;
const verifiedCertificates = new Map<string, KeyObject>();

/** When a certificate must be valid: at `now` (delivered or relayed now) or only at the envelope's `ts` (stored evidence). */
export interface CertificateCheck {
  readonly now?: number;
  readonly limits: Pick<Limits, 'maxClockSkewMs' | 'delegatedKeyLifetimeMs'>;
}

export interface SignatureProblem {
  readonly code: typeof RefusalCode.badSignature | typeof RefusalCode.stale;
  readonly reason: string;
}

/**
 * Why the delegated signature of `envelope` (which carries `cert`) is not acceptable as
 * `pinned`'s, sent in `role`; undefined when it is. Every check is against public data.
 */
export function delegatedSignatureProblem(
  envelope: Envelope,
  cert: DelegationCertificate,
  pinned: IdentityPublicKey,
  role: Role,
  check: CertificateCheck | undefined,
  signed: { readonly message: Uint8Array; readonly signature: Uint8Array },
): SignatureProblem | undefined {
  const bad = (reason: string): SignatureProblem => ({ code: RefusalCode.badSignature, reason });
  if (check === undefined) return bad('a delegated key is not accepted for this message');
  if (role === 'initiator') return bad('initiators sign with their identity key only');
  if (!DELEGABLE_TYPES.has(envelope.type)) return bad(`${envelope.type} must be signed by the identity key`);
  if (cert.holder !== envelope.from) return bad(`certificate is for "${cert.holder}", not "${envelope.from}"`);
  if (cert.role !== role) return bad(`certificate is for a ${cert.role}, expected a ${role}`);
  const maxLifetime = check.limits.delegatedKeyLifetimeMs ?? DEFAULT_DELEGATED_KEY_LIFETIME_MS;
  if (cert.expires <= cert.notBefore || cert.expires - cert.notBefore > maxLifetime) {
    return bad(`certificate lifetime is not within (0, ${maxLifetime}] ms`);
  }
  if (envelope.ts < cert.notBefore || envelope.ts > cert.expires) return bad('message is timestamped outside its certificate');
  const skew = check.limits.maxClockSkewMs;
  if (check.now !== undefined && check.now > cert.expires + skew) {
    return { code: RefusalCode.stale, reason: `delegated key of "${cert.holder}" expired ${check.now - cert.expires} ms ago` };
  }
  if (check.now !== undefined && check.now < cert.notBefore - skew) {
    return { code: RefusalCode.stale, reason: `delegated key of "${cert.holder}" is not valid for another ${cert.notBefore - check.now} ms` };
  }
  const key = certifiedKey(cert, pinned);
  if (key === undefined) return bad(`certificate is not signed by the identity key of "${cert.holder}"`);
  let valid: boolean;
  try {
    valid = verify(null, signed.message, key, signed.signature);
  } catch {
    valid = false;
  }
  return valid ? undefined : bad('signature is not by the certified key');
}

function certifiedKey(cert: DelegationCertificate, pinned: IdentityPublicKey): KeyObject | undefined {
  const cacheKey = `${bytesToHex(sha256(canonicalBytes(cert)))}:${pinned.alg}:${pinned.spki}`;
  const cached = verifiedCertificates.get(cacheKey);
  if (cached !== undefined) return cached;
  const { sig, ...unsigned } = cert;
  if (!verifyIdentitySignature(pinned, certificateSigningInput(unsigned), decodeHex(sig, 'cert.sig'))) return undefined;
  const key = createPublicKey({ key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, decodeHex(cert.publicKey, 'cert.publicKey', 32))), format: 'der', type: 'spki' });
  if (verifiedCertificates.size >= MAX_CACHED_CERTIFICATES) {
    const [oldest] = verifiedCertificates.keys();
    if (oldest !== undefined) verifiedCertificates.delete(oldest);
  }
  verifiedCertificates.set(cacheKey, key);
  return key;
}
