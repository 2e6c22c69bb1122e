// The cascaded worker: one per node per queue. On a branch it copies each batch of its provider's
// queue (events with their ids, then the tick with its id) into the local queue; on a leaf it only
// tracks its position; on every node it applies the cascade's own events (pgq.location-info, …),
// calls the user's handler (Londiste's apply later) and moves watermarks: the root publishes the
// global watermark downstream, the others report their local watermark upstream.
//
// Crash safety, per batch:
//   1. local transaction: copied events + cascade events + handler + set_consumer_completed(tick)
//   2. branch only, next local transaction: the tick itself (pgq.ticker with the provider's id)
//   3. provider: finish_batch
// A crash between any two steps re-delivers the same batch; it is recognised by its tick id
// (completed tick = the batch's tick) and only the missing steps run. The tick gets its own
// transaction because a tick's snapshot taken inside the copying transaction would not reliably
// contain that transaction's own events (own xid vs. snapshot xmax), and batches on the branch
// must hold exactly the provider's events for tick ids to mean the same position on every node.
import type pg from 'pg';
import { guardClient, toBigInt } from '../db/connection.ts';
import { inTransaction } from '../db/transaction.ts';
import { runBatchLoop } from '../pgq/batch-loop.ts';
import type { PgqEvent } from '../pgq/consumer.ts';
import { requeueEvents } from '../pgq/producer.ts';
import { listenForTicks, listenOn, tickChannel, workerWakeChannel } from '../pgq/tick-notify.ts';
import { Backoff } from '../util/backoff.ts';
import { defaultLogger, type Logger } from '../util/log.ts';
import { sleep, Waker } from '../util/sleep.ts';
import { BatchEventReader } from './batch-events.ts';
import {
  CascadeError,
  type ConsumerState,
  connectLocation,
  getConsumerState,
  getNodeInfo,
  lastLocalTick,
  type NodeInfo,
  nodeCmd,
  redactLocation,
} from './node.ts';

export interface CascadeBatch {
  queue: string;
  batchId: bigint;
  tickId: bigint;
  prevTickId: bigint;
  tickTime: Date;
  prevTickTime: Date;
  /** The provider's event sequence at the batch's tick. */
  tickEventSeq: bigint;
  nodeType: 'branch' | 'leaf';
  nodeName: string;
  /** A merge-leaf's combined queue (a root on this database) that its events go on into. */
  combinedQueue?: string;
  /**
   * Every event of the batch in id order, cascade events (type pgq.*) included: complete once the
   * batch is applied; while it is, the events read so far (they arrive in chunks: eventChunks).
   * When the worker streams the batch (streamsEvents), only the chunk being applied.
   */
  events: PgqEvent[];
  /** How many events have been read from the provider (all of them once the batch is applied). */
  eventCount: number;
}

/**
 * The user-level hook of a cascaded consumer, as an option (a subclass overrides
 * processRemoteBatch / processRemoteEvent instead: Londiste's replay). Called once per batch on
 * branches and leaves, inside the local transaction that also records the batch as done, so
 * whatever it writes through `local` is applied exactly once. Cascade events (type `pgq.*`) are
 * handled by the worker; a handler usually skips them (see isCascadeEvent).
 */
export type CascadeHandler = (
  batch: CascadeBatch,
  local: pg.ClientBase,
  provider: pg.ClientBase,
) => Promise<void>;

export const isCascadeEvent = (ev: Pick<PgqEvent, 'type'>) => (ev.type ?? '').startsWith('pgq.');

export interface CascadeWorkerOptions {
  queue: string;
  /** The node's worker name (job_name in the .ini). */
  worker: string;
  /** Opens a connection to the local node's database. */
  connectLocal: () => Promise<pg.Client>;
  /** Opens a connection to another node by its location (default: connectLocation). */
  connectRemote?: (location: string) => Promise<pg.Client>;
  handler?: CascadeHandler;
  /** Sleep when idle, paused or on the root (default 1 s). */
  loopDelayMs?: number;
  /** How often a non-root node reports its local watermark upstream (default 300 s, as the original). */
  localWmPublishPeriodMs?: number;
  /** How often the root publishes the global watermark downstream (default 300 s). */
  globalWmPublishPeriodMs?: number;
  /**
   * How the worker writes into its branch queue, which refuses ordinary inserts: by setting
   * session_replication_role = replica for the copy statement (needs superuser or, on
   * PostgreSQL 15+, a SET grant), or by lifting queue_disable_insert inside the copying transaction
   * (needs UPDATE on pgq.queue). 'auto' (default) tries the first and falls back to the second.
   */
  insertMode?: 'auto' | 'replica' | 'toggle';
  /**
   * false: a side worker of the node (Londiste's table copy, as the original's copy process): it
   * keeps its own position under its own name but does not copy events into the local queue, apply
   * cascade events, create branch ticks or publish watermarks — the node's main worker does that.
   */
  mainWorker?: boolean;
  /** Events per FETCH of a batch's cursor (default 5000): the reader stays one chunk ahead. */
  eventChunk?: number;
  signal?: AbortSignal;
  log?: Logger;
  onBatch?: (res: WorkResult) => void;
  maxBackoffMs?: number;
  stats?: CascadeWorkerStats;
}

export type WorkResult =
  | { kind: 'paused' }
  | { kind: 'root' }
  | { kind: 'idle' }
  /** A subclass held the batch back (beforeBatch) or asked to look again soon (onIdle). */
  | { kind: 'waiting' }
  | { kind: 'batch'; batchId: bigint; tickId: bigint; events: number; skipped: boolean };

export interface CascadeWorkerStats {
  batches: number;
  events: number;
  skipped: number;
  errors: number;
  lastError?: string;
  lastTick?: bigint;
}

const ADVISORY_CLASS = 0x736b7963; // 'skyc'

export class CascadeWorker {
  /** The advisory-lock class of the one-worker-per-node lock (key 2: hashtext('<queue>/<worker>')). */
  static readonly advisoryClass = ADVISORY_CLASS;
  readonly opts: CascadeWorkerOptions;
  readonly stats: CascadeWorkerStats;
  // Protected, not private: Londiste's replay is a subclass and works with the same connections.
  protected readonly log: Logger;
  /** The local node's connection (holds the one-worker advisory lock); null until first use. */
  protected localConn: pg.Client | null = null;
  /** The provider's connection, to providerLocation. */
  protected providerConn: pg.Client | null = null;
  /** Ends the idle wait when the provider announces a tick (see providerClient). */
  protected readonly waker = new Waker();
  protected providerLocation: string | null = null;
  /** When the local / global watermark was last published (ms since epoch). */
  protected lastLocalWmAt = 0;
  protected lastGlobalWmAt = 0;
  /** How copies write into the branch queue, once known (see CascadeWorkerOptions.insertMode). */
  protected insertMode: 'replica' | 'toggle' | null;
  /** How long a 'waiting' step pauses before the next look. */
  protected waitingDelayMs = 50;
  /** See CascadeWorkerOptions.mainWorker. */
  protected readonly mainWorker: boolean;
  /** The batch being applied, its event reader and how many events eventChunks handed out. */
  private reading: { batch: CascadeBatch; reader: BatchEventReader; handed: number } | null = null;

  constructor(opts: CascadeWorkerOptions) {
    this.opts = opts;
    this.stats = opts.stats ?? { batches: 0, events: 0, skipped: 0, errors: 0 };
    this.log = (opts.log ?? defaultLogger()).child({ queue: opts.queue, worker: opts.worker });
    this.insertMode = opts.insertMode && opts.insertMode !== 'auto' ? opts.insertMode : null;
    this.mainWorker = opts.mainWorker ?? true;
  }

  /**
   * Runs until the signal aborts: the batch loop (layers/pgq/batch-loop.ts) with workOnce as its
   * step — batches back to back, sleeping when idle, paused or on the root, and on errors
   * recording them on the node, dropping both connections and backing off.
   */
  async run(): Promise<CascadeWorkerStats> {
    const delay = this.opts.loopDelayMs ?? 1000;
    await runBatchLoop<null, WorkResult>({
      // workOnce connects by itself: the local node first, then whichever provider it names.
      open: async () => null,
      close: () => this.dropConnections(),
      step: async () => {
        const res = await this.workOnce();
        if (res.kind === 'waiting') {
          // Something else (another job on this node) must move first: look again soon, not
          // after a full idle delay.
          await sleep(this.waitingDelayMs, this.opts.signal);
          return res;
        }
        return res.kind === 'batch' ? res : null;
      },
      signal: this.opts.signal,
      idle: { delayMs: delay, waker: this.waker },
      backoff: new Backoff({ delayMs: delay, maxMs: this.opts.maxBackoffMs ?? 30_000 }),
      onFailure: async (err, retryInMs) => {
        if (this.opts.signal?.aborted) return; // shutting down: not the node's error
        this.stats.errors++;
        this.stats.lastError = err.message;
        this.log.error('cascade worker failed; retrying', { error: err.message, retryInMs });
        await this.recordError(err.message);
      },
    });
    await this.close();
    return this.stats;
  }

  async close(): Promise<void> {
    await this.dropConnections();
  }

  /** One step: refresh state, then (branch/leaf) one batch from the provider or (root) watermark duty. */
  async workOnce(): Promise<WorkResult> {
    const local = await this.localClient();
    const { queue } = this.opts;
    const state = await this.refreshState(local);
    if (state.paused) return { kind: 'paused' };
    const node = await getNodeInfo(local, queue);
    if (node.nodeType === 'root') {
      if (this.mainWorker) await this.publishGlobalWatermark(local);
      const res = await this.onRoot(local);
      await this.clearError(local, state);
      return res ?? { kind: 'root' };
    }
    // A merge-leaf whose combined queue is a root here copies its events on into it (as the
    // original's WorkerState with combined_type root); one under a combined branch waits behind
    // the branch's position (followCombined).
    if (node.combinedQueue && node.combinedType !== 'root' && node.combinedType !== 'branch') {
      throw new CascadeError(
        'node_state',
        `${queue}: merge-leaf's combined queue ${node.combinedQueue} is a ${node.combinedType ?? 'missing'} node here (root or branch expected)`,
      );
    }
    if (!state.providerLocation) {
      throw new CascadeError(
        'unknown_node',
        `${queue}: provider node ${state.providerNode} has no location on this node`,
      );
    }
    const provider = await this.providerClient(state.providerLocation);
    if (node.combinedQueue && node.combinedType === 'branch') {
      const res = await this.followCombined(local, provider, state);
      await this.clearError(local, state);
      return res;
    }

    const b = await this.nextBatch(provider, node);
    if (!b || b.batch_id == null) {
      const res = await this.onIdle(local, provider);
      await this.clearError(local, state);
      return res ?? { kind: 'idle' };
    }
    const batch: CascadeBatch = {
      queue,
      batchId: toBigInt(b.batch_id),
      tickId: toBigInt(b.cur_tick_id),
      prevTickId: toBigInt(b.prev_tick_id),
      tickTime: b.cur_tick_time,
      prevTickTime: b.prev_tick_time,
      tickEventSeq: toBigInt(b.cur_tick_event_seq),
      nodeType: node.nodeType as 'branch' | 'leaf',
      nodeName: state.nodeName,
      ...(node.combinedQueue ? { combinedQueue: node.combinedQueue } : {}),
      events: [],
      eventCount: 0,
    };
    const log = this.log.child({ batchId: batch.batchId, tickId: batch.tickId });

    let skipped: boolean;
    if (state.completedTick === batch.tickId) {
      skipped = true; // applied before a crash / restart; only the tick and finish may be missing
    } else if (state.completedTick === batch.prevTickId) {
      if (!(await this.beforeBatch(batch, local, provider))) return { kind: 'waiting' };
      // The events are read while the batch is applied (eventChunks), a chunk ahead of it.
      const reader = new BatchEventReader(provider, batch.batchId, this.eventFilter(), this.opts.eventChunk);
      this.reading = { batch, reader, handed: 0 };
      try {
        skipped = !(await this.applyBatch(local, provider, batch));
        await reader.close();
      } catch (err) {
        await reader.abort();
        throw err;
      } finally {
        this.reading = null;
      }
    } else {
      throw new CascadeError(
        'node_state',
        `${queue}: lost position: provider batch ${batch.prevTickId}..${batch.tickId}, ` +
          `this node completed tick ${state.completedTick}; ` +
          'the node needs change-provider / resurrect, or the provider lost its ticks',
      );
    }
    if (batch.nodeType === 'branch' && this.mainWorker) await this.ensureBranchTick(local, batch);
    await provider.query('select pgq.finish_batch($1)', [batch.batchId]);
    if (this.mainWorker) await this.publishLocalWatermark(local, provider, state.nodeName, batch.tickId);
    await this.afterBatch(batch, local, provider);

    this.stats.batches++;
    this.stats.lastTick = batch.tickId;
    if (skipped) this.stats.skipped++;
    else this.stats.events += batch.eventCount;
    log.debug(skipped ? 'batch was applied before; finished it' : 'batch applied', {
      events: batch.eventCount,
    });
    const res: WorkResult = {
      kind: 'batch',
      batchId: batch.batchId,
      tickId: batch.tickId,
      events: batch.eventCount,
      skipped,
    };
    this.opts.onBatch?.(res);
    return res;
  }

  /**
   * A merge-leaf under a combined branch (the original's wait_behind). Its partition's events
   * reach this database through the combined queue — the combined root's merge-leaf passed them
   * on with a `pgq.tick-id` event per batch, and the combined branch's worker sets this node's
   * position from those (`set_partition_watermark`) in the transaction that applies them — so it
   * applies nothing itself and records no position (the hooks of a subclass — Londiste's table
   * copies — do not run either). Its partition batch is held open until that position has
   * reached the batch's tick, then finished at the partition's root, which keeps the events until
   * then: on a takeover of the combined root this node goes on from a position the branch has.
   * Not applied here, as in the original: the partition batch's cascade events (member changes).
   */
  protected async followCombined(
    local: pg.Client,
    provider: pg.Client,
    state: ConsumerState,
  ): Promise<WorkResult> {
    const { queue, worker } = this.opts;
    const b = (await provider.query('select * from pgq.next_batch_info($1, $2)', [queue, worker])).rows[0];
    if (!b || b.batch_id == null) return { kind: 'idle' };
    const batchId = toBigInt(b.batch_id);
    const tickId = toBigInt(b.cur_tick_id);
    if (state.completedTick < tickId) {
      // Behind the combined branch: look again after the idle delay (or the partition's next tick).
      this.log.debug('waiting for the combined branch', { tickId, at: state.completedTick });
      return { kind: 'idle' };
    }
    await provider.query('select pgq.finish_batch($1)', [batchId]);
    if (this.mainWorker) await this.publishLocalWatermark(local, provider, state.nodeName, tickId);
    this.stats.batches++;
    this.stats.skipped++;
    this.stats.lastTick = tickId;
    const res: WorkResult = { kind: 'batch', batchId, tickId, events: 0, skipped: true };
    this.opts.onBatch?.(res);
    return res;
  }

  /**
   * Opens (or re-reads) the next batch at the provider: the row of pgq.next_batch_info, batch_id
   * null when there is none. A subclass may ask for bigger batches (next_batch_custom) where
   * skipping ticks is sound — never on a branch, whose local ticks must be the provider's.
   */
  protected async nextBatch(provider: pg.Client, _node: NodeInfo): Promise<pg.QueryResultRow | undefined> {
    const { queue, worker } = this.opts;
    return (await provider.query('select * from pgq.next_batch_info($1, $2)', [queue, worker])).rows[0];
  }

  /**
   * A condition on the batch's events (SQL over the columns of pgq.get_batch_events; values
   * quoted by the subclass): only the events it keeps are applied and, on a branch, passed on.
   * Null (the default): every event. Cascade events (`pgq.*`) must be kept by any filter.
   */
  protected eventFilter(): string | null {
    return null;
  }

  /**
   * The batch's events in id order, in chunks as they arrive from the provider (each chunk once:
   * whatever an earlier step read without handing it out — a branch reads all first — comes
   * first); the whole batch is in `batch.events` once every chunk has been read. Call it from
   * processRemoteBatch; what it leaves unread is read after it.
   */
  protected async *eventChunks(batch: CascadeBatch): AsyncGenerator<PgqEvent[]> {
    const r = this.reading;
    if (!r || r.batch !== batch)
      throw new CascadeError('protocol', `batch ${batch.batchId} is not being read`);
    const forget = this.streamsEvents(batch);
    for (;;) {
      if (r.handed < batch.events.length) {
        const chunk = r.handed === 0 ? batch.events : batch.events.slice(r.handed);
        r.handed = batch.events.length;
        yield chunk;
        if (forget) {
          // applied: a big batch holds only the chunks in flight, not every event it had
          batch.events = [];
          r.handed = 0;
        }
        continue;
      }
      if (!(await this.readChunk(batch))) return;
    }
  }

  /**
   * True when nothing needs the batch's events once eventChunks has handed them out, so they are
   * dropped as they are applied (memory bounded by the chunk, whatever the batch's size). Only
   * for a leaf that passes nothing on (no combined queue). Default: false (batch.events is whole).
   */
  protected streamsEvents(_batch: CascadeBatch): boolean {
    return false;
  }

  /** Reads every event not read yet into batch.events (handing out nothing). */
  protected async readAllEvents(batch: CascadeBatch): Promise<void> {
    while (await this.readChunk(batch)) {
      // batch.events grows
    }
  }

  /**
   * One more chunk into batch.events; false after the last. On a leaf the main worker applies
   * the chunk's cascade events as they arrive (a branch applies them after copying the batch).
   */
  private async readChunk(batch: CascadeBatch): Promise<boolean> {
    const r = this.reading;
    if (!r || r.batch !== batch) return false;
    const chunk = await r.reader.next();
    if (!chunk) return false;
    for (const ev of chunk) batch.events.push(ev);
    batch.eventCount += chunk.length;
    if (this.mainWorker && batch.nodeType !== 'branch' && this.localConn) {
      for (const ev of chunk) if (isCascadeEvent(ev)) await this.cascadeEvent(this.localConn, batch, ev);
    }
    return true;
  }

  /**
   * Before a batch that is not applied yet, outside any transaction (so what it writes is seen by
   * other jobs at once): false holds the batch back — it stays open on the provider and the next
   * step reads it again. Londiste's table-state machine runs here. Default: go ahead.
   */
  protected async beforeBatch(
    _batch: CascadeBatch,
    _local: pg.Client,
    _provider: pg.Client,
  ): Promise<boolean> {
    return true;
  }

  /** After a batch is finished on the provider (also a re-delivered one). Default: nothing. */
  protected async afterBatch(_batch: CascadeBatch, _local: pg.Client, _provider: pg.Client): Promise<void> {}

  /** The provider has no batch for us; a result other than undefined replaces 'idle'. */
  protected async onIdle(_local: pg.Client, _provider: pg.Client): Promise<WorkResult | undefined> {
    return undefined;
  }

  /** A step on the root (after the global watermark); a result other than undefined replaces 'root'. */
  protected async onRoot(_local: pg.Client): Promise<WorkResult | undefined> {
    return undefined;
  }

  /**
   * The per-batch step, after the cascade bookkeeping (on a branch the events are already in the
   * local queue, cascade events applied), inside the local transaction that then records the
   * batch as done: whatever it writes through `local` is applied exactly once. Default:
   * opts.handler, then processRemoteEvent for every user event. A subclass (Londiste's replay)
   * overrides either, as the original's CascadedWorker subclasses override
   * process_remote_batch / process_remote_event.
   */
  protected async processRemoteBatch(
    batch: CascadeBatch,
    local: pg.ClientBase,
    provider: pg.ClientBase,
  ): Promise<void> {
    await this.readAllEvents(batch);
    if (this.opts.handler) await this.opts.handler(batch, local, provider);
    for (const ev of batch.events) {
      if (!isCascadeEvent(ev)) await this.processRemoteEvent(batch, ev, local, provider);
    }
  }

  /** One user event of a batch, in processRemoteBatch's transaction; default: nothing. */
  protected async processRemoteEvent(
    _batch: CascadeBatch,
    _ev: PgqEvent,
    _local: pg.ClientBase,
    _provider: pg.ClientBase,
  ): Promise<void> {}

  /** The local transaction of a batch; returns false when (under the lock) it turned out done. */
  protected async applyBatch(local: pg.Client, provider: pg.Client, batch: CascadeBatch): Promise<boolean> {
    const { queue, worker } = this.opts;
    return inTransaction(local, async () => {
      // Re-read our position under the row lock: an admin command or a second worker may have
      // moved it since the state refresh.
      const r = await local.query(
        'select last_tick_id from pgq_node.local_state where queue_name = $1 and consumer_name = $2 for update',
        [queue, worker],
      );
      const completed = r.rows.length ? toBigInt(r.rows[0].last_tick_id) : null;
      if (completed === batch.tickId) return false;
      if (completed !== batch.prevTickId) {
        throw new CascadeError(
          'node_state',
          `${queue}: position moved to ${completed} while batch ${batch.prevTickId}..${batch.tickId} was read`,
        );
      }
      if (this.mainWorker && batch.nodeType === 'branch') {
        // A branch passes the whole batch on before anything else (leaves stream it: readChunk).
        await this.readAllEvents(batch);
        await this.copyEvents(local, batch.events);
        for (const ev of batch.events) {
          if (isCascadeEvent(ev)) await this.cascadeEvent(local, batch, ev);
        }
      }
      await this.processRemoteBatch(batch, local, provider);
      await this.readAllEvents(batch); // what the step did not read: cascade events, the count
      if (this.mainWorker && batch.combinedQueue) await this.copyToCombined(local, batch);
      await nodeCmd(local, 'select * from pgq_node.set_consumer_completed($1, $2, $3)', [
        queue,
        worker,
        batch.tickId,
      ]);
      return true;
    });
  }

  protected async cascadeEvent(local: pg.Client, batch: CascadeBatch, ev: PgqEvent): Promise<void> {
    const q = this.opts.queue;
    if (ev.type !== 'pgq.tick-id' && ev.extra1 !== q) {
      throw new CascadeError(
        'protocol',
        `${q}: cascade event ${ev.id} (${ev.type}) is for queue ${ev.extra1}`,
      );
    }
    switch (ev.type) {
      case 'pgq.location-info':
        await nodeCmd(local, 'select * from pgq_node.register_location($1, $2, $3, $4)', [
          q,
          ev.data,
          ev.extra2,
          ev.extra3 ?? 'false',
        ]);
        return;
      case 'pgq.unregister-location':
        await nodeCmd(local, 'select * from pgq_node.unregister_location($1, $2)', [q, ev.data], [301, 404]);
        return;
      case 'pgq.global-watermark':
        if (batch.nodeType === 'branch') {
          await nodeCmd(local, 'select * from pgq_node.set_global_watermark($1, $2)', [
            q,
            BigInt(ev.data ?? '0'),
          ]);
        }
        return;
      case 'pgq.tick-id':
        if (ev.extra1 === q)
          throw new CascadeError('protocol', `${q}: pgq.tick-id event for the node's own queue`);
        if (batch.nodeType === 'branch') {
          await nodeCmd(local, 'select * from pgq_node.set_partition_watermark($1, $2, $3)', [
            q,
            ev.extra1,
            BigInt(ev.data ?? '0'),
          ]);
        }
        return;
      default:
        throw new CascadeError('protocol', `${q}: unknown cascade event type ${ev.type} (event ${ev.id})`);
    }
  }

  /**
   * A merge-leaf's batch on into its combined queue, in the batch's transaction: the events
   * `combinedEvents` keeps (new ids: several partition queues merge there), then a `pgq.tick-id`
   * event naming this queue and tick (what a combined branch below sets its partition watermark by).
   */
  protected async copyToCombined(local: pg.Client, batch: CascadeBatch): Promise<void> {
    const q = batch.combinedQueue as string;
    const events = await this.combinedEvents(
      local,
      batch.events.filter((e) => !isCascadeEvent(e)),
      q,
    );
    await requeueEvents(local, q, events);
    await local.query("select pgq.insert_event($1, 'pgq.tick-id', $2, $3, null, null, null)", [
      q,
      String(batch.tickId),
      this.opts.queue,
    ]);
  }

  /**
   * Which of a merge-leaf batch's (non-cascade) events go on into the combined queue `queue`, as
   * what (in the batch's transaction on `local`): all, unchanged.
   */
  protected combinedEvents(
    _local: pg.Client,
    events: PgqEvent[],
    _queue: string,
  ): PgqEvent[] | Promise<PgqEvent[]> {
    return events;
  }

  /** Inserts the batch's events into the local queue with their original ids and times. */
  protected async copyEvents(local: pg.Client, events: PgqEvent[]): Promise<void> {
    if (events.length === 0) return;
    const q = this.opts.queue;
    const insert = async () => {
      const CHUNK = 5000;
      for (let i = 0; i < events.length; i += CHUNK)
        await requeueEvents(local, q, events.slice(i, i + CHUNK), { keepIds: true });
    };
    if (this.insertMode !== 'toggle') {
      await local.query('savepoint cascade_copy');
      try {
        const prev = (await local.query("select current_setting('session_replication_role') as p")).rows[0].p;
        await local.query("select set_config('session_replication_role', 'replica', true)");
        await insert();
        // Back to what the handler expects (Londiste may set its own role in this transaction).
        await local.query("select set_config('session_replication_role', $1, true)", [prev]);
        await local.query('release savepoint cascade_copy');
        this.insertMode = 'replica';
        return;
      } catch (err) {
        await local.query('rollback to savepoint cascade_copy');
        await local.query('release savepoint cascade_copy');
        if (this.insertMode === 'replica' || (err as { code?: string }).code !== '42501') throw err;
        this.log.info(
          'no permission for session_replication_role; lifting queue_disable_insert during copies',
        );
        this.insertMode = 'toggle';
      }
    }
    const lifted = await local.query(
      'update pgq.queue set queue_disable_insert = false where queue_name = $1 and queue_disable_insert',
      [q],
    );
    await insert();
    if (lifted.rowCount) {
      await local.query('update pgq.queue set queue_disable_insert = true where queue_name = $1', [q]);
    }
  }

  /** Branch: records the provider's tick locally unless it is there already. */
  protected async ensureBranchTick(local: pg.Client, batch: CascadeBatch): Promise<void> {
    const q = this.opts.queue;
    const last = await lastLocalTick(local, q);
    if (last === batch.tickId) return;
    if (last !== batch.prevTickId) {
      throw new CascadeError(
        'protocol',
        `${q}: last local tick is ${last}, expected ${batch.prevTickId} or ${batch.tickId}`,
      );
    }
    await local.query('select pgq.ticker($1, $2, $3, $4)', [
      q,
      batch.tickId,
      batch.tickTime,
      batch.tickEventSeq,
    ]);
    // The nodes below wake at once, as they do for a ticker's tick (they LISTEN on the channel).
    await local.query('select pg_notify($1, $2)', [tickChannel(q), String(batch.tickId)]);
  }

  protected async publishLocalWatermark(
    local: pg.Client,
    provider: pg.Client,
    nodeName: string,
    curTick: bigint,
  ) {
    const period = this.opts.localWmPublishPeriodMs ?? 300_000;
    if (Date.now() - this.lastLocalWmAt < period) return;
    const node: NodeInfo = await getNodeInfo(local, this.opts.queue);
    let wm = node.localWatermark;
    if (wm == null) return;
    if (wm > curTick) wm = curTick;
    const r = await nodeCmd(
      provider,
      'select * from pgq_node.set_subscriber_watermark($1, $2, $3)',
      [this.opts.queue, nodeName, wm],
      [404, 405],
    );
    if (r.ret_code >= 300) this.log.warn('local watermark not accepted by provider', { note: r.ret_note });
    else this.log.debug('local watermark published', { watermark: wm });
    this.lastLocalWmAt = Date.now();
  }

  protected async publishGlobalWatermark(local: pg.Client) {
    const period = this.opts.globalWmPublishPeriodMs ?? 300_000;
    if (Date.now() - this.lastGlobalWmAt < period) return;
    await nodeCmd(local, 'select * from pgq_node.set_global_watermark($1, null)', [this.opts.queue]);
    this.lastGlobalWmAt = Date.now();
  }

  /** Reads our state and acknowledges pause/resume/provider changes (uptodate) atomically. */
  protected async refreshState(local: pg.Client): Promise<ConsumerState> {
    const { queue, worker } = this.opts;
    return inTransaction(local, async () => {
      // Lock our row first so that an admin's set_consumer_paused cannot slip in between reading
      // the flags and confirming them.
      await local.query(
        'select 1 from pgq_node.local_state where queue_name = $1 and consumer_name = $2 for update',
        [queue, worker],
      );
      const state = await getConsumerState(local, queue, worker);
      if (!state.uptodate) {
        await local.query('select * from pgq_node.set_consumer_uptodate($1, $2, true)', [queue, worker]);
        this.log.info(state.paused ? 'paused' : 'state reloaded', { provider: state.providerNode });
      }
      return state;
    });
  }

  protected async clearError(local: pg.Client, state: ConsumerState) {
    if (state.curError) {
      await local.query('select * from pgq_node.set_consumer_error($1, $2, null)', [
        this.opts.queue,
        this.opts.worker,
      ]);
    }
  }

  protected async recordError(msg: string) {
    try {
      const local = await this.localClient();
      await local.query('select * from pgq_node.set_consumer_error($1, $2, $3)', [
        this.opts.queue,
        this.opts.worker,
        msg,
      ]);
    } catch {
      // the local node itself may be what failed
    }
  }

  protected async localClient(): Promise<pg.Client> {
    if (this.localConn) return this.localConn;
    const c = guardClient(await this.opts.connectLocal());
    // One worker per node and queue: a second one would race on the same batches.
    const got = await c.query('select pg_try_advisory_lock($1, hashtext($2)) as ok', [
      ADVISORY_CLASS,
      `${this.opts.queue}/${this.opts.worker}`,
    ]);
    if (!got.rows[0].ok) {
      await c.end().catch(() => {});
      throw new CascadeError(
        'node_state',
        `another worker for ${this.opts.queue}/${this.opts.worker} is running on this node`,
      );
    }
    // An admin command on this node (a table added, …) ends an idle wait at once.
    try {
      await listenOn(c, workerWakeChannel(this.opts.queue), () => this.waker.wake());
    } catch (err) {
      await c.end().catch(() => {});
      throw err;
    }
    this.localConn = c;
    return c;
  }

  protected async providerClient(location: string): Promise<pg.Client> {
    if (this.providerConn && this.providerLocation === location) return this.providerConn;
    if (this.providerConn) {
      this.log.info('provider changed; reconnecting', { location: redactLocation(location) });
      await this.providerConn.end().catch(() => {});
    }
    this.providerConn = null;
    const connect =
      this.opts.connectRemote ??
      ((loc: string) => connectLocation(loc, { applicationName: `skytools cascade ${this.opts.worker}` }));
    const conn = guardClient(await connect(location));
    try {
      // A new tick on the provider ends an idle wait at once (our ticker and branch workers
      // NOTIFY each tick); without notifications the loop delay still applies.
      await listenForTicks(conn, this.opts.queue, () => this.waker.wake());
    } catch (err) {
      await conn.end().catch(() => {});
      throw err;
    }
    this.providerConn = conn;
    this.providerLocation = location;
    this.lastLocalWmAt = 0;
    return this.providerConn;
  }

  protected async dropConnections() {
    const conns = [this.localConn, this.providerConn];
    this.localConn = null;
    this.providerConn = null;
    this.providerLocation = null;
    await Promise.all(conns.map((c) => c?.end().catch(() => {})));
  }
}

/** Runs a cascade worker until the signal aborts (the long-running form). */
export function runCascadeWorker(opts: CascadeWorkerOptions): Promise<CascadeWorkerStats> {
  return new CascadeWorker(opts).run();
}
