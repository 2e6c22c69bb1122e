// The settings of PgQ's Lambda handlers: one table each, starting with the database settings of
// layers/aws, typed and validated once per container (layers/config/settings.ts). The
// configuration reference (docs/configuration.md) is generated from these tables. Also the
// wake-up targets and cooperative subconsumer names.
import { DATABASE_SETTINGS } from '../../aws/settings.ts';
import { ConfigError, defineSettings, type SettingsOf, setting } from '../../config/settings.ts';

export const TICKER_SETTINGS = defineSettings('pgq-ticker', {
  ...DATABASE_SETTINGS.specs,
  tick_period: setting.seconds({
    env: 'PGQ_TICK_PERIOD',
    default: 1,
    min: 0.01,
    doc: "period of the ticker's pass over every queue (PgQ's rules: ticker_max_lag, ticker_max_count, idle ticks)",
  }),
  poll_period: setting.seconds({
    env: 'PGQ_POLL_PERIOD',
    default: '5ms',
    min: 0,
    doc: 'how often to look for committed events on queues that do not batch and tick them at once (each tick wakes the consumers); 0: off',
  }),
  retry_period: setting.seconds({
    env: 'PGQ_RETRY_PERIOD',
    default: 30,
    min: 0.01,
    doc: 'how often due retry events are moved back (also once per invocation)',
  }),
  maint_period: setting.seconds({
    env: 'PGQ_MAINT_PERIOD',
    default: 120,
    min: 0.01,
    doc: 'how often the maintenance steps run (also once per invocation)',
  }),
  schedule_period: setting.seconds({
    env: 'PGQ_SCHEDULE_PERIOD',
    default: 60,
    min: 1,
    doc: "period of the schedule that invokes the ticker: a run stops before the next one is due (from the event's time)",
  }),
  deadline_margin: setting.seconds({
    env: 'PGQ_DEADLINE_MARGIN',
    default: 3,
    min: 0,
    doc: "stop this long before the invocation's deadline and before the next scheduled run",
  }),
  on_busy: setting.choice(['exit', 'wait'] as const, {
    env: 'PGQ_TICKER_ON_BUSY',
    default: 'exit',
    doc: 'what to do when another ticker holds the database',
  }),
  wakeup_targets: setting.custom('JSON list', (raw) => parseWakeupTargets(raw), {
    env: 'PGQ_WAKEUP_TARGETS',
    default: '[]',
    doc: 'JSON list of {"queue", "consumer", "queueUrl", "subconsumers"?}: the SQS FIFO queue to wake for each consumer on a new tick; with "subconsumers": N (N > 1, a cooperative consumer) N wake-ups go out, one per message group "<consumer>.1" … "<consumer>.N"',
  }),
});
export type TickerSettings = SettingsOf<typeof TICKER_SETTINGS.specs>;

export const MAINTENANCE_SETTINGS = defineSettings('pgq-maintenance', { ...DATABASE_SETTINGS.specs });

export const CONSUMER_SETTINGS = defineSettings('pgq-consumer', {
  ...DATABASE_SETTINGS.specs,
  queue: setting.string({ env: 'PGQ_QUEUE', doc: 'queue to consume (unless given in code)' }),
  consumer: setting.string({ env: 'PGQ_CONSUMER', doc: 'consumer name (unless given in code)' }),
  min_remaining: setting.seconds({
    env: 'PGQ_MIN_REMAINING',
    default: 10,
    min: 0,
    doc: 'start another batch only while more than this much invocation time is left',
  }),
  linger: setting.seconds({
    env: 'PGQ_LINGER',
    default: '50ms',
    min: 0,
    max: 60,
    doc: "after a batch whose rate brings two events within this time, the drain waits this long for the queue's next tick (the ticker's NOTIFY on its connection) and takes it without a new SQS wake-up; billed time; 0: return at once",
  }),
  continue_queue_url: setting.string({
    env: 'PGQ_CONTINUE_QUEUE_URL',
    doc: "the function's own wake-up queue: when time runs short with batches left, it wakes itself again",
  }),
  subconsumers: setting.integer({
    env: 'PGQ_SUBCONSUMERS',
    default: 1,
    min: 1,
    doc: 'N > 1: a cooperative consumer (pgq_coop) whose subconsumers 1 … N are the SQS message groups "<consumer>.1" … "<consumer>.N" (unless given in code); 1: a plain consumer',
  }),
  dead_interval: setting.seconds({
    env: 'PGQ_DEAD_INTERVAL',
    min: 0,
    doc: 'cooperative consumer: take over the open batch of a subconsumer silent this long (default: never)',
  }),
});
export type ConsumerSettings = SettingsOf<typeof CONSUMER_SETTINGS.specs>;

export interface WakeupTarget {
  queue: string;
  consumer: string;
  queueUrl: string;
  /** N > 1: a cooperative consumer; one wake-up per subconsumer's message group. Default 1. */
  subconsumers?: number;
}

/**
 * The subconsumer names of a cooperative consumer: N → '1' … 'N', a list as given. null for a
 * plain consumer (N = 1 or none). Its SQS message groups are `<consumer>.<name>`, which is also
 * the subconsumer's name in PgQ (pgq_coop registers it as consumer `<consumer>.<name>`).
 */
export function subconsumerNames(spec: number | readonly string[] | undefined): string[] | null {
  if (spec == null) return null;
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 1)
      throw new ConfigError(`subconsumers must be a positive integer, got ${spec}`);
    return spec === 1 ? null : Array.from({ length: spec }, (_, i) => String(i + 1));
  }
  if (spec.length === 0 || spec.some((n) => typeof n !== 'string' || n === '')) {
    throw new ConfigError('subconsumers must be a non-empty list of non-empty names');
  }
  return [...spec];
}

/** The SQS message group of a consumer's wake-ups: the consumer, or `<consumer>.<subconsumer>`. */
export function messageGroup(consumer: string, subconsumer?: string): string {
  return subconsumer == null ? consumer : `${consumer}.${subconsumer}`;
}

export function parseWakeupTargets(raw: string | undefined): WakeupTarget[] {
  if (!raw || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError(`PGQ_WAKEUP_TARGETS is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError('PGQ_WAKEUP_TARGETS must be a JSON list');
  return parsed.map((t, i) => {
    const o = t as Partial<WakeupTarget>;
    for (const k of ['queue', 'consumer', 'queueUrl'] as const) {
      if (typeof o?.[k] !== 'string' || o[k] === '') {
        throw new ConfigError(`PGQ_WAKEUP_TARGETS[${i}].${k} must be a non-empty string`);
      }
    }
    const n = (o as { subconsumers?: unknown }).subconsumers;
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1)) {
      throw new ConfigError(`PGQ_WAKEUP_TARGETS[${i}].subconsumers must be a positive integer`);
    }
    return {
      queue: o.queue!,
      consumer: o.consumer!,
      queueUrl: o.queueUrl!,
      ...(n !== undefined ? { subconsumers: n } : {}),
    };
  });
}
