// One ticker invocation: the pgqd loop (layers/pgq/ticker.ts) until shortly before the
// invocation's deadline and before the next scheduled invocation, under the single-runner
// guard; each new tick wakes the consumers of its queue through SQS. Afterwards it publishes
// the queues' and consumers' state (events/s, lag, pending events) as metrics.
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DatabaseSource } from '../../aws/database.ts';
import { MetricUnit, putMetric } from '../../aws/observability.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import { runTicker, type TickerStats } from '../ticker.ts';
import type { TickerSettings } from './settings.ts';
import { SqsWaker } from './wakeup.ts';

export interface TickerInvocation {
  /** context.getRemainingTimeInMillis() at the start of the invocation. */
  remainingMs: number;
  /** The scheduled time of this invocation (the EventBridge event's `time`), if known. */
  scheduledAt?: Date;
}

export interface TickerDeps {
  settings: TickerSettings;
  db: DatabaseSource;
  sqs: SQSClient;
  log?: Logger;
  metrics?: Metrics;
  signal?: AbortSignal;
  /** Counters to update while the invocation runs (a live view); fresh per invocation by default. */
  stats?: TickerStats;
}

export interface TickerInvocationResult {
  stats: TickerStats;
  runForMs: number;
  wakeupsSent: number;
  wakeupsFailed: number;
}

const APP_NAME = 'skytools-ticker';

/** How long this invocation may tick: before its own deadline and before the next scheduled run. */
export function tickerRunFor(
  inv: TickerInvocation,
  settings: Pick<TickerSettings, 'deadline_margin' | 'schedule_period'>,
  now = Date.now(),
): number {
  const margin = settings.deadline_margin * 1000;
  let runFor = inv.remainingMs - margin;
  if (inv.scheduledAt && !Number.isNaN(inv.scheduledAt.getTime())) {
    const next = inv.scheduledAt.getTime() + settings.schedule_period * 1000;
    runFor = Math.min(runFor, next - now - margin);
  }
  return Math.max(0, runFor);
}

export async function runTickerInvocation(
  inv: TickerInvocation,
  deps: TickerDeps,
): Promise<TickerInvocationResult> {
  const { settings, db } = deps;
  const log = deps.log ?? silentLogger;
  const runForMs = tickerRunFor(inv, settings);
  const waker = new SqsWaker(deps.sqs, settings.wakeup_targets, log);
  const stats = await runTicker({
    connect: () => db.connect(APP_NAME),
    tickPeriodMs: settings.tick_period * 1000,
    pollPeriodMs: settings.poll_period * 1000,
    retryPeriodMs: settings.retry_period * 1000,
    maintPeriodMs: settings.maint_period * 1000,
    runForMs,
    onBusy: settings.on_busy,
    onTick: waker.onTick,
    signal: deps.signal,
    log,
    ...(deps.stats ? { stats: deps.stats } : {}),
  });
  await waker.flush();
  const m = deps.metrics;
  if (m) {
    const dims = { database: stats.database };
    putMetric(m, dims, 'Ticks', MetricUnit.Count, stats.ticks);
    putMetric(m, dims, 'TickerErrors', MetricUnit.Count, stats.errors);
    putMetric(m, dims, 'TickerRunning', MetricUnit.Count, stats.ran ? 1 : 0);
    putMetric(m, dims, 'WakeupsSent', MetricUnit.Count, waker.sent);
    putMetric(m, dims, 'WakeupErrors', MetricUnit.Count, waker.failed);
    if (stats.ran) await publishQueueState(deps, stats.database, log);
  }
  log.info('ticker invocation done', {
    database: stats.database,
    ran: stats.ran,
    ticks: stats.ticks,
    errors: stats.errors,
    wakeups: waker.sent,
    runForMs,
  });
  return { stats, runForMs, wakeupsSent: waker.sent, wakeupsFailed: waker.failed };
}

async function publishQueueState(deps: TickerDeps, database: string, log: Logger): Promise<void> {
  const m = deps.metrics!;
  let client: Awaited<ReturnType<DatabaseSource['connect']>> | null = null;
  try {
    client = await deps.db.connect(APP_NAME);
    const queues = await client.query<{ queue_name: string; ev_per_sec: number | null }>(
      'select queue_name, ev_per_sec from pgq.get_queue_info()',
    );
    for (const q of queues.rows) {
      putMetric(
        m,
        { database, queue: q.queue_name },
        'QueueEventsPerSecond',
        MetricUnit.CountPerSecond,
        q.ev_per_sec ?? 0,
      );
    }
    const consumers = await client.query<{
      queue_name: string;
      consumer_name: string;
      lag_s: number | null;
      pending_events: bigint | null;
    }>(
      `select queue_name, consumer_name, extract(epoch from lag)::float8 as lag_s, pending_events
         from pgq.get_consumer_info()`,
    );
    for (const c of consumers.rows) {
      const dims = { database, queue: c.queue_name, consumer: c.consumer_name };
      putMetric(m, dims, 'ConsumerLagSeconds', MetricUnit.Seconds, c.lag_s ?? 0);
      putMetric(m, dims, 'ConsumerPendingEvents', MetricUnit.Count, Number(c.pending_events ?? 0n));
    }
  } catch (err) {
    log.warn('queue state metrics failed', { database, error: (err as Error).message });
  } finally {
    await client?.end().catch(() => {});
  }
}
