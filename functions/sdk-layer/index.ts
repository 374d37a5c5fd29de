/**
 * Entry point of the AWS SDK layer: the one module every handler bundle imports the SDK
 * from, as `@frostline/aws-sdk` (cdk/handler-bundling.ts). Built by esbuild from the
 * installed node_modules, i.e. exactly the SDK versions of package-lock.json, minified and
 * tree-shaken to what is re-exported here, and shipped as a Lambda layer
 * (cdk/constructs/aws-sdk-layer.ts); never the runtime's own SDK.
 *
 * A handler that imports a name not listed here fails to link at cold start;
 * test/cdk/handler-bundles.test.ts imports every built bundle against the built layer.
 */
export { DecryptCommand, GenerateDataKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
export {
  BatchGetItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
export { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
