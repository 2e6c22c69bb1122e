// The metrics a Londiste main worker publishes (CloudWatch namespace Skytools, EMF in its JSON
// log lines; layers/londiste/metrics.ts publishes them under the names of
// layers/londiste/metric-names.ts, imported here so both sides agree), as CloudWatch metrics for
// LondisteNode's alarms and SkytoolsDashboard's widgets. Dimensions: Queue and Node (the table
// counts also State).
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { LONDISTE_DIMENSIONS as D, type LONDISTE_METRICS } from '../../layers/londiste/metric-names.ts';

export { LONDISTE_DIMENSIONS, LONDISTE_METRICS } from '../../layers/londiste/metric-names.ts';

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
    dimensionsMap: { [D.queue]: node.queue, [D.node]: node.nodeName, ...extraDimensions },
    statistic,
    period,
    label: [node.nodeName, ...Object.values(extraDimensions)].join(' '),
  });
}
