/**
 * The coordinator, in the operator's account: request queue (initiators send), inbox
 * (parties send), one result queue per initiator (only that initiator receives), the
 * sessions table, the coordinator's identity key, its two queue handlers, and a scheduled
 * sweeper that times out stalled sessions.
 *
 * The coordinator holds public data only; it can delay or refuse, never forge. Its
 * functions are deployed once every identity key is pinned (see PartyStack).
 *
 * Three roles, each with only what its function calls:
 * - inbox and intake handlers: sign envelopes, read and write the table, send to every
 *   party inbox and every result queue (both start or advance sessions);
 * - sweeper: sign envelopes, read (Scan, GetItem) and conditionally write (PutItem) the
 *   table, send to the result queues (timed-out sessions) and to every party inbox (a
 *   one-round signing attempt whose signer went silent falls back to two rounds:
 *   `sign.commit` to every party).
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type DeploymentConfig, directoryOf } from '../lib/config/deployment.js';
import { coordinatorNames, initiatorNames, partyNames } from '../lib/config/names.js';
import { Role, RuntimeEnv, runtimeEnvironment } from '../lib/config/runtime.js';
import { MetricName, ServiceName } from '../lib/config/observability.js';
import { SweeperEnv } from '../lib/config/sweeper.js';
import { alarmOnAny, frostlineMetric } from './constructs/alarms.js';
import { FrostlineFunction, HandlerRole, QueueHandler, retentionDays, visibilityTimeoutFor } from './constructs/queue-handler.js';
import { ItemTable } from './constructs/item-table.js';
import { IdentityKey } from './constructs/keys.js';
import { SecureQueue } from './constructs/secure-queue.js';
import { Entry } from './paths.js';
import { warnUnpinned } from './unpinned.js';

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
  readonly sweeper: FrostlineFunction | undefined;

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
    this.sweeperRole = new HandlerRole(this, 'SweeperRole', { roleName: names.sweeperRole, description: 'frostline coordinator: times out stalled sessions' }).role;
    const handlerRoles = [this.inboxRole, this.intakeRole];

    this.identityKey = new IdentityKey(this, 'IdentityKey', {
      alias: names.identityKeyAlias,
      algorithm: config.identityKeySpec,
      version: config.coordinator.identityKeyVersion,
      description: `frostline coordinator: identity key v${config.coordinator.identityKeyVersion} (signs every envelope)`,
      // The sweeper signs the timeout results it sends to initiators.
      signers: [...handlerRoles, this.sweeperRole],
      readerAccounts: [account, ...config.parties.map((p) => p.account)],
    });

    this.table = new ItemTable(this, 'Sessions', { tableName: names.table });
    for (const role of handlerRoles) this.table.grantItemAccess(role);
    this.table.table.grant(this.sweeperRole, ...SWEEPER_TABLE_ACTIONS);

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
    this.sweeperRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [...results.values()].map((queue) => queue.queue.queueArn) }),
    );

    // Both handlers start or advance sessions, and the sweeper moves stalled one-round attempts to two rounds: all three send to every party inbox.
    const partyInboxArns = config.parties.map((party) => partyNames(config, party).inbox.arn);
    for (const role of [...handlerRoles, this.sweeperRole]) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: partyInboxArns }));
    }

    const directory = directoryOf(config);
    if (directory === undefined) {
      this.inboxHandler = undefined;
      this.intakeHandler = undefined;
      this.sweeper = undefined;
      warnUnpinned(this, config, 'the coordinator handlers are');
    } else {
      // No masterKeyId: the coordinator never wraps data keys (it holds public data only).
      const environment = runtimeEnvironment({
        role: Role.coordinator,
        region,
        tableName: names.table,
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
        metricsService: ServiceName.coordinatorInbox,
      });
      this.intakeHandler = new QueueHandler(this, 'IntakeHandler', {
        ...common,
        functionName: names.intakeFunction,
        entry: Entry.requestIntake,
        role: this.intakeRole,
        queue: this.requests.queue,
        metricsService: ServiceName.requestIntake,
      });
      this.sweeper = this.addSweeper(config, { ...environment, [SweeperEnv.stalledAfterMinutes]: String(limits.stalledAfterMinutes) }, alarmAction);
    }

    new CfnOutput(this, 'IdentityKeyAliasArn', { value: names.identityKeyAliasArn, description: 'pinned by `frostline config pin`' });
    new CfnOutput(this, 'RequestQueueUrl', { value: this.requests.queue.queueUrl });
    new CfnOutput(this, 'InboxQueueUrl', { value: this.inbox.queue.queueUrl });
    // Where each initiator application reads its results (also `frostline config show-endpoints`).
    // Scoped to the queue's construct: ids like "a-b" and "ab" would clash as top-level output ids.
    for (const [id, queue] of this.results) {
      new CfnOutput(queue, 'ResultQueueUrl', { value: queue.queue.queueUrl, description: `result queue of initiator ${id}` });
    }
  }

  /** The scheduled sweeper, its schedule and the alarm on the sessions it timed out. */
  private addSweeper(config: DeploymentConfig, environment: Record<string, string>, alarmAction: actions.SnsAction | undefined): FrostlineFunction {
    const names = coordinatorNames(config);
    const limits = config.limits;
    const sweeper = new FrostlineFunction(this, 'Sweeper', {
      functionName: names.sweeperFunction,
      entry: Entry.sweeper,
      role: this.sweeperRole,
      environment,
      timeout: Duration.minutes(2),
      // One run at a time is all it needs.
      reservedConcurrency: 1,
      logRetention: retentionDays(limits.logRetentionDays),
      alarmAction,
    });
    new events.Rule(this, 'SweepSchedule', {
      description: 'frostline: time out sessions stalled past their deadline',
      schedule: events.Schedule.rate(Duration.minutes(limits.sweepEveryMinutes)),
      targets: [new targets.LambdaFunction(sweeper.function, { retryAttempts: 0 })],
    });
    alarmOnAny(this, 'StalledSessionsAlarm', {
      description:
        `sessions were still open ${limits.stalledAfterMinutes} minutes after they started and were timed out ` +
        '(initiators told): see the sweeper log, "session expired", for their ids and who never answered',
      metric: frostlineMetric(MetricName.stalledSessions, ServiceName.sweeper, Duration.minutes(Math.max(5, limits.sweepEveryMinutes))),
      action: alarmAction,
    });
    return sweeper;
  }
}

/**
 * What `Coordinator.expireStalled` calls on the table: Scan (listing sessions), GetItem
 * (re-reading a session, and a sign session's key record) and PutItem (the conditional
 * transition to failed). No DeleteItem, Query or transactions.
 */
export const SWEEPER_TABLE_ACTIONS = ['dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:PutItem'] as const;
