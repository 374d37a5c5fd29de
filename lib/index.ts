/** Public API of the frostline package. */
export { FrostlineClient, type FrostlineClientOptions, type CallOptions, type KeyInfo, type KeygenResult, type SignatureResult } from './client/client.js';
export * from './client/errors.js';
export { FileKeyPins, MemoryKeyPins, KeyPinMismatchError, type KeyPins, type PinnedKey } from './client/key-pins.js';
export { verifyKeyAttestations, AttestationError, type AttestedKey } from './protocol/attestation.js';
export { judgeAccusation } from './protocol/dkg-blame.js';
export { LocalKeySigner } from './client/signers.js';
export { KmsSigner, type KmsSignerOptions } from './adapters/aws/kms-signer.js';
export { SqsTransport, type QueueUrlResolver } from './adapters/aws/sqs-transport.js';
export { SqsResultInbox } from './adapters/aws/sqs-result-inbox.js';
export { createAwsClients, createKmsClient, createSqsClient, createDynamoDbClient, type AwsClientOptions } from './adapters/aws/clients.js';
// A real deployment from its pinned deployment config (what `frostline ... --config FILE` uses).
export {
  DeploymentConnection,
  openDeployment,
  type DeploymentClientOptions,
  type DeploymentConnectionOptions,
} from './adapters/aws/deployment-connection.js';
// The client side of `frostline dev up` (the provisioning side runs in the CLI).
export {
  DevDeploymentConnection,
  openDevDeployment,
  readDevDeploymentFile,
  type DevClientOptions,
  type DevDeploymentFile,
} from './dev/dev-deployment-file.js';
export type { ResultInbox, ReceivedMessage } from './client/result-inbox.js';
export { signApproval, type Approval, type ApprovalRule, type ApprovedRequest } from './protocol/approvals.js';
export { verifyAuditChain, type AuditRecord, type ChainVerdict } from './protocol/audit.js';
// After restoring a party's table (docs/deploy.md): what `frostline party purge-volatile` runs.
export { purgeVolatileState, VOLATILE_ITEM_KINDS, type PurgeOptions, type PurgeReport, type PurgedItem } from './protocol/purge.js';
export { type KeyRules } from './protocol/requests.js';
export { Initiator, type IdentitySigner, type InitiatorDeps, type InitiatorResult, type KeygenOptions, type SignOptions } from './client/initiator.js';
export { LocalCluster, type LocalClusterOptions } from './dev/cluster.js';
export { Party, type PartyDeps, type HandleOutcome } from './protocol/party.js';
export { Coordinator, type CoordinatorDeps } from './protocol/coordinator.js';
export { DEFAULT_LIMITS, type Directory, type Limits } from './protocol/directory.js';
export { type PartyPolicy, type InitiatorGrant } from './protocol/requests.js';
export { verifyEd25519WithOpenSSL, ed25519Suite, type Suite } from './protocol/suite.js';
export * from './ports/errors.js';
export type { KeyVault, IdentityPublicKey, EncryptionContext } from './ports/key-vault.js';
export type { ItemBackend } from './ports/store.js';
export type { Transport, Destination } from './ports/transport.js';
export type { Clock } from './ports/clock.js';
