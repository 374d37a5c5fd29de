/**
 * `frostline/aws`: the production AWS adapters — KMS (identity signing, envelope keys), a
 * DynamoDB store, SQS transport and result inbox — and a client's connection to a real
 * deployment from its pinned deployment config (what `frostline ... --config FILE` uses).
 */
export { KmsSigner, type KmsSignerOptions } from './kms-signer.js';
export { KmsKeyVault, KMS_MAX_RAW_SIGN_BYTES, type KmsKeyVaultOptions } from './kms-key-vault.js';
export { SqsTransport, SQS_MAX_MESSAGE_BYTES, type QueueUrlResolver } from './sqs-transport.js';
export { SqsResultInbox } from './sqs-result-inbox.js';
export { DynamoItemBackend, MAX_TRANSACTION_ITEMS } from './dynamodb-backend.js';
export { createAwsClients, createKmsClient, createSqsClient, createDynamoDbClient, type AwsClientOptions, type AwsClients } from './clients.js';
export {
  DeploymentConnection,
  openDeployment,
  type DeploymentClientOptions,
  type DeploymentConnectionOptions,
} from './deployment-connection.js';
