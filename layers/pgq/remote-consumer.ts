// Consumers that write into another database (the target) exactly once, with pgq_ext in the
// target keeping track of what was applied:
//
// - remote: the last applied batch id (pgq_ext.is_batch_done / set_batch_done);
// - serial: the last applied tick id (pgq_ext.get_last_tick / set_last_tick), as python-pgq's
//   SerialConsumer; it also notices a target that is behind or ahead of the queue.
//
// Order of work per batch: open the batch on the queue database and commit that (so a crash
// gets the same batch id and ticks back); if the target already has it, finish it unread;
// otherwise run the handler in a target transaction that also records the batch, commit the
// target, then tag retries and finish_batch on the queue database and commit. A crash between
// the two commits re-delivers the batch, which is then finished as already applied.
//
// Limitation, as in the original: retries tagged in a batch whose target commit succeeded but
// whose finish_batch did not are lost with the crash (the batch is finished as applied).
import type pg from 'pg';
import { checkout, toBigInt } from '../db/connection.ts';
import {
  type Batch,
  type BatchInfo,
  type BatchOptions,
  type BatchResult,
  openNextBatch,
  processNextBatch,
  registerConsumer,
  unregisterConsumer,
} from './consumer.ts';
import { type ConsumerLoopOptions, type ConsumerStats, runConsumer } from './consumer-loop.ts';
import { asPgqError, PgqError } from './errors.ts';

/** Applies a batch: `target` is inside the target transaction, `queue` inside the queue's. */
export type RemoteBatchHandler = (batch: Batch, target: pg.ClientBase, queue: pg.ClientBase) => Promise<void>;

export interface RemoteBatchOptions extends Omit<BatchOptions, 'handler' | 'beforeFinish'> {
  /** Connection to the target database (pgq_ext installed); must not be inside a transaction. */
  target: pg.ClientBase;
  handler: RemoteBatchHandler;
  /** pgq_ext subconsumer id (default ''): several trackers for one consumer name. */
  subconsumer?: string;
  /** Called after the target commit, before finish_batch on the queue database. */
  onTargetCommit?: (result: BatchResult) => Promise<void> | void;
}

export interface RemoteBatchResult extends BatchResult {
  /** The tick the batch starts after (a serial consumer's target moves from it to tickId). */
  prevTickId: bigint;
  /** True when the target already had this batch: it was finished without being read. */
  skipped: boolean;
}

interface Tracker {
  /** Whether the target already applied the batch (throws when the target is out of step). */
  isApplied(target: pg.ClientBase, info: BatchInfo): Promise<boolean>;
  /** Records the batch as applied, inside the target transaction. */
  markApplied(target: pg.ClientBase, info: BatchInfo): Promise<void>;
  allowRetry: boolean;
}

/**
 * Remote consumer: processes the next batch into the target database exactly once, tracking
 * the last applied batch id. Returns null when no batch is ready.
 */
export function processRemoteBatch(
  queue: pg.ClientBase,
  opts: RemoteBatchOptions,
): Promise<RemoteBatchResult | null> {
  const sub = opts.subconsumer ?? '';
  return processTracked(queue, opts, {
    allowRetry: true,
    async isApplied(target, info) {
      const r = await target.query<{ done: boolean }>('select pgq_ext.is_batch_done($1, $2, $3) as done', [
        opts.consumer,
        sub,
        info.batchId,
      ]);
      return r.rows[0]!.done;
    },
    async markApplied(target, info) {
      const r = await target.query<{ set: boolean }>('select pgq_ext.set_batch_done($1, $2, $3) as set', [
        opts.consumer,
        sub,
        info.batchId,
      ]);
      if (!r.rows[0]!.set) {
        throw new PgqError(
          'corrupt_state',
          `batch ${info.batchId} of ${opts.queue}/${opts.consumer} was applied to the target concurrently; ` +
            'is a second copy of this consumer running?',
        );
      }
    },
  });
}

/**
 * Serial consumer: processes the next batch into the target database exactly once, tracking
 * the last applied tick. Refuses retries (a serial target sees every batch in order) and a
 * target whose last tick is neither this batch's start nor its end ("lost position": see
 * serialRewind).
 */
export function processSerialBatch(
  queue: pg.ClientBase,
  opts: RemoteBatchOptions,
): Promise<RemoteBatchResult | null> {
  const sub = opts.subconsumer ?? '';
  return processTracked(queue, opts, {
    allowRetry: false,
    async isApplied(target, info) {
      const last = await getLastTick(target, opts.consumer, sub);
      if (last == null || last === info.prevTickId) return false;
      if (last === info.tickId) return true;
      throw new PgqError(
        'corrupt_state',
        `${opts.queue}/${opts.consumer}: lost position: batch covers ticks ${info.prevTickId}..${info.tickId}, ` +
          `the target has tick ${last} (rewind the consumer to the target's tick or reset the target)`,
      );
    },
    async markApplied(target, info) {
      // Re-checked inside the target transaction, in case another copy got there first.
      if (await this.isApplied(target, info)) {
        throw new PgqError(
          'corrupt_state',
          `batch ${info.batchId} of ${opts.queue}/${opts.consumer} was applied to the target concurrently`,
        );
      }
      await target.query('select pgq_ext.set_last_tick($1, $2, $3)', [opts.consumer, sub, info.tickId]);
    },
  });
}

async function processTracked(
  queue: pg.ClientBase,
  opts: RemoteBatchOptions,
  tracker: Tracker,
): Promise<RemoteBatchResult | null> {
  const info = await openBatch(queue, opts);
  if (!info) return null;
  if (await tracker.isApplied(opts.target, info)) {
    await queue.query('select pgq.finish_batch($1)', [info.batchId]);
    return {
      batchId: info.batchId,
      events: 0,
      retried: 0,
      tickId: info.tickId,
      prevTickId: info.prevTickId,
      skipped: true,
    };
  }
  const { target, handler, onTargetCommit, subconsumer: _sub, ...batchOpts } = opts;
  let targetOpen = false;
  try {
    const res = await processNextBatch(queue, {
      ...batchOpts,
      handler: async (batch, q) => {
        if (batch.batchId !== info.batchId) {
          throw new PgqError('corrupt_state', `expected open batch ${info.batchId}, got ${batch.batchId}`);
        }
        await target.query('begin');
        targetOpen = true;
        await handler(batch, target, q);
      },
      beforeFinish: async (batch, result) => {
        if (!tracker.allowRetry && result.retried > 0) {
          throw new PgqError(
            'invalid_argument',
            `${opts.queue}/${opts.consumer}: a serial consumer cannot retry events (${result.retried} tagged)`,
          );
        }
        if (!targetOpen) {
          // processNextBatch always calls the handler first; kept so the mark is never autocommitted.
          await target.query('begin');
          targetOpen = true;
        }
        await tracker.markApplied(target, batch);
        await target.query('commit');
        targetOpen = false;
        await onTargetCommit?.(result);
      },
    });
    if (!res) {
      throw new PgqError('corrupt_state', `batch ${info.batchId} of ${opts.queue}/${opts.consumer} vanished`);
    }
    return { ...res, prevTickId: info.prevTickId, skipped: false };
  } catch (err) {
    if (targetOpen) await target.query('rollback').catch(() => {});
    throw err;
  }
}

/** Opens (or gets back) the consumer's batch; the caller commits that, so a crash keeps its id. */
const openBatch = (queue: pg.ClientBase, opts: RemoteBatchOptions) => openNextBatch(queue, opts);

async function getLastTick(target: pg.ClientBase, consumer: string, sub: string): Promise<bigint | null> {
  const r = await target.query<{ t: unknown }>('select pgq_ext.get_last_tick($1, $2) as t', [consumer, sub]);
  const t = r.rows[0]?.t;
  return t == null ? null : toBigInt(t);
}

/** Forgets the serial consumer's position in the target (python-pgq's --reset). */
export async function serialResetTarget(
  target: pg.ClientBase,
  consumer: string,
  subconsumer = '',
): Promise<void> {
  await target.query('select pgq_ext.set_last_tick($1, $2, null)', [consumer, subconsumer]);
}

/**
 * Moves the consumer's position on the queue to the target's last tick (python-pgq's
 * --rewind). Returns that tick, or null (nothing changed) when the target has none.
 */
export async function serialRewind(
  queue: pg.ClientBase,
  target: pg.ClientBase,
  queueName: string,
  consumer: string,
  subconsumer = '',
): Promise<bigint | null> {
  const tick = await getLastTick(target, consumer, subconsumer);
  if (tick == null) return null;
  try {
    await queue.query('select pgq.register_consumer_at($1, $2, $3)', [queueName, consumer, tick]);
  } catch (err) {
    throw asPgqError(err, `rewind ${queueName}/${consumer} to tick ${tick}`);
  }
  return tick;
}

/** Registers a serial consumer; a new registration also resets its position in the target. */
export async function registerSerialConsumer(
  queue: pg.ClientBase,
  target: pg.ClientBase,
  queueName: string,
  consumer: string,
  subconsumer = '',
): Promise<boolean> {
  const created = await registerConsumer(queue, queueName, consumer);
  if (created) await serialResetTarget(target, consumer, subconsumer);
  return created;
}

/** Unregisters a serial consumer and forgets its position in the target. */
export async function unregisterSerialConsumer(
  queue: pg.ClientBase,
  target: pg.ClientBase,
  queueName: string,
  consumer: string,
  subconsumer = '',
): Promise<boolean> {
  const removed = await unregisterConsumer(queue, queueName, consumer);
  await serialResetTarget(target, consumer, subconsumer);
  return removed;
}

export interface RemoteConsumerLoopOptions extends Omit<ConsumerLoopOptions, 'handler' | 'processBatch'> {
  /** Pool of the target database (pgq_ext installed); one connection is used per batch. */
  targetPool: pg.Pool;
  handler: RemoteBatchHandler;
  /** 'remote' (batch tracking, default) or 'serial' (tick tracking). */
  mode?: 'remote' | 'serial';
  subconsumer?: string;
  onTargetCommit?: RemoteBatchOptions['onTargetCommit'];
}

/**
 * The long-running form of a remote or serial consumer: runConsumer's loop (drain, sleep or
 * wake-up, back-off on errors) with each batch applied into the target database exactly once.
 * With `register`, a serial consumer that is new on the queue also resets its target position.
 */
export async function runRemoteConsumer(opts: RemoteConsumerLoopOptions): Promise<ConsumerStats> {
  const { targetPool, handler, mode = 'remote', subconsumer, onTargetCommit, ...loop } = opts;
  const processOne = mode === 'serial' ? processSerialBatch : processRemoteBatch;
  if (opts.register) {
    const queue = await checkout(opts.pool);
    const target = await checkout(targetPool);
    try {
      if (mode === 'serial')
        await registerSerialConsumer(queue, target, opts.queue, opts.consumer, subconsumer);
      else await registerConsumer(queue, opts.queue, opts.consumer);
    } finally {
      queue.release();
      target.release();
    }
  }
  // runConsumer hands its (latency-measuring) handler the client it was given: here, the target.
  let queueClient: pg.ClientBase | null = null;
  return runConsumer({
    ...loop,
    register: false,
    handler: (batch, target) => handler(batch, target, queueClient!),
    processBatch: async (queue, batchOpts) => {
      const target = await checkout(targetPool);
      try {
        const res = await processOne(queue, {
          ...batchOpts,
          target,
          subconsumer,
          onTargetCommit,
          handler: (batch, t, q) => {
            queueClient = q;
            return batchOpts.handler(batch, t);
          },
        });
        target.release();
        return res;
      } catch (err) {
        // The target connection may be broken: do not hand it back to the pool for reuse.
        target.release(err as Error);
        throw err;
      }
    },
  });
}
