/**
 * One party, in its own AWS account: shares key, identity key, item table, inbox queue and
 * the inbox handler. Everything another account refers to has a deterministic name
 * (lib/config/names.ts), so this stack reads nothing from other stacks.
 *
 * Until every identity key is pinned in the config, the stack deploys without its handler
 * (keys, table, queues and role only): the handler could not verify anyone yet.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type DeploymentConfig, type PartyConfig, partyDirectoryOf, partyPolicyOf } from '../lib/config/deployment.js';
import { coordinatorNames, coordinatorSenderRoleArns, partyNames } from '../lib/config/names.js';
import { ServiceName } from '../lib/config/observability.js';
import { Role, RuntimeEnv, runtimeEnvironment } from '../lib/config/runtime.js';
import { HandlerRole, QueueHandler, retentionDays, visibilityTimeoutFor } from './constructs/queue-handler.js';
import { ItemTable } from './constructs/item-table.js';
import { IdentityKey, SharesKey } from './constructs/keys.js';
import { SecureQueue } from './constructs/secure-queue.js';
import { Entry } from './paths.js';
import { warnUnpinned } from './unpinned.js';

export interface PartyStackProps extends StackProps {
  readonly config: DeploymentConfig;
  readonly party: PartyConfig;
}

export class PartyStack extends Stack {
  readonly handlerRole: iam.Role;
  readonly sharesKey: SharesKey;
  readonly identityKey: IdentityKey;
  readonly table: ItemTable;
  readonly inbox: SecureQueue;
  /** Absent until every identity key is pinned. */
  readonly handler: QueueHandler | undefined;

  constructor(scope: Construct, id: string, props: PartyStackProps) {
    const { config, party } = props;
    const names = partyNames(config, party);
    super(scope, id, {
      ...props,
      stackName: names.stack,
      env: { account: party.account, region: party.region },
      description: `frostline party ${party.id}: threshold signer share holder`,
      terminationProtection: props.terminationProtection ?? true,
    });
    const coordinator = coordinatorNames(config);
    const limits = config.limits;
    const alarmAction = party.alarmTopicArn === undefined ? undefined : new actions.SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', party.alarmTopicArn));
    const timeout = Duration.seconds(limits.handlerTimeoutSeconds);

    this.handlerRole = new HandlerRole(this, 'HandlerRole', {
      roleName: names.handlerRole,
      description: `frostline party ${party.id}: inbox handler`,
    }).role;

    this.sharesKey = new SharesKey(this, 'SharesKey', { alias: names.sharesKeyAlias, party: party.id, user: this.handlerRole });
    const peerAccounts = [config.coordinator.account, ...config.parties.map((p) => p.account)];
    this.identityKey = new IdentityKey(this, 'IdentityKey', {
      alias: names.identityKeyAlias,
      algorithm: config.identityKeySpec,
      version: party.identityKeyVersion,
      description: `frostline party ${party.id}: identity key v${party.identityKeyVersion} (signs every envelope)`,
      signers: [this.handlerRole],
      readerAccounts: peerAccounts,
    });

    this.table = new ItemTable(this, 'Store', { tableName: names.table });
    this.table.grantItemAccess(this.handlerRole);

    this.inbox = new SecureQueue(this, 'Inbox', {
      queueName: names.inbox.name,
      deadLetterQueueName: names.inboxDlq.name,
      maxReceiveCount: limits.maxReceiveCount,
      visibilityTimeout: visibilityTimeoutFor(timeout),
      alarmAction,
    });
    this.inbox.allowSendFrom('CoordinatorHandlersSend', coordinatorSenderRoleArns(config));

    // Replies go to the coordinator's inbox, in the coordinator's account.
    this.handlerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [coordinator.inbox.arn] }),
    );

    const directory = partyDirectoryOf(config, party);
    if (directory === undefined) {
      this.handler = undefined;
      warnUnpinned(this, config, 'the inbox handler is');
    } else {
      const environment = runtimeEnvironment({
        role: Role.party,
        partyId: party.id,
        region: party.region,
        tableName: names.table,
        masterKeyId: this.sharesKey.key.keyArn,
        identityKeyId: names.identityKeyAliasArn,
        identityAlgorithm: config.identityKeySpec,
        directory,
        policy: partyPolicyOf(config, party),
        queueUrls: { coordinator: coordinator.inbox.url, parties: {}, initiators: {} },
      });
      // Lambda sets AWS_REGION itself and refuses it as a configured variable.
      delete environment[RuntimeEnv.region];
      this.handler = new QueueHandler(this, 'InboxHandler', {
        functionName: names.handlerFunction,
        entry: Entry.partyInbox,
        role: this.handlerRole,
        environment,
        timeout,
        reservedConcurrency: limits.partyConcurrency,
        logRetention: retentionDays(limits.logRetentionDays),
        memorySize: 1024,
        queue: this.inbox.queue,
        metricsService: ServiceName.partyInbox,
        alarmAction,
      });
    }

    new CfnOutput(this, 'IdentityKeyAliasArn', { value: names.identityKeyAliasArn, description: 'pinned by `frostline config pin`' });
    new CfnOutput(this, 'InboxQueueUrl', { value: this.inbox.queue.queueUrl });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
  }
}
