// The Lambda form of a PgQ consumer: an SQS wake-up (see wakeup.ts) makes the function drain its
// consumer's batches — next_batch … finish_batch, one transaction each (layers/pgq/consumer.ts) —
// until none is left or the invocation's remaining time runs short. The SQS messages carry no
// events, only "look now", so a duplicate or late wake-up finds no batch and returns at once.
// A failing batch is rolled back (PgQ hands it out again) and every message of the invocation is
// reported in batchItemFailures, so SQS redelivers and, after maxReceiveCount, moves it to the DLQ.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSClient } from '@aws-sdk/client-sqs';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type pg from 'pg';
import { ConfigError } from '../config/settings.ts';
import { type BatchOptions, type BatchResult, processNextBatch } from '../pgq/consumer.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { consumerDeps } from './container.ts';
import type { DatabaseSource } from './database.ts';
import { MetricUnit, type Observability } from './observability.ts';
import type { Settings } from './settings.ts';
import { sendWakeup, type WakeupMessage } from './wakeup.ts';

export interface PgqConsumerOptions extends Omit<BatchOptions, 'queue' | 'consumer'> {
  /** Queue to consume; default PGQ_QUEUE. */
  queue?: string;
  /** Consumer name; default PGQ_CONSUMER. */
  consumer?: string;
}

export interface ConsumerDeps {
  settings: Settings;
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
}

export function resolveQueueConsumer(
  opts: PgqConsumerOptions,
  settings: Settings,
): { queue: string; consumer: string } {
  const queue = opts.queue ?? (settings.queue as string | undefined);
  const consumer = opts.consumer ?? (settings.consumer as string | undefined);
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
  const minRemainingMs = Number(deps.settings.min_remaining ?? 10) * 1000;
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
  const batches: BatchResult[] = [];
  const m = deps.metrics;
  m?.addDimensions({ queue, consumer });
  let stopped: DrainResult['stopped'] = 'empty';
  let error: Error | undefined;
  let client: pg.PoolClient | null = null;
  try {
    client = await deps.db.pooledClient(APP_NAME);
    for (;;) {
      if (context.getRemainingTimeInMillis() <= minRemainingMs) {
        stopped = 'time';
        break;
      }
      const started = Date.now();
      let tickTime = new Date();
      const res = await processNextBatch(client, {
        ...opts,
        queue,
        consumer,
        handler: (batch, tx) => {
          tickTime = batch.tickTime;
          return opts.handler(batch, tx);
        },
      });
      if (!res) break;
      batches.push(res);
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
    }
    client.release();
    client = null;
  } catch (err) {
    stopped = 'error';
    error = err as Error;
    // A connection that failed mid-transaction is discarded, not returned to the pool.
    client?.release(error);
    client = null;
    m?.addMetric('ConsumerErrors', MetricUnit.Count, 1);
    log.error('batch failed; it will be handed out again', {
      error: error.message,
      kind: (error as { kind?: string }).kind,
    });
  }
  if (stopped === 'time') await wakeSelf(deps, queue, consumer, batches.at(-1), log);
  if (m?.hasStoredMetrics()) m.publishStoredMetrics();
  return {
    response: {
      batchItemFailures: stopped === 'error' ? records.map((r) => ({ itemIdentifier: r.messageId })) : [],
    },
    batches,
    stopped,
    error,
  };
}

/** Time ran short with batches possibly left: wake ourselves instead of waiting for the next tick. */
async function wakeSelf(
  deps: ConsumerDeps,
  queue: string,
  consumer: string,
  last: BatchResult | undefined,
  log: Logger,
): Promise<void> {
  const url = deps.settings.continue_queue_url as string | undefined;
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
