// The long-running form of a consumer (Fargate task, CLI, local stack): process batches while
// there are any, then sleep loopDelayMs (or until woken by a tick); back off on errors so a
// failing handler never spins.
import type pg from 'pg';
import { type Logger, silentLogger } from '../util/log.ts';
import { sleep, type Waker } from '../util/sleep.ts';
import { type BatchOptions, type BatchResult, processNextBatch, registerConsumer } from './consumer.ts';

export interface ConsumerLoopOptions extends BatchOptions {
  pool: pg.Pool;
  loopDelayMs?: number;
  signal?: AbortSignal;
  /** Lets the ticker wake the consumer as soon as its queue has a new tick. */
  waker?: Waker;
  /** Register the consumer on the queue before the first batch (like --register). */
  register?: boolean;
  log?: Logger;
  onBatch?: (res: BatchResult) => void;
  /** Upper bound of the error back-off (default 60 s). */
  maxBackoffMs?: number;
}

export interface ConsumerStats {
  batches: number;
  events: number;
  retried: number;
  errors: number;
  lastBatchAt?: Date;
  lastError?: string;
}

export async function runConsumer(opts: ConsumerLoopOptions): Promise<ConsumerStats> {
  const log = (opts.log ?? silentLogger).child({ queue: opts.queue, consumer: opts.consumer });
  const loopDelay = opts.loopDelayMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 60_000;
  const stats: ConsumerStats = { batches: 0, events: 0, retried: 0, errors: 0 };
  let backoff = Math.max(100, loopDelay);
  let client: pg.PoolClient | null = null;
  let registered = !opts.register;
  try {
    while (!opts.signal?.aborted) {
      try {
        client ??= await opts.pool.connect();
        if (!registered) {
          if (await registerConsumer(client, opts.queue, opts.consumer)) log.info('consumer registered');
          registered = true;
        }
        const res = await processNextBatch(client, opts);
        backoff = Math.max(100, loopDelay);
        if (res) {
          stats.batches++;
          stats.events += res.events;
          stats.retried += res.retried;
          stats.lastBatchAt = new Date();
          opts.onBatch?.(res);
          log.debug('batch done', { batchId: res.batchId, tickId: res.tickId, events: res.events });
          continue; // there may be more: drain before sleeping
        }
        if (opts.waker) await opts.waker.wait(loopDelay, opts.signal);
        else await sleep(loopDelay, opts.signal);
      } catch (err) {
        stats.errors++;
        stats.lastError = (err as Error).message;
        log.error('batch failed; will retry the same batch', { error: stats.lastError, retryInMs: backoff });
        // The connection may be broken: do not hand it back to the pool for reuse.
        client?.release(err as Error);
        client = null;
        await sleep(backoff, opts.signal);
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  } finally {
    client?.release();
  }
  return stats;
}
