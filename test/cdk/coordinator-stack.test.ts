import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { loadRuntimeConfig, RuntimeEnv } from '../../lib/config/runtime.js';
import { loadSweeperConfig, SweeperEnv } from '../../lib/config/sweeper.js';
import { actionsOf, appWithoutBundling, exampleConfig, plain, resourcesOf, statementsOf, templateOf, unpinnedConfig } from './support.js';

const config = exampleConfig();
const { coordinator: stack } = appWithoutBundling(config, { kind: 'coordinator' });
if (stack === undefined) throw new Error('no coordinator stack');
const template = templateOf(stack);

const PARTY_INBOX_ARNS = ['arn:aws:sqs:eu-west-1:111111111111:frostline-p1-inbox', 'arn:aws:sqs:eu-central-1:222222222222:frostline-p2-inbox', 'arn:aws:sqs:eu-north-1:333333333333:frostline-p3-inbox'];
const PARTY_ROLES = ['111111111111', '222222222222', '333333333333'].map((a, i) => `arn:aws:iam::${a}:role/frostline-p${i + 1}-inbox-handler`);
const PAYMENTS = 'arn:aws:iam::555555555555:role/payments-signer';
const TREASURY = 'arn:aws:iam::666666666666:role/treasury-admin';

function queuePolicyOf(queueLogicalIdPrefix: string) {
  const policies = resourcesOf(template, 'AWS::SQS::QueuePolicy').filter(([, p]) =>
    JSON.stringify(p.Queues).includes(`"${queueLogicalIdPrefix}`),
  );
  expect(policies).toHaveLength(1);
  return statementsOf(plain(policies[0]?.[1].PolicyDocument));
}

function roleArnRef(prefix: string): unknown {
  const id = Object.keys(template.findResources('AWS::IAM::Role')).find((logicalId) => logicalId.startsWith(prefix));
  return { 'Fn::GetAtt': [id, 'Arn'] };
}

describe('CoordinatorStack', () => {
  test('has exactly the expected resources', () => {
    const counts: Record<string, number> = {
      'AWS::KMS::Key': 1,
      'AWS::KMS::Alias': 1,
      // inbox, requests, and two initiators' result queues, each with a DLQ
      'AWS::SQS::Queue': 8,
      'AWS::SQS::QueuePolicy': 8,
      'AWS::IAM::Role': 3,
      'AWS::IAM::Policy': 3,
      'AWS::DynamoDB::Table': 1,
      'AWS::Logs::LogGroup': 3,
      'AWS::Lambda::Function': 3,
      // The AWS SDK, one layer shared by the stack's functions (cdk/constructs/aws-sdk-layer.ts).
      'AWS::Lambda::LayerVersion': 1,
      'AWS::Lambda::EventSourceMapping': 2,
      'AWS::Lambda::Permission': 1,
      'AWS::Events::Rule': 1,
      // 4 DLQs + errors/throttles of 3 functions + Failed of 2 queue handlers + stalled sessions
      'AWS::CloudWatch::Alarm': 13,
    };
    for (const [type, count] of Object.entries(counts)) template.resourceCountIs(type, count);
    const types = new Set(Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type));
    expect([...types].filter((t) => t !== 'AWS::CDK::Metadata').sort()).toEqual(Object.keys(counts).sort());
    expect(stack.stackName).toBe('frostline-coordinator');
    expect(stack.account).toBe('444444444444');
  });

  test('inbox: only the three party handler roles send', () => {
    const allows = queuePolicyOf('InboxQueue').filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Principal: { AWS: ['111111111111', '222222222222', '333333333333'].map((a) => `arn:aws:iam::${a}:root`) },
        Condition: { ArnEquals: { 'aws:PrincipalArn': PARTY_ROLES } },
      }),
    ]);
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'frostline-coordinator-inbox', RedrivePolicy: { maxReceiveCount: 5 }, SqsManagedSseEnabled: true });
  });

  test('request queue: only the initiators send', () => {
    const allows = queuePolicyOf('RequestsQueue').filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Principal: { AWS: ['arn:aws:iam::555555555555:root', 'arn:aws:iam::666666666666:root'] },
        Condition: { ArnEquals: { 'aws:PrincipalArn': [PAYMENTS, TREASURY] } },
      }),
    ]);
  });

  test('result queues: each receivable by its own initiator only', () => {
    for (const [id, principal, account] of [
      ['payments', PAYMENTS, '555555555555'],
      ['treasury', TREASURY, '666666666666'],
    ] as const) {
      template.hasResourceProperties('AWS::SQS::Queue', { QueueName: `frostline-results-${id}`, RedrivePolicy: { maxReceiveCount: 5 } });
      const statements = queuePolicyOf(`Results${id}Queue`);
      const allows = statements.filter((s) => s.Effect === 'Allow');
      expect(allows).toHaveLength(1);
      expect(allows[0]?.Principal).toEqual({ AWS: `arn:aws:iam::${account}:root` });
      expect(allows[0]?.Condition).toEqual({ ArnEquals: { 'aws:PrincipalArn': [principal] } });
      expect(actionsOf(allows[0] ?? { Effect: 'Allow', Action: [] }).sort()).toEqual([
        'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage',
      ]);
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 'sqs:ReceiveMessage', Principal: { AWS: '*' }, Condition: { ArnNotEquals: { 'aws:PrincipalArn': [principal] } } }),
      );
    }
  });

  test('handlers send to party inboxes and result queues; no IAM wildcard actions', () => {
    for (const [, policy] of resourcesOf(template, 'AWS::IAM::Policy')) {
      for (const statement of statementsOf(policy.PolicyDocument)) {
        for (const action of actionsOf(statement)) expect(action).not.toContain('*');
        expect(statement.Resource).not.toBe('*');
      }
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Resource: ['arn:aws:sqs:eu-west-1:111111111111:frostline-p1-inbox', 'arn:aws:sqs:eu-central-1:222222222222:frostline-p2-inbox', 'arn:aws:sqs:eu-north-1:333333333333:frostline-p3-inbox'],
          }),
        ]),
      },
    });
  });

  test('sweeper role: exactly what expireStalled calls (table Scan/GetItem/PutItem, send to result queues and party inboxes, its logs)', () => {
    const sweeper = resourcesOf(template, 'AWS::IAM::Policy').find(([id]) => id.startsWith('SweeperRole'));
    const statements = statementsOf(sweeper?.[1].PolicyDocument);
    const single = (resource: unknown) => (Array.isArray(resource) && resource.length === 1 ? resource[0] : resource);
    expect(statements.map((s) => [s.Effect, actionsOf(s).sort(), single(s.Resource)])).toEqual([
      ['Allow', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan'], { 'Fn::GetAtt': [expect.stringMatching(/^SessionsTable/), 'Arn'] }],
      [
        'Allow',
        ['sqs:SendMessage'],
        [
          { 'Fn::GetAtt': [expect.stringMatching(/^ResultspaymentsQueue/), 'Arn'] },
          { 'Fn::GetAtt': [expect.stringMatching(/^ResultstreasuryQueue/), 'Arn'] },
        ],
      ],
      // A one-round signing attempt whose signer went silent falls back to two rounds: sign.commit to every party.
      ['Allow', ['sqs:SendMessage'], PARTY_INBOX_ARNS],
      ['Allow', ['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::GetAtt': [expect.stringMatching(/^SweeperLogs/), 'Arn'] }],
    ]);
  });

  test('identity key: Sign for the two handler roles and the sweeper only; GetPublicKey for the four accounts', () => {
    const [[, key]] = [resourcesOf(template, 'AWS::KMS::Key')[0] ?? ['', {}]];
    const statements = statementsOf(plain(key.KeyPolicy));
    const sign = statements.filter((s) => actionsOf(s).includes('kms:Sign'));
    expect(sign).toHaveLength(1);
    expect(sign[0]?.Principal).toEqual({ AWS: [roleArnRef('InboxRole'), roleArnRef('IntakeRole'), roleArnRef('SweeperRole')] });
    expect(statements.find((s) => s.Sid === 'PeersReadPublicKey')?.Principal).toEqual({
      AWS: ['111111111111', '222222222222', '333333333333', '444444444444'].map((a) => `arn:aws:iam::${a}:root`),
    });
    for (const statement of statements) for (const action of actionsOf(statement)) expect(action).not.toContain('*');
  });

  test('sessions table: PITR, TTL, deletion protection, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        TableName: 'frostline-coordinator-sessions',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      }),
      DeletionPolicy: 'Retain',
    });
  });

  test('handlers: runtime, architecture, event sources; environments satisfy their contracts', () => {
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    for (const [, fn] of functions) {
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      expect(typeof fn.ReservedConcurrentExecutions).toBe('number');
    }
    for (const name of ['frostline-coordinator-inbox', 'frostline-coordinator-intake']) {
      const [, fn] = functions.find(([, p]) => p.FunctionName === name) ?? ['', {}];
      const variables = (fn.Environment as { Variables: Record<string, string> }).Variables;
      const runtime = loadRuntimeConfig({ ...variables, [RuntimeEnv.region]: 'eu-west-1' });
      expect(runtime.role).toBe('coordinator');
      // The coordinator wraps no data keys: no master key is configured.
      expect(variables).not.toHaveProperty(RuntimeEnv.masterKeyId);
      expect(runtime.directory.approvers).toBeUndefined();
      expect(runtime.queueUrls.parties).toEqual({
        p1: 'https://sqs.eu-west-1.amazonaws.com/111111111111/frostline-p1-inbox',
        p2: 'https://sqs.eu-central-1.amazonaws.com/222222222222/frostline-p2-inbox',
        p3: 'https://sqs.eu-north-1.amazonaws.com/333333333333/frostline-p3-inbox',
      });
      expect(Object.keys(runtime.queueUrls.initiators).sort()).toEqual(['payments', 'treasury']);
    }
    const variablesOf = (name: string) => (functions.find(([, p]) => p.FunctionName === name)?.[1].Environment as { Variables: Record<string, string> }).Variables;
    // The sweeper runs a Coordinator: the handlers' environment plus the stall deadline.
    const sweeper = loadSweeperConfig({ ...variablesOf('frostline-coordinator-sweeper'), [RuntimeEnv.region]: 'eu-west-1' });
    expect(sweeper.stalledAfterMs).toBe(15 * 60_000);
    expect(sweeper.coordinator).toEqual(loadRuntimeConfig({ ...variablesOf('frostline-coordinator-inbox'), [RuntimeEnv.region]: 'eu-west-1' }));
    expect(Object.keys(variablesOf('frostline-coordinator-sweeper')).sort()).toEqual(
      [...Object.keys(variablesOf('frostline-coordinator-inbox')), SweeperEnv.stalledAfterMinutes].sort(),
    );
    const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(2);
    for (const [, mapping] of mappings) {
      expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: 10 });
    }
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Frostline',
      MetricName: 'StalledSessions',
      Dimensions: [{ Name: 'service', Value: 'frostline-sweeper' }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  test('alarms: DLQ depth, errors and throttles of every function, Failed of both queue handlers, timed-out sessions', () => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
    const failed = alarms.filter(([, p]) => p.Namespace === 'Frostline' && p.MetricName === 'Failed');
    expect(failed.map(([, p]) => p.Dimensions).sort()).toEqual([
      [{ Name: 'service', Value: 'frostline-coordinator' }],
      [{ Name: 'service', Value: 'frostline-request-intake' }],
    ]);
    for (const [, alarm] of failed) {
      expect(alarm).toMatchObject({ Statistic: 'Sum', Period: 300, Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    }
    const metrics = alarms.map(([, p]) => `${String(p.Namespace)}/${String(p.MetricName)}`).sort();
    expect(metrics).toEqual([
      ...Array<string>(4).fill('AWS/SQS/ApproximateNumberOfMessagesVisible'),
      ...Array<string>(3).fill('AWS/Lambda/Errors'),
      ...Array<string>(3).fill('AWS/Lambda/Throttles'),
      'Frostline/Failed',
      'Frostline/Failed',
      'Frostline/StalledSessions',
    ].sort());
  });

  test('before pinning: queues, table, key and roles, but no functions (the sweeper runs a Coordinator too)', () => {
    const unpinned = templateOf(appWithoutBundling(unpinnedConfig(), { kind: 'coordinator' }).coordinator ?? stack);
    unpinned.resourceCountIs('AWS::Lambda::Function', 0);
    unpinned.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    unpinned.resourceCountIs('AWS::Events::Rule', 0);
    unpinned.resourceCountIs('AWS::SQS::Queue', 8);
    unpinned.resourceCountIs('AWS::IAM::Role', 3);
    unpinned.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });
});

describe('CoordinatorStack outputs', () => {
  // An application team finds its queues in the stack outputs (or `frostline config show-endpoints`).
  test("each initiator's result queue URL is an output, next to the request queue's", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description?: string }>;
    const queueIdByName = Object.fromEntries(
      Object.entries(template.findResources('AWS::SQS::Queue')).map(([logicalId, queue]) => [String((queue.Properties as { QueueName: unknown }).QueueName), logicalId]),
    );
    const byDescription = Object.fromEntries(Object.values(outputs).map((output) => [output.Description ?? '', output.Value]));
    expect(byDescription['result queue of initiator payments']).toEqual({ Ref: queueIdByName['frostline-results-payments'] });
    expect(byDescription['result queue of initiator treasury']).toEqual({ Ref: queueIdByName['frostline-results-treasury'] });
    expect(Object.entries(outputs).find(([id]) => id === 'RequestQueueUrl')?.[1].Value).toEqual({ Ref: queueIdByName['frostline-requests'] });
  });
});
