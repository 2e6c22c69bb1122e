// Cooperative consumers (pgq_coop): N subconsumers share one consumer's batches, each batch going
// to exactly one of them. Unlike a plain consumer, taking the batch is committed on its own
// (pgq_coop.next_batch parks it on the subconsumer) and the work + finish_batch run in a second
// transaction: a subconsumer that hangs or dies mid-batch then holds no locks the others wait for,
// gets its own batch back when it restarts, and if it never does, another subconsumer polling with
// deadIntervalMs takes the batch over once it has been silent that long.
import type pg from 'pg';
import { checkout } from '../db/connection.ts';
import { inTransaction } from '../db/transaction.ts';
import { Backoff } from '../util/backoff.ts';
import { defaultLogger, type Logger } from '../util/log.ts';
import { runBatchLoop } from './batch-loop.ts';
import {
  type Batch,
  BatchEvent,
  type BatchHandler,
  type BatchInfo,
  type BatchOptions,
  batchInfoFromRow,
  msInterval,
} from './consumer.ts';
import { asPgqError, PgqError } from './errors.ts';

export interface CoopBatchOptions extends Omit<BatchOptions, 'lazyFetch'> {
  subconsumer: string;
  /** Take over the batch of a subconsumer silent for this long (default: never). */
  deadIntervalMs?: number;
}

export interface CoopBatchResult {
  batchId: bigint;
  tickId: bigint;
  events: number;
  retried: number;
}

const RAW_TEXT = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** Claims the subconsumer's next batch (committed at once); null when there is none. */
export async function claimCoopBatch(
  client: pg.ClientBase,
  opts: CoopBatchOptions,
): Promise<BatchInfo | null> {
  let row: Record<string, unknown> | undefined;
  try {
    row = (
      await client.query(
        'select * from pgq_coop.next_batch_custom($1, $2, $3, $4::interval, $5::int4, $6::interval, $7::interval)',
        [
          opts.queue,
          opts.consumer,
          opts.subconsumer,
          msInterval(opts.minLagMs),
          opts.minCount ?? null,
          msInterval(opts.minIntervalMs),
          msInterval(opts.deadIntervalMs),
        ],
      )
    ).rows[0];
  } catch (err) {
    throw asPgqError(err, `pgq_coop.next_batch for ${opts.queue}/${opts.consumer}.${opts.subconsumer}`);
  }
  if (!row || row.batch_id == null) return null;
  return batchInfoFromRow(row, opts.queue, `${opts.consumer}.${opts.subconsumer}`);
}

/**
 * Claims and processes the subconsumer's next batch: the handler tags each event done or retry,
 * then the retries and pgq_coop.finish_batch commit together with whatever the handler wrote
 * through `client`. On a handler error that transaction rolls back and the batch stays with this
 * subconsumer (returned again by the next call). Returns null when no batch is ready.
 */
export async function processNextCoopBatch(
  client: pg.ClientBase,
  opts: CoopBatchOptions,
): Promise<CoopBatchResult | null> {
  const info = await claimCoopBatch(client, opts);
  if (!info) return null;
  return processClaimedCoopBatch(client, info, opts.handler, opts.untagged);
}

/** The second half of processNextCoopBatch, for a batch claimed earlier. */
export async function processClaimedCoopBatch(
  client: pg.ClientBase,
  info: BatchInfo,
  handler: BatchHandler,
  untagged: BatchOptions['untagged'] = 'error',
): Promise<CoopBatchResult> {
  return inTransaction(client, async () => {
    const tally = { untagged: 0, retries: new Map<bigint, number | Date>() };
    // Raw text rows in BatchEvent's column order; fields are parsed on first access.
    const rows = (
      await client.query<string[]>({
        text: `select ev_id, ev_time, ev_txid, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
                 from pgq.get_batch_events($1)`,
        values: [info.batchId],
        rowMode: 'array',
        types: RAW_TEXT,
      })
    ).rows;
    const events = rows.map((r) => new BatchEvent(r as ConstructorParameters<typeof BatchEvent>[0], tally));
    const batch: Batch = {
      ...info,
      events,
      async *[Symbol.asyncIterator]() {
        yield* events;
      },
    };
    await handler(batch, client);
    if (tally.untagged > 0 && untagged !== 'done') {
      throw new PgqError(
        'untagged_events',
        `coop batch ${info.batchId} of ${info.queue}/${info.consumer}: ${tally.untagged} event(s) left untagged`,
      );
    }
    for (const [evId, after] of tally.retries) {
      if (after instanceof Date) {
        await client.query('select pgq.event_retry($1, $2, $3::timestamptz)', [info.batchId, evId, after]);
      } else {
        await client.query('select pgq.event_retry($1, $2, $3::integer)', [
          info.batchId,
          evId,
          Math.round(after),
        ]);
      }
    }
    await client.query('select pgq_coop.finish_batch($1)', [info.batchId]);
    return { batchId: info.batchId, tickId: info.tickId, events: events.length, retried: tally.retries.size };
  });
}

export async function registerSubconsumer(
  client: pg.ClientBase,
  queue: string,
  consumer: string,
  subconsumer: string,
): Promise<boolean> {
  try {
    const r = await client.query('select pgq_coop.register_subconsumer($1, $2, $3) as r', [
      queue,
      consumer,
      subconsumer,
    ]);
    return r.rows[0].r === 1;
  } catch (err) {
    throw asPgqError(err, `register subconsumer ${consumer}.${subconsumer} on ${queue}`);
  }
}

/** Removes a subconsumer; `dropBatch` discards its open batch (otherwise an open batch is an error). */
export async function unregisterSubconsumer(
  client: pg.ClientBase,
  queue: string,
  consumer: string,
  subconsumer: string,
  dropBatch = false,
): Promise<boolean> {
  const r = await client.query('select pgq_coop.unregister_subconsumer($1, $2, $3, $4) as r', [
    queue,
    consumer,
    subconsumer,
    dropBatch ? 1 : 0,
  ]);
  return r.rows[0].r === 1;
}

export interface CoopConsumerLoopOptions extends CoopBatchOptions {
  pool: pg.Pool;
  loopDelayMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  onBatch?: (res: CoopBatchResult) => void;
  maxBackoffMs?: number;
}

/** The long-running form: the batch loop with one subconsumer's batches, until the signal aborts. */
export async function runCoopConsumer(
  opts: CoopConsumerLoopOptions,
): Promise<{ batches: number; events: number; errors: number }> {
  const log = (opts.log ?? defaultLogger()).child({
    queue: opts.queue,
    consumer: opts.consumer,
    subconsumer: opts.subconsumer,
  });
  const stats = { batches: 0, events: 0, errors: 0 };
  const delay = opts.loopDelayMs ?? 1000;
  await runBatchLoop<pg.PoolClient, CoopBatchResult>({
    open: () => checkout(opts.pool),
    close: (client, err) => client.release(err),
    step: (client) => processNextCoopBatch(client, opts),
    signal: opts.signal,
    idle: { delayMs: delay },
    backoff: new Backoff({ delayMs: delay, maxMs: opts.maxBackoffMs ?? 60_000 }),
    onResult: (res) => {
      stats.batches++;
      stats.events += res.events;
      opts.onBatch?.(res);
    },
    onFailure: (err, retryInMs) => {
      stats.errors++;
      log.error('coop batch failed; will retry the same batch', { error: err.message, retryInMs });
    },
  });
  return stats;
}
