// The long-running form of a consumer (Fargate task, CLI, local stack): the batch loop
// (batch-loop.ts) with processNextBatch as its step — process batches while there are any, then
// sleep loopDelayMs (or until woken by a tick); back off on errors so a failing handler never spins.
// Woken by a tick: in-process through `waker`, and from a ticker in another process (skytools
// pgqd) through the NOTIFY it sends per tick, LISTENed for on the loop's own connection.
import type pg from 'pg';
import { checkout } from '../db/connection.ts';
import { Backoff } from '../util/backoff.ts';
import { defaultLogger, type Logger } from '../util/log.ts';
import { Waker } from '../util/sleep.ts';
import { runBatchLoop } from './batch-loop.ts';
import { type BatchOptions, type BatchResult, processNextBatch, registerConsumer } from './consumer.ts';
import { listenForTicks } from './tick-notify.ts';

export interface ConsumerLoopOptions extends BatchOptions {
  pool: pg.Pool;
  loopDelayMs?: number;
  signal?: AbortSignal;
  /** Lets the ticker wake the consumer as soon as its queue has a new tick. */
  waker?: Waker;
  /**
   * LISTEN for the ticker's notification of each new tick of the queue (default true), so a
   * ticker in another process wakes this loop at once; false: only waker and loopDelayMs.
   */
  listen?: boolean;
  /** Register the consumer on the queue before the first batch (like --register). */
  register?: boolean;
  log?: Logger;
  onBatch?: (res: BatchResult) => void;
  /** Upper bound of the error back-off (default 60 s). */
  maxBackoffMs?: number;
  /** Counters to update as batches complete (for live views); a fresh object by default. */
  stats?: ConsumerStats;
  /** Processes one batch (default processNextBatch); remote and serial consumers plug in here. */
  processBatch?: (client: pg.PoolClient, opts: BatchOptions) => Promise<BatchResult | null>;
}

export interface ConsumerStats {
  batches: number;
  events: number;
  retried: number;
  errors: number;
  lastBatchAt?: Date;
  lastError?: string;
  /** Recent end-to-end latencies (event time → handler start), ms; the last LATENCY_SAMPLES. */
  latencyMs: number[];
}

const LATENCY_SAMPLES = 1000;

/** p-th percentile (0..100) of a list of numbers; null for an empty list. */
export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Wraps a batch handler so that each batch records its events' end-to-end latency (event time →
 * handler start) into stats.latencyMs, keeping the last LATENCY_SAMPLES.
 */
export function withLatencySamples(
  handler: BatchOptions['handler'],
  stats: ConsumerStats,
): BatchOptions['handler'] {
  return (batch, client) => {
    const now = Date.now();
    for (const ev of batch.events) stats.latencyMs.push(now - ev.time.getTime());
    if (stats.latencyMs.length > LATENCY_SAMPLES)
      stats.latencyMs.splice(0, stats.latencyMs.length - LATENCY_SAMPLES);
    return handler(batch, client);
  };
}

export async function runConsumer(opts: ConsumerLoopOptions): Promise<ConsumerStats> {
  const log = (opts.log ?? defaultLogger()).child({ queue: opts.queue, consumer: opts.consumer });
  const loopDelay = opts.loopDelayMs ?? 1000;
  const stats: ConsumerStats = opts.stats ?? { batches: 0, events: 0, retried: 0, errors: 0, latencyMs: [] };
  const handler = withLatencySamples(opts.handler, stats);
  const processBatch = opts.processBatch ?? processNextBatch;
  let registered = !opts.register;
  const listen = opts.listen ?? true;
  const waker = opts.waker ?? (listen ? new Waker() : undefined);
  const unlisten = new WeakMap<pg.PoolClient, (discard?: boolean) => Promise<void>>();
  await runBatchLoop<pg.PoolClient, BatchResult>({
    open: async () => {
      const client = await checkout(opts.pool);
      if (listen && waker) {
        try {
          unlisten.set(client, await listenForTicks(client, opts.queue, () => waker.wake()));
        } catch (err) {
          client.release(err as Error);
          throw err;
        }
      }
      return client;
    },
    // A connection whose batch failed may be broken: it is discarded, not reused.
    close: async (client, err) => {
      try {
        // Back to the pool: stop listening first (the next user must not get our notifications).
        await unlisten.get(client)?.(err != null);
      } catch (e) {
        err ??= e as Error;
      }
      client.release(err);
    },
    step: async (client) => {
      if (!registered) {
        if (await registerConsumer(client, opts.queue, opts.consumer)) log.info('consumer registered');
        registered = true;
      }
      return processBatch(client, { ...opts, handler });
    },
    signal: opts.signal,
    idle: { delayMs: loopDelay, waker },
    backoff: new Backoff({ delayMs: loopDelay, maxMs: opts.maxBackoffMs ?? 60_000 }),
    onResult: (res) => {
      stats.batches++;
      stats.events += res.events;
      stats.retried += res.retried;
      stats.lastBatchAt = new Date();
      opts.onBatch?.(res);
      log.debug('batch done', { batchId: res.batchId, tickId: res.tickId, events: res.events });
    },
    onFailure: (err, retryInMs) => {
      stats.errors++;
      stats.lastError = err.message;
      log.error('batch failed; will retry the same batch', { error: stats.lastError, retryInMs });
    },
  });
  return stats;
}
