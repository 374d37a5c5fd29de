/**
 * The coordinator, in the operator's account: request queue (initiators send), inbox
 * (parties send), one result queue per initiator (only that initiator receives), the
 * sessions table, the coordinator's identity key, its two queue handlers, and a scheduled
 * sweeper that reports stalled sessions.
 *
 * The coordinator holds public data only; it can delay or refuse, never forge. Its
 * handlers are deployed once every identity key is pinned (see PartyStack).
 */
import { Annotations, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type DeploymentConfig, directoryOf, missingPins } from '../lib/config/deployment.js';
import { coordinatorNames, initiatorNames, partyNames } from '../lib/config/names.js';
import { Role, RuntimeEnv, runtimeEnvironment } from '../lib/config/runtime.js';
import { SweeperEnv, SweeperMetric } from '../lib/config/sweeper.js';
import { FrostlineFunction, HandlerRole, QueueHandler, retentionDays, visibilityTimeoutFor } from './constructs/queue-handler.js';
import { ItemTable } from './constructs/item-table.js';
import { IdentityKey } from './constructs/keys.js';
import { SecureQueue } from './constructs/secure-queue.js';
import { Entry } from './paths.js';

export interface CoordinatorStackProps extends StackProps {
  readonly config: DeploymentConfig;
}

export class CoordinatorStack extends Stack {
  readonly inboxRole: iam.Role;
  readonly intakeRole: iam.Role;
  readonly sweeperRole: iam.Role;
  readonly identityKey: IdentityKey;
  readonly table: ItemTable;
  readonly inbox: SecureQueue;
  readonly requests: SecureQueue;
  /** One per initiator, by initiator id. */
  readonly results: ReadonlyMap<string, SecureQueue>;
  /** Absent until every identity key is pinned. */
  readonly inboxHandler: QueueHandler | undefined;
  readonly intakeHandler: QueueHandler | undefined;
  readonly sweeper: FrostlineFunction;

  constructor(scope: Construct, id: string, props: CoordinatorStackProps) {
    const { config } = props;
    const names = coordinatorNames(config);
    const { account, region } = config.coordinator;
    super(scope, id, {
      ...props,
      stackName: names.stack,
      env: { account, region },
      description: 'frostline coordinator: sessions, queues and result delivery (public data only)',
      terminationProtection: props.terminationProtection ?? true,
    });
    const limits = config.limits;
    const topicArn = config.coordinator.alarmTopicArn;
    const alarmAction = topicArn === undefined ? undefined : new actions.SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', topicArn));
    const withAlarm = alarmAction !== undefined ? { alarmAction } : {};
    const timeout = Duration.seconds(limits.handlerTimeoutSeconds);
    const queueDefaults = { maxReceiveCount: limits.maxReceiveCount, visibilityTimeout: visibilityTimeoutFor(timeout), ...withAlarm };

    this.inboxRole = new HandlerRole(this, 'InboxRole', { roleName: names.inboxRole, description: 'frostline coordinator: inbox handler (party messages)' }).role;
    this.intakeRole = new HandlerRole(this, 'IntakeRole', { roleName: names.intakeRole, description: 'frostline coordinator: request intake (initiator requests)' }).role;
    this.sweeperRole = new HandlerRole(this, 'SweeperRole', { roleName: names.sweeperRole, description: 'frostline coordinator: stalled-session sweeper' }).role;
    const handlerRoles = [this.inboxRole, this.intakeRole];

    this.identityKey = new IdentityKey(this, 'IdentityKey', {
      alias: names.identityKeyAlias,
      algorithm: config.identityKeySpec,
      version: config.coordinator.identityKeyVersion,
      description: `frostline coordinator: identity key v${config.coordinator.identityKeyVersion} (signs every envelope)`,
      signers: handlerRoles,
      readerAccounts: [account, ...config.parties.map((p) => p.account)],
    });

    this.table = new ItemTable(this, 'Sessions', { tableName: names.table });
    for (const role of handlerRoles) this.table.grantItemAccess(role);
    this.sweeperRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.table.table.tableArn] }));

    this.inbox = new SecureQueue(this, 'Inbox', { queueName: names.inbox.name, deadLetterQueueName: names.inboxDlq.name, ...queueDefaults });
    this.inbox.allowSendFrom('PartyHandlersSend', config.parties.map((party) => partyNames(config, party).handlerRoleArn));

    this.requests = new SecureQueue(this, 'Requests', { queueName: names.requests.name, deadLetterQueueName: names.requestsDlq.name, ...queueDefaults });
    this.requests.allowSendFrom('InitiatorsSend', config.initiators.map((initiator) => initiator.principalArn));

    const results = new Map<string, SecureQueue>();
    for (const initiator of config.initiators) {
      const queueNames = initiatorNames(config, initiator);
      const queue = new SecureQueue(this, `Results-${initiator.id}`, {
        queueName: queueNames.results.name,
        deadLetterQueueName: queueNames.resultsDlq.name,
        // The initiator's own consumer, not ours: a generous visibility timeout.
        maxReceiveCount: limits.maxReceiveCount,
        visibilityTimeout: Duration.minutes(5),
        retentionPeriod: Duration.days(14),
        ...withAlarm,
      });
      queue.allowReceiveOnlyBy('InitiatorReceivesItsResults', [initiator.principalArn]);
      for (const role of handlerRoles) queue.queue.grantSendMessages(role);
      results.set(initiator.id, queue);
    }
    this.results = results;

    // Both handlers start or advance sessions, so both send to every party inbox.
    const partyInboxArns = config.parties.map((party) => partyNames(config, party).inbox.arn);
    for (const role of handlerRoles) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: partyInboxArns }));
    }

    const directory = directoryOf(config);
    if (directory === undefined) {
      this.inboxHandler = undefined;
      this.intakeHandler = undefined;
      Annotations.of(this).addWarningV2(
        'frostline:unpinned',
        `identity keys not pinned yet (${missingPins(config).join(', ')}): the coordinator handlers are not deployed. ` +
          'Deploy every account, run `frostline config pin`, then deploy again.',
      );
    } else {
      const environment = runtimeEnvironment({
        role: Role.coordinator,
        region,
        tableName: names.table,
        // The coordinator never wraps data keys (it holds public data only), but the runtime
        // contract requires a value. Its identity key fails closed if ever used for that:
        // it is SIGN_VERIFY, and no coordinator role has GenerateDataKey/Decrypt anywhere.
        masterKeyId: names.identityKeyAliasArn,
        identityKeyId: names.identityKeyAliasArn,
        identityAlgorithm: config.identityKeySpec,
        directory,
        queueUrls: {
          coordinator: names.inbox.url,
          parties: Object.fromEntries(config.parties.map((party) => [party.id, partyNames(config, party).inbox.url])),
          initiators: Object.fromEntries(config.initiators.map((initiator) => [initiator.id, initiatorNames(config, initiator).results.url])),
        },
      });
      delete environment[RuntimeEnv.region];
      const common = {
        environment,
        timeout,
        reservedConcurrency: limits.coordinatorConcurrency,
        logRetention: retentionDays(limits.logRetentionDays),
        ...withAlarm,
      };
      this.inboxHandler = new QueueHandler(this, 'InboxHandler', {
        ...common,
        functionName: names.inboxFunction,
        entry: Entry.coordinatorInbox,
        role: this.inboxRole,
        queue: this.inbox.queue,
      });
      this.intakeHandler = new QueueHandler(this, 'IntakeHandler', {
        ...common,
        functionName: names.intakeFunction,
        entry: Entry.requestIntake,
        role: this.intakeRole,
        queue: this.requests.queue,
      });
    }

    this.sweeper = new FrostlineFunction(this, 'Sweeper', {
      functionName: names.sweeperFunction,
      entry: Entry.sweeper,
      role: this.sweeperRole,
      environment: {
        [SweeperEnv.tableName]: names.table,
        [SweeperEnv.stalledAfterMinutes]: String(limits.stalledAfterMinutes),
      },
      timeout: Duration.minutes(2),
      // One run at a time is all it needs.
      reservedConcurrency: 1,
      logRetention: retentionDays(limits.logRetentionDays),
      memorySize: 256,
      ...withAlarm,
    });
    new events.Rule(this, 'SweepSchedule', {
      description: 'frostline: report sessions stalled past their deadline',
      schedule: events.Schedule.rate(Duration.minutes(limits.sweepEveryMinutes)),
      targets: [new targets.LambdaFunction(this.sweeper.function, { retryAttempts: 0 })],
    });
    const stalledAlarm = new cloudwatch.Alarm(this, 'StalledSessionsAlarm', {
      alarmDescription: `sessions open longer than ${limits.stalledAfterMinutes} minutes: see the sweeper's log for their ids`,
      metric: new cloudwatch.Metric({
        namespace: SweeperMetric.namespace,
        metricName: SweeperMetric.stalledSessions,
        dimensionsMap: { service: SweeperMetric.service },
        period: Duration.minutes(Math.max(5, limits.sweepEveryMinutes)),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (alarmAction !== undefined) stalledAlarm.addAlarmAction(alarmAction);

    new CfnOutput(this, 'IdentityKeyAliasArn', { value: names.identityKeyAliasArn, description: 'pinned by `frostline config pin`' });
    new CfnOutput(this, 'RequestQueueUrl', { value: this.requests.queue.queueUrl });
    new CfnOutput(this, 'InboxQueueUrl', { value: this.inbox.queue.queueUrl });
  }
}
