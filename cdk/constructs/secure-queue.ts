/**
 * A standard SQS queue with a dead-letter queue, both with SQS-managed server-side
 * encryption and a TLS-only policy, and an alarm on the dead-letter queue's depth.
 *
 * SQS-managed keys rather than a KMS key: senders in other accounts would otherwise need
 * `kms:GenerateDataKey` on our key, a second cross-account grant for every queue. Message
 * bodies are signed envelopes whose secret parts (DKG shares) are already sealed end to end.
 *
 * Cross-account access names the account as principal and pins the exact role with
 * `aws:PrincipalArn`: the role need not exist yet when this queue is deployed (the other
 * account may deploy later), and no other principal of that account qualifies.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmOnAny } from './alarms.js';

export interface SecureQueueProps {
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  /** Receives before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** At least six times the consumer's timeout (AWS guidance for Lambda event sources). */
  readonly visibilityTimeout: Duration;
  /** @default 4 days */
  readonly retentionPeriod?: Duration;
  /** Where the dead-letter alarm goes. @default no action */
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

/** account id of an IAM ARN `arn:<partition>:iam::<account>:...` */
function accountOf(principalArn: string): string {
  const account = /^arn:[^:]+:iam::(\d{12}):/.exec(principalArn)?.[1];
  if (account === undefined) throw new Error(`not an IAM principal ARN: ${principalArn}`);
  return account;
}

export class SecureQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SecureQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: props.deadLetterQueueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.deadLetterAlarm = alarmOnAny(this, 'DeadLetterAlarm', {
      description: `${props.deadLetterQueueName} holds messages that failed ${props.maxReceiveCount} times: inspect, fix, then redrive`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      action: props.alarmAction,
    });
  }

  /** Lets exactly these principals (roles or users, any account) send. */
  allowSendFrom(sid: string, principalArns: readonly string[]): void {
    this.allow(sid, principalArns, ['sqs:SendMessage']);
  }

  /** Lets exactly these principals consume, and denies receiving to everyone else. */
  allowReceiveOnlyBy(sid: string, principalArns: readonly string[]): void {
    this.allow(sid, principalArns, ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl']);
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `${sid}Exclusively`,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sqs:ReceiveMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': [...principalArns].sort() } },
      }),
    );
  }

  private allow(sid: string, principalArns: readonly string[], actions: string[]): void {
    if (principalArns.length === 0) throw new Error(`${this.node.path}: ${sid} names no principal`);
    const accounts = [...new Set(principalArns.map(accountOf))].sort();
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid,
        principals: accounts.map((account) => new iam.AccountPrincipal(account)),
        actions,
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:PrincipalArn': [...principalArns].sort() } },
      }),
    );
  }
}
