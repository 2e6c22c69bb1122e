// The metrics a Londiste worker publishes (CloudWatch namespace Skytools, EMF in its JSON log
// lines through layers/aws/observability.ts), by name, in one place: LondisteNode's alarms and
// SkytoolsDashboard's widgets read them. Dimensions: queue and node (a table count also state).
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

export const LONDISTE_METRICS = {
  /** Seconds between now and the provider tick of the last batch replayed (Seconds). */
  lag: 'LondisteLagSeconds',
  /** Row, TRUNCATE and EXECUTE events applied, per batch (Count). */
  eventsApplied: 'LondisteEventsApplied',
  /** Tables of the node in a state, one value per state (dimension `state`: missing, in-copy, catching-up, wanna-sync, do-sync, ok, error) (Count). */
  tables: 'LondisteTables',
  /** Copy jobs running for the node (Count). */
  copiesRunning: 'LondisteCopiesRunning',
} as const;

export const METRICS_NAMESPACE = 'Skytools';

/** One node's metric, with the dimensions the worker publishes it under. */
export function londisteMetric(
  name: (typeof LONDISTE_METRICS)[keyof typeof LONDISTE_METRICS],
  node: { readonly queue: string; readonly nodeName: string },
  statistic: string,
  period: Duration = Duration.minutes(1),
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { queue: node.queue, node: node.nodeName },
    statistic,
    period,
    label: `${node.nodeName} ${name}`,
  });
}
