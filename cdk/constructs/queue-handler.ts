/**
 * Lambda plumbing shared by every frostline function:
 * - `HandlerRole`: an execution role with a deterministic name (peer accounts name it in
 *   their policies) and only the log permissions of its own log group — no managed policy.
 * - `FrostlineFunction`: a NodejsFunction bundled by the local esbuild (ESM, ARM64,
 *   Node.js 22; the AWS SDK at our pinned version in the stack's SDK layer), with bounded reserved
 *   concurrency, a timeout, a retained log group, and alarms on errors and throttles.
 * - `QueueHandler`: a FrostlineFunction fed by an SQS event source that reports batch
 *   item failures, with an alarm on the `Failed` metric its inbox handler publishes.
 *
 * A function's environment is measured before anything is built: Lambda refuses more than
 * 4 KB of variables, and CloudFormation would only say so mid-deployment.
 */
import { Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MetricName } from '../../lib/config/observability.js';
import { environmentSize, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from '../../lib/config/runtime.js';
import { ConfigError } from '../../lib/ports/errors.js';
import { aliasEsbuildArgs, BUNDLE_SIDE_FILES, HANDLER_BUNDLING, handlerNodeOptions, SOURCE_MAPS_NODE_OPTION } from '../handler-bundling.js';
import { LOCK_FILE, PROJECT_ROOT } from '../paths.js';
import { alarmOnAny, frostlineMetric } from './alarms.js';
import { awsSdkLayer } from './aws-sdk-layer.js';

export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_22_X;
export const HANDLER_ARCHITECTURE = lambda.Architecture.ARM_64;

export interface HandlerRoleProps {
  readonly roleName: string;
  readonly description: string;
}

export class HandlerRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HandlerRoleProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      description: props.description,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      maxSessionDuration: Duration.hours(1),
    });
  }
}

export interface FrostlineFunctionProps {
  readonly functionName: string;
  /** The TypeScript entry file under functions/. */
  readonly entry: string;
  readonly role: iam.Role;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeout: Duration;
  /** Upper bound on concurrent executions (also protects the account's other functions). */
  readonly reservedConcurrency: number;
  readonly logRetention: logs.RetentionDays;
  /** @default 512 */
  readonly memorySize?: number;
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

/** HANDLER_BUNDLING's format as the CDK enum. */
const OUTPUT_FORMAT = { esm: nodejs.OutputFormat.ESM, cjs: nodejs.OutputFormat.CJS } as const;

/** NODE_OPTIONS for every function, when the synth asked for source maps (handlerNodeOptions); else no variable. */
function nodeOptionsVariable(): Record<string, string> {
  const options = handlerNodeOptions();
  return options === undefined ? {} : { NODE_OPTIONS: options };
}

/**
 * Counted for a value only known at deploy time (a token, e.g. the shares key's ARN):
 * no ARN or name frostline puts into an environment is longer.
 */
const UNRESOLVED_VALUE_BYTES = 256;

/** The function's environment against Lambda's 4 KB limit; a problem naming the largest variables, or undefined. */
export function environmentLimitProblem(functionName: string, environment: Readonly<Record<string, string>>): string | undefined {
  const measured = Object.fromEntries(
    // Counted as if source maps were on, so that switching them on for debugging never breaks the limit.
    Object.entries({ ...environment, NODE_OPTIONS: SOURCE_MAPS_NODE_OPTION }).map(([name, value]) => [name, Token.isUnresolved(value) ? 'x'.repeat(UNRESOLVED_VALUE_BYTES) : value]),
  );
  const { bytes, largest } = environmentSize(measured);
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return undefined;
  return (
    `function ${functionName}: its environment is ${bytes} bytes, over Lambda's limit of ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes ` +
    `(largest: ${largest.map(([name, size]) => `${name} ${size}`).join(', ')}). Fewer or shorter initiators, approvers or key rules ` +
    '(approvers reach a party only if its policy names them), or shorter ids, bring it down.'
  );
}

export class FrostlineFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly throttlesAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: FrostlineFunctionProps) {
    const tooLarge = environmentLimitProblem(props.functionName, props.environment);
    if (tooLarge !== undefined) throw new ConfigError(tooLarge);
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      // Kept after the stack is gone: the record of what the signer did.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Lambda writes to the group given in loggingConfig; it needs no logs:CreateLogGroup.
    props.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      entry: props.entry,
      handler: 'handler',
      runtime: HANDLER_RUNTIME,
      architecture: HANDLER_ARCHITECTURE,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: props.role,
      layers: [awsSdkLayer(this, HANDLER_RUNTIME, HANDLER_ARCHITECTURE)],
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...props.environment, ...nodeOptionsVariable() },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: LOCK_FILE,
      // One definition of the build (cdk/handler-bundling.ts), shared with the bundle-size test.
      bundling: {
        forceDockerBundling: false,
        format: OUTPUT_FORMAT[HANDLER_BUNDLING.format],
        target: HANDLER_BUNDLING.target,
        mainFields: [...HANDLER_BUNDLING.mainFields],
        banner: HANDLER_BUNDLING.banner,
        externalModules: [...HANDLER_BUNDLING.externalModules],
        minify: HANDLER_BUNDLING.minify,
        sourceMap: HANDLER_BUNDLING.sourceMap,
        sourcesContent: HANDLER_BUNDLING.sourcesContent,
        esbuildArgs: aliasEsbuildArgs(HANDLER_BUNDLING.alias),
        // libsecp256k1's WASM beside the bundle (see BUNDLE_SIDE_FILES): tiny-secp256k1 is
        // bundled into the handler (not the SDK layer), so it reads the file from /var/task.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => BUNDLE_SIDE_FILES.map((file) => `cp "${file}" "${outputDir}/"`),
        },
      },
    });
    // On the CfnFunction itself, so the acknowledgement covers this one resource only.
    const cfnFunction = this.function.node.defaultChild;
    if (cfnFunction === undefined) throw new Error(`${this.node.path}: NodejsFunction without a CfnFunction`);
    Validations.of(cfnFunction).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the bundles are built and tested for Node 22 (esbuild target node22) and the ' +
        'runtime is supported until 2027-04; moving to a newer runtime is a tested change of HANDLER_RUNTIME, not drift.',
    });
    this.errorsAlarm = alarmOnAny(this, 'ErrorsAlarm', {
      description: `${props.functionName} failed as a whole (cold-start configuration error, timeout or crash)`,
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      action: props.alarmAction,
    });
    this.throttlesAlarm = alarmOnAny(this, 'ThrottlesAlarm', {
      description: `${props.functionName} was throttled at its reserved concurrency of ${props.reservedConcurrency}`,
      metric: this.function.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      action: props.alarmAction,
    });
  }
}

export interface QueueHandlerProps extends FrostlineFunctionProps {
  readonly queue: sqs.IQueue;
  /**
   * The Powertools service name the handler publishes its metrics under (the `service`
   * dimension; lib/config/observability.ts `ServiceName`).
   */
  readonly metricsService: string;
  /** @default 10 */
  readonly batchSize?: number;
}

export class QueueHandler extends FrostlineFunction {
  /** Messages whose handling threw (left for redelivery): infrastructure trouble or a bug, never a refusal. */
  readonly failedAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: QueueHandlerProps) {
    super(scope, id, props);
    this.failedAlarm = alarmOnAny(this, 'FailedAlarm', {
      description:
        `${props.functionName} failed to handle messages; they are redelivered and reach the dead-letter queue after ` +
        'maxReceiveCount attempts. See the log for "message failed".',
      metric: frostlineMetric(MetricName.failed, props.metricsService),
      action: props.alarmAction,
    });
    this.function.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
        // The poller never asks for more than the function may run.
        maxConcurrency: props.reservedConcurrency,
      }),
    );
  }
}

/** The visibility timeout for a queue consumed by a function with this timeout (AWS: 6x). */
export function visibilityTimeoutFor(functionTimeout: Duration): Duration {
  return Duration.seconds(functionTimeout.toSeconds() * 6);
}

/** Configured retention in days, as the CDK enum. */
export function retentionDays(days: number): logs.RetentionDays {
  const match = Object.values(logs.RetentionDays).find((value) => value === days);
  if (match === undefined) throw new Error(`unsupported log retention: ${days} days`);
  return match as logs.RetentionDays;
}
