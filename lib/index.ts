/**
 * The package root, `frostline`: everything, for compatibility. Applications import a
 * subpath instead, and load only what they use:
 * - `frostline/client`: the initiator SDK (no AWS SDK, no SQLite engine);
 * - `frostline/aws`: the AWS adapters and a connection to a real deployment;
 * - `frostline/dev`: the local cluster and development deployments.
 * This entry loads all three, and the protocol core beside them.
 */
export * from './client/index.js';
export * from './adapters/aws/index.js';
export * from './dev/index.js';
// After restoring a party's table (docs/deploy.md): what `frostline party purge-volatile` runs.
export { purgeVolatileState, VOLATILE_ITEM_KINDS, type PurgeOptions, type PurgeReport, type PurgedItem } from './protocol/purge.js';
export { Party, type PartyDeps, type HandleOutcome } from './protocol/party.js';
export { Coordinator, type CoordinatorDeps } from './protocol/coordinator.js';
export { DEFAULT_LIMITS, type Directory, type Limits } from './protocol/directory.js';
export { type PartyPolicy, type InitiatorGrant } from './protocol/requests.js';
export type { ItemBackend } from './ports/store.js';
