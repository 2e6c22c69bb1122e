// The Lambda form of a PgQ consumer: an SQS wake-up (see wakeup.ts) makes the function drain its
// consumer's batches — next_batch … finish_batch, one transaction each (layers/pgq/consumer.ts) —
// until none is left or the invocation's remaining time runs short. After the last batch it lingers
// (PGQ_LINGER, linger.ts) for the queue's next tick, announced on its own connection, so steady
// traffic is drained without an SQS round trip per batch. The SQS messages carry no
// events, only "look now", so a duplicate or late wake-up finds no batch and returns at once.
// A failing batch is rolled back (PgQ hands it out again) and every message of the invocation is
// reported in batchItemFailures, so SQS redelivers and, after maxReceiveCount, moves it to the DLQ.
// Cooperative mode (subconsumers > 1): the same drain, as the subconsumer(s) named by the records'
// message groups, with pgq_coop batches; only a failing subconsumer's records are failed.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSClient } from '@aws-sdk/client-sqs';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type pg from 'pg';
import type { DatabaseSource } from '../../aws/database.ts';
import { MetricUnit, type Observability } from '../../aws/observability.ts';
import { ConfigError } from '../../config/settings.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import { runBatchLoop } from '../batch-loop.ts';
import { type BatchHandler, type BatchOptions, type BatchResult, processNextBatch } from '../consumer.ts';
import { processNextCoopBatch, registerSubconsumer } from '../coop-consumer.ts';
import { listenForTicks } from '../tick-notify.ts';
import { consumerDeps } from './container.ts';
import { lingering, TickLatch, worthLingering } from './linger.ts';
import { type ConsumerSettings, subconsumerNames } from './settings.ts';
import { sendWakeup, type WakeupMessage } from './wakeup.ts';

export interface PgqConsumerOptions extends Omit<BatchOptions, 'queue' | 'consumer'> {
  /** Queue to consume; default PGQ_QUEUE. */
  queue?: string;
  /** Consumer name; default PGQ_CONSUMER. */
  consumer?: string;
  /**
   * Cooperative consumer (pgq_coop): N > 1 subconsumers '1' … 'N' (or these names), each the SQS
   * message group `<consumer>.<name>` of its wake-ups, so up to N function instances share the
   * consumer's batches, each batch going to one of them. Default PGQ_SUBCONSUMERS (1: plain).
   */
  subconsumers?: number | readonly string[];
  /** Cooperative consumer: take over the batch of a subconsumer silent this long (default PGQ_DEAD_INTERVAL, else never). */
  deadIntervalMs?: number;
  /** After the last batch, wait this long for the queue's next tick before returning (default PGQ_LINGER; 0: return at once). */
  lingerMs?: number;
}

export interface ConsumerDeps {
  settings: ConsumerSettings;
  db: DatabaseSource;
  /** Needed only to wake itself again (PGQ_CONTINUE_QUEUE_URL). */
  sqs?: SQSClient;
  log?: Logger;
  metrics?: Metrics;
}

export interface DrainResult {
  response: SQSBatchResponse;
  batches: BatchResult[];
  /** Why the drain stopped: no batch left, time ran short, or a batch failed. */
  stopped: 'empty' | 'time' | 'error';
  error?: Error;
  /** Cooperative consumers: how each subconsumer drained by this invocation fared. */
  subconsumers?: Record<string, SubconsumerDrain>;
  /** Plain consumers, the linger: ticks that woke the drain while it waited, and the time it waited (ms). */
  lingerWakes?: number;
  lingeredMs?: number;
}

export interface SubconsumerDrain {
  batches: BatchResult[];
  stopped: DrainResult['stopped'];
  error?: Error;
  /** The linger: ticks that woke the drain while it waited after a batch, and the time it waited (ms). */
  lingerWakes?: number;
  lingeredMs?: number;
}

export function resolveQueueConsumer(
  opts: PgqConsumerOptions,
  settings: ConsumerSettings,
): { queue: string; consumer: string } {
  const queue = opts.queue ?? settings.queue;
  const consumer = opts.consumer ?? settings.consumer;
  if (!queue || !consumer) {
    throw new ConfigError(
      'pgqConsumer needs a queue and a consumer: pass them in code or set PGQ_QUEUE and PGQ_CONSUMER',
    );
  }
  return { queue, consumer };
}

const APP_NAME = 'skytools-consumer';

export async function drainOnWakeup(
  event: SQSEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  opts: PgqConsumerOptions,
  deps: ConsumerDeps,
): Promise<DrainResult> {
  const { queue, consumer } = resolveQueueConsumer(opts, deps.settings);
  const log = (deps.log ?? silentLogger).child({ queue, consumer });
  const records = event.Records ?? [];
  for (const r of records) {
    const msg = parseWakeup(r.body);
    if (msg && (msg.queue !== queue || msg.consumer !== consumer)) {
      log.warn('wake-up addressed to another consumer; draining our own batches anyway', {
        messageId: r.messageId,
        to: `${msg.queue}/${msg.consumer}`,
      });
    }
  }
  const m = deps.metrics;
  m?.addDimensions({ queue, consumer });
  const subs = subconsumerNames(opts.subconsumers ?? deps.settings.subconsumers);
  const result = subs
    ? await drainCoop(records, context, opts, deps, { queue, consumer, subs, log })
    : await drainPlain(records, context, opts, deps, { queue, consumer, log });
  if (m?.hasStoredMetrics()) m.publishStoredMetrics();
  return result;
}

async function drainPlain(
  records: SQSRecord[],
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  opts: PgqConsumerOptions,
  deps: ConsumerDeps,
  { queue, consumer, log }: { queue: string; consumer: string; log: Logger },
): Promise<DrainResult> {
  const r = await drainBatches(context, deps, log, opts, queue, (client, handler) =>
    processNextBatch(client, { ...opts, queue, consumer, handler }),
  );
  if (r.stopped === 'time') await wakeSelf(deps, queue, consumer, undefined, r.batches.at(-1), log);
  return {
    ...r,
    response: {
      batchItemFailures: r.stopped === 'error' ? records.map((x) => ({ itemIdentifier: x.messageId })) : [],
    },
  };
}

/**
 * Cooperative mode: the records' message groups `<consumer>.<subconsumer>` say which
 * subconsumers this invocation is (SQS FIFO hands a message group to one invocation at a time, so
 * no other instance is the same subconsumer meanwhile); each is drained in turn with
 * pgq_coop.next_batch, registered on first use. Only a failing subconsumer's records are failed.
 */
async function drainCoop(
  records: SQSRecord[],
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  opts: PgqConsumerOptions,
  deps: ConsumerDeps,
  { queue, consumer, subs, log }: { queue: string; consumer: string; subs: string[]; log: Logger },
): Promise<DrainResult> {
  const deadSetting = deps.settings.dead_interval;
  const deadIntervalMs = opts.deadIntervalMs ?? (deadSetting == null ? undefined : deadSetting * 1000);
  const byGroup = new Map<string, SQSRecord[]>();
  for (const r of records) {
    const group = r.attributes?.MessageGroupId ?? '';
    byGroup.set(group, [...(byGroup.get(group) ?? []), r]);
  }
  const failed: string[] = [];
  const batches: BatchResult[] = [];
  const perSub: Record<string, SubconsumerDrain> = {};
  let stopped: DrainResult['stopped'] = 'empty';
  let error: Error | undefined;
  for (const [group, recs] of byGroup) {
    const sub = group.startsWith(`${consumer}.`) ? group.slice(consumer.length + 1) : undefined;
    if (sub === undefined || !subs.includes(sub)) {
      if (group === consumer) {
        // A plain consumer's wake-up (e.g. sent before the switch to coop mode): only "look now",
        // and the subconsumers' own wake-ups follow on the next tick.
        log.warn('plain wake-up for a cooperative consumer; ignored', { group });
      } else {
        log.error('wake-up for no subconsumer of this consumer; reported failed (DLQ)', { group, subs });
        failed.push(...recs.map((r) => r.messageId));
      }
      continue;
    }
    const slog = log.child({ subconsumer: sub });
    const r = await drainBatches(context, deps, slog, opts, queue, (client, handler) =>
      retryTransient(slog, async () => {
        await ensureSubconsumer(deps.db, client, queue, consumer, sub);
        return processNextCoopBatch(client, {
          ...opts,
          queue,
          consumer,
          subconsumer: sub,
          deadIntervalMs,
          handler,
        });
      }),
    );
    perSub[sub] = r;
    batches.push(...r.batches);
    if (r.stopped === 'error') {
      failed.push(...recs.map((x) => x.messageId));
      stopped = 'error';
      error ??= r.error;
    } else if (r.stopped === 'time') {
      if (stopped !== 'error') stopped = 'time';
      await wakeSelf(deps, queue, consumer, sub, r.batches.at(-1), slog);
    }
  }
  return {
    response: { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) },
    batches,
    stopped,
    error,
    subconsumers: perSub,
  };
}

const TRANSIENT = new Set(['40P01', '40001']);

/**
 * Subconsumers starting at once can deadlock in pgq_coop (registration, claiming from the shared
 * position). Nothing is half done then — the claim commits atomically and a claimed batch is
 * returned to the same subconsumer again — so the step is simply retried, a few times.
 */
async function retryTransient<T>(log: Logger, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as { code?: string; sqlState?: string; cause?: { code?: string } };
      const code = e.sqlState ?? e.code ?? e.cause?.code;
      if (attempt >= 5 || !code || !TRANSIENT.has(code)) throw err;
      log.warn('transient database error; retrying', { code, attempt, error: (err as Error).message });
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 50));
    }
  }
}

// Subconsumers registered by this container, per database source: register_subconsumer is
// idempotent, this only saves the round trip on every later batch.
const registered = new WeakMap<DatabaseSource, Set<string>>();

async function ensureSubconsumer(
  db: DatabaseSource,
  client: pg.ClientBase,
  queue: string,
  consumer: string,
  sub: string,
): Promise<void> {
  const key = `${queue}\0${consumer}\0${sub}`;
  let set = registered.get(db);
  if (set?.has(key)) return;
  await registerSubconsumer(client, queue, consumer, sub);
  if (!set) {
    set = new Set();
    registered.set(db, set);
  }
  set.add(key);
}

/** One step of the drain: process the next batch with `handler`, or null when there is none. */
type BatchStep = (client: pg.PoolClient, handler: BatchHandler) => Promise<BatchResult | null>;

/**
 * The drain shared by plain and cooperative consumers: the batch loop (layers/pgq/batch-loop.ts)
 * with `step`, without sleeping — it stops when a step finds no batch (after the linger, see
 * linger.ts: up to linger for the queue's next tick, announced on the drain's connection), when
 * the invocation's remaining time is down to min_remaining, or at the first failure (its
 * connection is then discarded; SQS redelivers the wake-up).
 */
async function drainBatches(
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  deps: ConsumerDeps,
  log: Logger,
  opts: Pick<PgqConsumerOptions, 'handler' | 'lingerMs'>,
  queue: string,
  step: BatchStep,
): Promise<SubconsumerDrain> {
  const minRemainingMs = deps.settings.min_remaining * 1000;
  const lingerMs = opts.lingerMs ?? deps.settings.linger * 1000;
  const userHandler = opts.handler;
  const batches: BatchResult[] = [];
  const m = deps.metrics;
  const latch = lingerMs > 0 ? new TickLatch() : null;
  let unlisten: ((discard?: boolean) => Promise<void>) | null = null;
  // Set by each batch taken: whether its traffic makes the linger worth waiting after it.
  let lingerWorth = false;
  let lingerOff = false;
  const oneBatch = async (client: pg.PoolClient): Promise<BatchResult | null> => {
    const started = Date.now();
    let tickTime = new Date();
    let spanMs = 0;
    const res = await step(client, (batch, tx) => {
      tickTime = batch.tickTime;
      spanMs = batch.tickTime.getTime() - batch.prevTickTime.getTime();
      return userHandler(batch, tx);
    });
    if (!res) return null;
    batches.push(res);
    lingerWorth = latch != null && worthLingering(res.events, spanMs, lingerMs);
    // Consumer lag as PgQ defines it: how old the tick this batch ends at was when finished.
    const lagS = (Date.now() - tickTime.getTime()) / 1000;
    log.info('batch done', {
      batchId: res.batchId,
      tickId: res.tickId,
      events: res.events,
      retried: res.retried,
      lag: lagS,
      ms: Date.now() - started,
    });
    m?.addMetric('Batches', MetricUnit.Count, 1);
    m?.addMetric('Events', MetricUnit.Count, res.events);
    m?.addMetric('RetriedEvents', MetricUnit.Count, res.retried);
    m?.addMetric('BatchLagSeconds', MetricUnit.Seconds, lagS);
    return res;
  };
  const r = await runBatchLoop<pg.PoolClient, BatchResult>({
    open: () => deps.db.pooledClient(APP_NAME),
    // A connection that failed mid-transaction is discarded, not returned to the pool.
    close: async (client, err) => {
      const stop = unlisten;
      unlisten = null;
      let failed = err;
      if (stop) await stop(err != null).catch((e: Error) => (failed ??= e));
      client.release(failed);
    },
    idle: 'stop',
    timeUp: () => context.getRemainingTimeInMillis() <= minRemainingMs,
    onError: 'stop',
    step: latch
      ? lingering(oneBatch, latch, {
          lingerMs,
          budgetMs: () => context.getRemainingTimeInMillis() - minRemainingMs,
          worth: () => lingerWorth && !lingerOff,
          listen: async (client) => {
            if (unlisten) return false;
            try {
              // UNLISTENed in close: a pooled connection left listening in a frozen container
              // would hold back the server's notification queue.
              unlisten = await listenForTicks(client, queue, latch.notify);
            } catch (err) {
              // No linger then; the batches taken stand, and the next look says whether the
              // connection still works.
              log.warn('LISTEN for the linger failed; not lingering', { error: (err as Error).message });
              lingerOff = true;
            }
            return true;
          },
        })
      : oneBatch,
    onFailure: (error) => {
      m?.addMetric('ConsumerErrors', MetricUnit.Count, 1);
      log.error('batch failed; it will be handed out again', {
        error: error.message,
        kind: (error as { kind?: string }).kind,
      });
    },
  });
  // The loop has no signal here, so it ends only as 'empty', 'time' or 'error'.
  const stopped: DrainResult['stopped'] = r.stopped === 'signal' ? 'empty' : r.stopped;
  if (latch) {
    m?.addMetric('LingerWakes', MetricUnit.Count, latch.wakes);
    m?.addMetric('LingerMilliseconds', MetricUnit.Milliseconds, latch.waitedMs);
  }
  return {
    batches,
    stopped,
    error: r.error,
    ...(latch ? { lingerWakes: latch.wakes, lingeredMs: latch.waitedMs } : {}),
  };
}

/** Time ran short with batches possibly left: wake ourselves instead of waiting for the next tick. */
async function wakeSelf(
  deps: ConsumerDeps,
  queue: string,
  consumer: string,
  subconsumer: string | undefined,
  last: BatchResult | undefined,
  log: Logger,
): Promise<void> {
  const url = deps.settings.continue_queue_url;
  if (!url || !deps.sqs) {
    log.info('time ran short; the next tick will wake the consumer again');
    return;
  }
  const msg: WakeupMessage = {
    type: 'pgq.wakeup',
    database: '',
    queue,
    consumer,
    tickId: last ? `${last.tickId}.${last.batchId}` : `t${Date.now()}`,
    reason: 'continue',
    ...(subconsumer == null ? {} : { subconsumer }),
  };
  await sendWakeup(deps.sqs, url, msg).catch((err: Error) =>
    log.warn('continue wake-up not sent; the next tick will wake the consumer', { error: err.message }),
  );
}

function parseWakeup(body: string): WakeupMessage | null {
  try {
    const m = JSON.parse(body) as WakeupMessage;
    return m && m.type === 'pgq.wakeup' ? m : null;
  } catch {
    return null;
  }
}

/**
 * The middy middleware for users' consumer functions. It answers the SQS event itself (the
 * wrapped handler is not called), so use it on `middy()` with no handler:
 *
 *   export const handler = middy().use(pgqConsumer({ queue: 'orders', consumer: 'billing',
 *     handler: async (batch, tx) => { for (const ev of batch.events) { …; ev.tagDone(); } } }));
 *
 * `deps` defaults to the container-wide ones (settings from the environment, database from
 * Secrets Manager or DATABASE_URL, Powertools logger and metrics).
 */
export function pgqConsumer(
  opts: PgqConsumerOptions,
  deps?: ConsumerDeps | (() => ConsumerDeps),
): MiddlewareObj<SQSEvent, SQSBatchResponse> {
  return {
    name: 'pgqConsumer',
    before: async (request) => {
      const d = typeof deps === 'function' ? deps() : (deps ?? consumerDeps());
      const result = await drainOnWakeup(request.event, request.context, opts, d);
      return result.response;
    },
  };
}

/**
 * A complete consumer function: Powertools logger context, then pgqConsumer. The usual entry of
 * a user's function:  export const handler = consumerHandler({ queue, consumer, handler });
 */
export function consumerHandler(
  opts: PgqConsumerOptions,
  deps: () => ConsumerDeps & Observability = consumerDeps,
) {
  // Resolved once, when the function's module loads (its cold start), from that moment's environment.
  const d = deps();
  return middy<SQSEvent, SQSBatchResponse>().use(injectLambdaContext(d.logger)).use(pgqConsumer(opts, d));
}
