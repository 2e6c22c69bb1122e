// The metrics a Londiste main worker publishes (CloudWatch namespace Skytools, EMF in its JSON
// log lines through layers/aws/observability.ts; layers/londiste/metrics.ts publishes them), by
// name, in one place here: LondisteNode's alarms and SkytoolsDashboard's widgets read them.
// Dimensions: Queue and Node (the table counts also State). Change them only with the publisher.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

export const LONDISTE_METRICS = {
  /** Seconds between now and the provider tick of the last batch applied (Seconds). */
  lag: 'ReplicationLag',
  /** Row events applied per second over the publishing period (Count/Second). */
  eventsApplied: 'EventsAppliedPerSecond',
  /** Tables of the node in a state, one value per state (dimension `State`) (Count). */
  tables: 'Tables',
  /** Tables being copied (in-copy … do-sync), each one copy job / task (Count). */
  copiesRunning: 'CopiesRunning',
  /** Copy tasks that stopped with an error or failed to start, as the ECS launcher saw them (Count). */
  copyFailures: 'CopyTaskFailures',
} as const;

export const METRICS_NAMESPACE = 'Skytools';

/** One node's metric, with the dimensions the worker publishes it under. */
export function londisteMetric(
  name: (typeof LONDISTE_METRICS)[keyof typeof LONDISTE_METRICS],
  node: { readonly queue: string; readonly nodeName: string },
  statistic: string,
  period: Duration = Duration.minutes(1),
  extraDimensions: Readonly<Record<string, string>> = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { Queue: node.queue, Node: node.nodeName, ...extraDimensions },
    statistic,
    period,
    label: [node.nodeName, ...Object.values(extraDimensions)].join(' '),
  });
}
