/**
 * The one alarm shape every frostline alarm has: it fires as soon as a count reaches 1 in
 * one period — any failed record, throttle, dead letter or stalled session deserves a look
 * — and stays quiet when no data arrives (a function that did not run failed nothing).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_DIMENSION } from '../../lib/config/observability.js';

export interface AlarmOnAnyProps {
  readonly description: string;
  readonly metric: cloudwatch.IMetric;
  /** @default no action (the alarm shows in the console only) */
  readonly action?: cloudwatch.IAlarmAction | undefined;
}

/** An alarm at `metric >= 1` for one period, missing data not breaching, with the action if given. */
export function alarmOnAny(scope: Construct, id: string, props: AlarmOnAnyProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (props.action !== undefined) alarm.addAlarmAction(props.action);
  return alarm;
}

/** The sum of one of frostline's own metrics (lib/config/observability.ts) for one service. */
export function frostlineMetric(metricName: string, service: string, period: Duration = Duration.minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { [SERVICE_DIMENSION]: service },
    period,
    statistic: 'Sum',
  });
}
