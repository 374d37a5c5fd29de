import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { parseDeploymentConfig, partyPolicyOf } from '../../lib/config/deployment.js';
import { loadRuntimeConfig, RuntimeEnv } from '../../lib/config/runtime.js';
import { actionsOf, appWithoutBundling, ed25519Key, exampleConfig, exampleInput, p256Key, plain, resourcesOf, statementsOf, templateOf, unpinnedConfig } from './support.js';

const config = exampleConfig();
const { parties } = appWithoutBundling(config, { kind: 'party', party: 'p1' });
const stack = parties.get('p1');
if (stack === undefined) throw new Error('no p1 stack');
const template = templateOf(stack);

const COORDINATOR_ROLES = [
  'arn:aws:iam::444444444444:role/frostline-coordinator-inbox-handler',
  'arn:aws:iam::444444444444:role/frostline-coordinator-intake-handler',
  'arn:aws:iam::444444444444:role/frostline-coordinator-sweeper',
];

function keyPolicy(description: RegExp) {
  const keys = resourcesOf(template, 'AWS::KMS::Key').filter(([, p]) => description.test(String(p.Description)));
  expect(keys).toHaveLength(1);
  const [, properties] = keys[0] ?? ['', {}];
  return { properties, statements: statementsOf(plain(properties.KeyPolicy)) };
}

function handlerRoleRef(): unknown {
  const [id] = Object.keys(template.findResources('AWS::IAM::Role'));
  return { 'Fn::GetAtt': [id, 'Arn'] };
}

describe('PartyStack', () => {
  test('has exactly the expected resources', () => {
    const counts: Record<string, number> = {
      'AWS::KMS::Key': 2,
      'AWS::KMS::Alias': 2,
      'AWS::SQS::Queue': 2,
      'AWS::SQS::QueuePolicy': 2,
      'AWS::IAM::Role': 1,
      'AWS::IAM::Policy': 1,
      'AWS::DynamoDB::Table': 1,
      'AWS::Logs::LogGroup': 1,
      'AWS::Lambda::Function': 1,
      // The AWS SDK, one layer shared by the stack's functions (cdk/constructs/aws-sdk-layer.ts).
      'AWS::Lambda::LayerVersion': 1,
      'AWS::Lambda::EventSourceMapping': 1,
      'AWS::CloudWatch::Alarm': 4,
    };
    for (const [type, count] of Object.entries(counts)) template.resourceCountIs(type, count);
    const types = new Set(Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type));
    expect([...types].filter((t) => t !== 'AWS::CDK::Metadata').sort()).toEqual(Object.keys(counts).sort());
  });

  test('names are deterministic and the stack targets the party account', () => {
    expect(stack.stackName).toBe('frostline-p1');
    expect(stack.account).toBe('111111111111');
    expect(stack.region).toBe('eu-west-1');
    expect(stack.terminationProtection).toBe(true);
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'frostline-p1-inbox-handler' });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'frostline-p1-inbox' });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'frostline-p1-inbox-dlq' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'frostline-p1-store' });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/frostline/p1/identity' });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/frostline/p1/shares' });
  });

  test('no key policy allows kms:* or any action wildcard, or a "*" principal', () => {
    for (const [, properties] of resourcesOf(template, 'AWS::KMS::Key')) {
      for (const statement of statementsOf(plain(properties.KeyPolicy))) {
        expect(statement.Effect).toBe('Allow');
        for (const action of actionsOf(statement)) expect(action).not.toContain('*');
        expect(JSON.stringify(statement.Principal)).not.toMatch(/"\*"/);
      }
    }
  });

  test('shares key: rotation on, retained, only the handler role wraps data keys, under this party\'s context', () => {
    const { properties, statements } = keyPolicy(/wraps the data keys/);
    expect(properties.EnableKeyRotation).toBe(true);
    template.hasResource('AWS::KMS::Key', { Properties: Match.objectLike({ Description: Match.stringLikeRegexp('wraps the data keys') }), DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const usage = statements.filter((s) => actionsOf(s).some((a) => !a.startsWith('kms:') || ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt', 'kms:Sign', 'kms:CreateGrant', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'].includes(a)));
    expect(usage.map((s) => ({ ...s, Action: actionsOf(s).sort() }))).toEqual([
      {
        Sid: 'HandlerWrapsDataKeysForThisPartyOnly',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Principal: { AWS: handlerRoleRef() },
        Resource: '*',
        Condition: {
          StringEquals: { 'kms:EncryptionContext:service': 'frostline', 'kms:EncryptionContext:party': 'p1' },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['service', 'party', 'keyId', 'purpose'] },
        },
      },
    ]);
    const admin = statements.find((s) => s.Sid === 'AccountManagesKeyButCannotUseIt');
    expect(admin?.Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:root' });
    expect(actionsOf(admin ?? { Effect: 'Allow', Action: [] })).not.toEqual(expect.arrayContaining(['kms:Decrypt']));
  });

  test('identity key: Ed25519, Sign for the handler role only, GetPublicKey for the four accounts', () => {
    const { properties, statements } = keyPolicy(/identity key/);
    expect(properties.KeySpec).toBe('ECC_NIST_EDWARDS25519');
    expect(properties.KeyUsage).toBe('SIGN_VERIFY');
    expect(statements.find((s) => s.Sid === 'HandlersSignEnvelopes')).toEqual({
      Sid: 'HandlersSignEnvelopes',
      Effect: 'Allow',
      Action: 'kms:Sign',
      Principal: { AWS: handlerRoleRef() },
      Resource: '*',
      Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ED25519_SHA_512', 'kms:MessageType': 'RAW' } },
    });
    expect(statements.find((s) => s.Sid === 'PeersReadPublicKey')).toEqual({
      Sid: 'PeersReadPublicKey',
      Effect: 'Allow',
      Action: 'kms:GetPublicKey',
      Principal: { AWS: ['111111111111', '222222222222', '333333333333', '444444444444'].map((a) => `arn:aws:iam::${a}:root`) },
      Resource: '*',
    });
    expect(statements.filter((s) => actionsOf(s).includes('kms:Sign'))).toHaveLength(1);
    expect(statements).toHaveLength(3);
  });

  test('inbox: SQS-managed encryption, TLS only, redrive to the DLQ, only the coordinator handler roles send', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'frostline-p1-inbox',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('InboxDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'frostline-p1-inbox-dlq', SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    const policies = resourcesOf(template, 'AWS::SQS::QueuePolicy').map(([, p]) => statementsOf(plain(p.PolicyDocument)));
    for (const statements of policies) {
      expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    }
    const allows = policies.flat().filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Sid: 'CoordinatorHandlersSend',
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Principal: { AWS: 'arn:aws:iam::444444444444:root' },
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^InboxQueue/), 'Arn'] },
        Condition: { ArnEquals: { 'aws:PrincipalArn': COORDINATOR_ROLES } },
      },
    ]);
  });

  test('table: on demand, PITR, TTL on expiresAt, deletion protection, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        TableName: 'frostline-p1-store',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('handler: nodejs22.x on arm64, bounded, with an event source reporting batch item failures', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'frostline-p1-inbox',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 30,
      ReservedConcurrentExecutions: 5,
      MemorySize: 1024,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('InboxHandlerLogs') } },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 90 }, DeletionPolicy: 'Retain' });
  });

  test('handler environment satisfies the runtime contract (loadRuntimeConfig accepts it)', () => {
    const [[, fn]] = [resourcesOf(template, 'AWS::Lambda::Function')[0] ?? ['', {}]];
    const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    const env: Record<string, string> = { [RuntimeEnv.region]: 'eu-west-1' };
    for (const [name, value] of Object.entries(variables)) env[name] = typeof value === 'string' ? value : 'arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000';
    const runtime = loadRuntimeConfig(env);
    expect(runtime.role).toBe('party');
    if (runtime.role !== 'party') return;
    expect(runtime.partyId).toBe('p1');
    expect(runtime.identityKeyId).toBe('arn:aws:kms:eu-west-1:111111111111:alias/frostline/p1/identity');
    expect(runtime.tableName).toBe('frostline-p1-store');
    expect(runtime.queueUrls.coordinator).toBe('https://sqs.eu-west-1.amazonaws.com/444444444444/frostline-coordinator-inbox');
    const p1 = config.parties[0];
    if (p1 === undefined) throw new Error('no p1');
    expect(runtime.policy).toEqual(partyPolicyOf(config, p1));
    expect(runtime.policy.keys).toEqual({ 'treasury-cold': { approvals: { quorum: 2, approvers: ['alice', 'bob', 'carol'] } } });
    expect(Object.keys(runtime.directory.parties).sort()).toEqual(['p1', 'p2', 'p3']);
    expect(runtime.directory.approvers).toEqual(config.approvers);
    expect(variables[RuntimeEnv.masterKeyId]).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SharesKey/), 'Arn'] });
    expect(variables).not.toHaveProperty(RuntimeEnv.region);
  });

  test('IAM: exact statements, no wildcard action or resource', () => {
    const [[, policy]] = [resourcesOf(template, 'AWS::IAM::Policy')[0] ?? ['', {}]];
    const statements = statementsOf(policy.PolicyDocument);
    for (const statement of statements) {
      for (const action of actionsOf(statement)) expect(action).not.toContain('*');
      expect(statement.Resource).not.toBe('*');
    }
    const single = (resource: unknown) => (Array.isArray(resource) && resource.length === 1 ? resource[0] : resource);
    expect(statements.map((s) => [actionsOf(s).sort(), single(s.Resource)])).toEqual([
      [
        ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan'],
        { 'Fn::GetAtt': [expect.stringMatching(/^StoreTable/), 'Arn'] },
      ],
      [['sqs:SendMessage'], 'arn:aws:sqs:eu-west-1:444444444444:frostline-coordinator-inbox'],
      [['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::GetAtt': [expect.stringMatching(/^InboxHandlerLogs/), 'Arn'] }],
      [
        ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
        { 'Fn::GetAtt': [expect.stringMatching(/^InboxQueue/), 'Arn'] },
      ],
    ]);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  test('alarms on DLQ depth, handler errors and throttles, and messages the handler failed', () => {
    const metrics = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, p]) => `${String(p.Namespace)}/${String(p.MetricName)}`).sort();
    expect(metrics).toEqual(['AWS/Lambda/Errors', 'AWS/Lambda/Throttles', 'AWS/SQS/ApproximateNumberOfMessagesVisible', 'Frostline/Failed']);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Frostline',
      MetricName: 'Failed',
      Dimensions: [{ Name: 'service', Value: 'frostline-party' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('alarms notify the party\'s topic when configured', () => {
    const topic = 'arn:aws:sns:eu-west-1:111111111111:frostline-alarms';
    const base = exampleConfig();
    const withTopic = exampleConfig({ parties: base.parties.map((p) => (p.id === 'p1' ? { ...p, alarmTopicArn: topic } : p)) });
    const t = templateOf(appWithoutBundling(withTopic, { kind: 'party', party: 'p1' }).parties.get('p1') ?? stack);
    for (const [, alarm] of resourcesOf(t, 'AWS::CloudWatch::Alarm')) expect(alarm.AlarmActions).toEqual([topic]);
  });

  test('policy: per-party key rules replace the global rule of the same key; only named approvers reach the directory', () => {
    const base = exampleInput();
    const dave = ed25519Key();
    const input = {
      ...base,
      approvers: { ...base.approvers, dave },
      policy: { keys: { 'treasury-cold': { approvals: { quorum: 2, approvers: ['alice', 'bob', 'carol'] } }, '*': { rateLimit: { max: 100, windowSeconds: 3600 } } } },
      parties: (base.parties ?? []).map((p) => (p.id === 'p2' ? { ...p, policy: { keys: { 'treasury-cold': { approvals: { quorum: 1, approvers: ['dave'] } } } } } : p)),
    };
    const custom = parseDeploymentConfig(input);
    const envOf = (party: string) => {
      const t = templateOf(appWithoutBundling(custom, { kind: 'party', party }).parties.get(party) ?? stack);
      const [[, fn]] = [resourcesOf(t, 'AWS::Lambda::Function')[0] ?? ['', {}]];
      const variables = (fn.Environment as { Variables: Record<string, string> }).Variables;
      return {
        policy: JSON.parse(variables[RuntimeEnv.policy] ?? '{}') as { keys?: unknown },
        approvers: Object.keys((JSON.parse(variables[RuntimeEnv.directory] ?? '{}') as { approvers?: object }).approvers ?? {}),
      };
    };
    expect(envOf('p1')).toEqual({
      policy: expect.objectContaining({
        keys: { 'treasury-cold': { approvals: { quorum: 2, approvers: ['alice', 'bob', 'carol'] } }, '*': { rateLimit: { max: 100, windowSeconds: 3600 } } },
      }),
      approvers: ['alice', 'bob', 'carol'],
    });
    expect(envOf('p2')).toEqual({
      policy: expect.objectContaining({
        keys: { 'treasury-cold': { approvals: { quorum: 1, approvers: ['dave'] } }, '*': { rateLimit: { max: 100, windowSeconds: 3600 } } },
      }),
      approvers: ['dave'],
    });
  });

  test('an environment over Lambda\'s 4 KB limit stops the synthesis, naming the function and the largest variables', () => {
    const base = exampleInput();
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`approver-${String(i).padStart(2, '0')}`, p256Key()]));
    const big = parseDeploymentConfig({ ...base, approvers: many, policy: { keys: { '*': { approvals: { quorum: 2, approvers: Object.keys(many) } } } } });
    expect(() => appWithoutBundling(big, { kind: 'party', party: 'p1' })).toThrow(
      /function frostline-p1-inbox: its environment is \d+ bytes, over Lambda's limit of 4096 bytes \(largest: FROSTLINE_DIRECTORY \d+/,
    );
    // The coordinator carries no approvers, so the same config still fits there.
    expect(() => appWithoutBundling(big, { kind: 'coordinator' })).not.toThrow();
  });

  test('before pinning: keys, table, queues and role, but no handler', () => {
    const app = appWithoutBundling(unpinnedConfig(), { kind: 'party', party: 'p2' });
    const unpinned = templateOf(app.parties.get('p2') ?? stack);
    unpinned.resourceCountIs('AWS::Lambda::Function', 0);
    unpinned.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    unpinned.resourceCountIs('AWS::KMS::Key', 2);
    unpinned.resourceCountIs('AWS::IAM::Role', 1);
    unpinned.resourceCountIs('AWS::CloudWatch::Alarm', 1);
  });

  test('rotating the identity key creates a new key and moves the same alias', () => {
    const base = exampleConfig();
    const rotated = exampleConfig({ parties: base.parties.map((p) => (p.id === 'p1' ? { ...p, identityKeyVersion: 2 } : p)) });
    const after = templateOf(appWithoutBundling(rotated, { kind: 'party', party: 'p1' }).parties.get('p1') ?? stack);
    const keyIds = (t: typeof template) => resourcesOf(t, 'AWS::KMS::Key').filter(([, p]) => /identity key/.test(String(p.Description))).map(([id]) => id);
    const aliasIds = (t: typeof template) => resourcesOf(t, 'AWS::KMS::Alias').map(([id]) => id).sort();
    expect(keyIds(after)).not.toEqual(keyIds(template));
    expect(aliasIds(after)).toEqual(aliasIds(template));
  });

  test('P-256 identity keys by config', () => {
    const base = exampleConfig();
    const p256 = exampleConfig({
      identityKeySpec: 'p256',
      pinned: { coordinator: p256Key(), parties: Object.fromEntries(base.parties.map((p) => [p.id, p256Key()])), initiators: { treasury: p256Key() } },
    });
    const t = templateOf(appWithoutBundling(p256, { kind: 'party', party: 'p3' }).parties.get('p3') ?? stack);
    t.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Sign', Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'RAW' } } })]) },
    });
  });
});
