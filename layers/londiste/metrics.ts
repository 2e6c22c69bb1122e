// The metrics a node's main worker publishes (CloudWatch EMF in its JSON log lines, through
// layers/aws/observability.ts), read from the worker's own counters every period — no query of its
// own. Names and dimensions are the contract with the LondisteNode construct's alarms and the
// dashboard (listed in README.md): change them only together.
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '../aws/observability.ts';
import { LONDISTE_DIMENSIONS as D, LONDISTE_METRICS } from './metric-names.ts';
import { TABLE_STATES } from './tables.ts';
import type { LondisteWorker } from './worker.ts';

export { LONDISTE_METRICS };

export const LONDISTE_METRIC_STATES = [...TABLE_STATES, 'failed'] as const;

export interface MetricsOptions {
  worker: LondisteWorker;
  metrics: Metrics;
  queue: string;
  node: string;
  periodMs?: number;
  now?: () => number;
}

/** Publishes every period until stopped; returns the stop function (which publishes once more). */
export function startLondisteMetrics(o: MetricsOptions): { stop(): void; publish(): void; failure(): void } {
  const now = o.now ?? Date.now;
  const dims = { [D.queue]: o.queue, [D.node]: o.node };
  let lastAt = now();
  let lastApplied = o.worker.lstats.applied;
  // Exactly Queue + Node (+ State): an alarm matches a dimension set as a whole, so the logger's
  // `service` default dimension is left out (CloudWatch would file the values under another set).
  const put = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], v: number, extra = {}) => {
    const single = o.metrics.singleMetric();
    single.clearDefaultDimensions();
    single.addDimensions({ ...dims, ...extra });
    single.addMetric(name, unit, v);
  };
  const publish = () => {
    const at = now();
    const s = o.worker.lstats;
    const secs = Math.max(0.001, (at - lastAt) / 1000);
    put(LONDISTE_METRICS.eventsApplied, MetricUnit.CountPerSecond, (s.applied - lastApplied) / secs);
    lastAt = at;
    lastApplied = s.applied;
    if (s.lastTickTime)
      put(LONDISTE_METRICS.lag, MetricUnit.Seconds, Math.max(0, (at - s.lastTickTime.getTime()) / 1000));
    const counts = o.worker.tableCounts();
    let copying = 0;
    for (const state of LONDISTE_METRIC_STATES) {
      const n = counts[state] ?? 0;
      if (state !== 'ok' && state !== 'missing' && state !== 'failed') copying += n;
      put(LONDISTE_METRICS.tables, MetricUnit.Count, n, { [D.state]: state });
    }
    put(LONDISTE_METRICS.copiesRunning, MetricUnit.Count, copying);
  };
  const timer = setInterval(publish, o.periodMs ?? 60_000);
  timer.unref();
  return {
    publish,
    stop() {
      clearInterval(timer);
      publish();
    },
    failure: () => put(LONDISTE_METRICS.copyFailures, MetricUnit.Count, 1),
  };
}
