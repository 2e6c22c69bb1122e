// Powertools logger and metrics for the handlers (JSON logs in Lambda), and an adapter so the
// runtime in layers/ (which logs through the small Logger interface of layers/util/log.ts) logs
// through Powertools. No pg and no tool code here: the WAL Lambdas import this alone.
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LogFields, Logger } from '../util/log.ts';

export { MetricUnit };
export const METRICS_NAMESPACE = 'Skytools';

export interface Observability {
  logger: PowertoolsLogger;
  metrics: Metrics;
}

export function createObservability(serviceName: string): Observability {
  return {
    logger: new PowertoolsLogger({ serviceName }),
    metrics: new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
      serviceName,
    }),
  };
}

/** The runtime's Logger interface on top of a Powertools logger (scope fields become keys). */
export function asLogger(pt: PowertoolsLogger): Logger {
  const extra = (fields?: LogFields) => fields ?? {};
  return {
    debug: (msg, fields) => pt.debug(msg, extra(fields)),
    info: (msg, fields) => pt.info(msg, extra(fields)),
    warn: (msg, fields) => pt.warn(msg, extra(fields)),
    error: (msg, fields) => pt.error(msg, extra(fields)),
    child: (fields) => asLogger(pt.createChild({ persistentKeys: fields as Record<string, never> })),
  };
}

/** Publishes one metric with its own dimensions at once (queue- or consumer-scoped values). */
export function putMetric(
  metrics: Metrics,
  dimensions: Record<string, string>,
  name: string,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit],
  value: number,
): void {
  const single = metrics.singleMetric();
  single.addDimensions(dimensions);
  single.addMetric(name, unit, value);
}
