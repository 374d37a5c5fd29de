/**
 * `frostline/client`: the initiator SDK — what an application needs to ask for keys and
 * signatures and to check what comes back. It loads neither the AWS SDK nor a SQLite
 * engine (test/unit/layers.test.ts holds it to that): bring a `Transport` and a `ResultInbox`,
 * e.g. `SqsTransport` and `SqsResultInbox` from `frostline/aws`.
 */
export { FrostlineClient, type FrostlineClientOptions, type CallOptions, type KeyInfo, type KeygenResult, type LifecycleResult, type SignatureResult } from './client.js';
export * from './errors.js';
export { FileKeyPins, MemoryKeyPins, KeyPinMismatchError, pinOf, replacesPin, type KeyPins, type PinnedKey } from './key-pins.js';
export { LocalKeySigner } from './signers.js';
export { attestedKeyOf, checkedSignature, lifecycleKeyOf } from './result-checks.js';
export type { ResultInbox, ReceivedMessage } from './result-inbox.js';
export { Initiator, type IdentitySigner, type InitiatorDeps, type InitiatorResult, type KeygenOptions, type LifecycleOptions, type SignOptions } from './initiator.js';
export { verifyKeyAttestations, AttestationError, type AttestedKey } from '../protocol/attestation.js';
export { judgeAccusation } from '../protocol/dkg-blame.js';
export { signApproval, signLifecycleApproval, type Approval, type ApprovalRule, type ApprovedLifecycle, type ApprovedRequest } from '../protocol/approvals.js';
export { verifyAuditChain, type AuditRecord, type ChainVerdict } from '../protocol/audit.js';
export type { KeyRules } from '../protocol/requests.js';
export { verifyEd25519WithOpenSSL, ed25519Suite, type Suite } from '../protocol/suite.js';
// Non-hardened derivation (README "Derivation"): pure functions, for applications that derive or check child keys themselves.
export {
  chainCodeOf,
  decodeXpub,
  deriveKey,
  derivePath,
  encodeXpub,
  exportXpub,
  parsePath,
  signingDerivation,
  taprootTweak,
  verifierKeyHex,
  type DerivableKey,
  type DerivationPath,
  type DerivedKey,
  type KeyDerivation,
  type TaprootOption,
  type TaprootTweak,
} from '../protocol/derivation/index.js';
export * from '../ports/errors.js';
export type { KeyVault, IdentityPublicKey, EncryptionContext } from '../ports/key-vault.js';
export type { Transport, Destination } from '../ports/transport.js';
export type { Clock } from '../ports/clock.js';
