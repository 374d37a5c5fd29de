/** Public API of the frostline package. */
export { Initiator, type InitiatorDeps, type InitiatorResult, type KeygenOptions, type SignOptions } from './client/initiator.js';
export { LocalCluster, type LocalClusterOptions } from './adapters/local/cluster.js';
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
