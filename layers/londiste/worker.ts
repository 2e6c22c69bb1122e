// Londiste's replay worker: a cascade worker (layers/cascade/worker.ts) whose per-batch step
// applies the batch's row changes to the replicated tables, in the batch's own local transaction
// (so a batch is applied exactly once), with session_replication_role = replica.
//
// Around each batch, outside that transaction, runs the table-state machine (table-state.ts):
// the main worker starts copy jobs for new tables (NULL → in-copy), relaunches copy jobs that died
// (the original leaves such a table in-copy until an operator runs resync), and hands a caught-up
// table over (wanna-sync:W → do-sync:M, then waits while the copy job replays up to M). The same
// class in copy mode (copyTable set) is the copy job: its own consumer `<worker>.copy.<table>`
// registered at the provider, the COPY itself, then replay of that one table until the handover.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type pg from 'pg';
import { connectLocation, getConsumerState, getNodeInfo, type NodeInfo, nodeCmd } from '../cascade/node.ts';
import {
  type CascadeBatch,
  CascadeWorker,
  type CascadeWorkerOptions,
  isCascadeEvent,
  type WorkResult,
} from '../cascade/worker.ts';
import { toBigInt } from '../db/connection.ts';
import { quoteLiteral } from '../db/ident.ts';
import type { PgqEvent } from '../pgq/consumer.ts';
import { tickChannel, workerWakeChannel } from '../pgq/tick-notify.ts';
import { failedApplyTable, SetApplier } from './apply/applier.ts';
import { performTableCopy, restoreStructure } from './copy-job.ts';
import { LondisteError } from './errors.ts';
import { isDataEvent, isTruncateEvent } from './events.ts';
import type { ApplyContext, TableHandler } from './handler.ts';
import { buildHandler } from './handlers/index.ts';
import type { CopyLauncher } from './launcher.ts';
import { ReplayTable } from './table-state.ts';
import {
  getTableList,
  globalAddTable,
  globalRemoveSeq,
  globalRemoveTable,
  globalUpdateSeq,
  setTableAttrs,
  setTableState,
  type TableState,
} from './tables.ts';

/** Events replayed between two turns of the event loop (see processRemoteBatch). */
const EVENTS_PER_TURN = 256;

export interface LondisteWorkerOptions extends CascadeWorkerOptions {
  /** Copy mode: the table this job copies; `worker` is then the main worker's name. */
  copyTable?: string;
  /** How many tables may be in copy at once (main worker). Default 2. */
  parallelCopies?: number;
  /** Starts copy jobs (main worker). Without one, new tables wait (and a warning is logged). */
  launcher?: CopyLauncher;
  /** A dead copy job is relaunched at most this often per table (default 5 s). */
  relaunchIntervalMs?: number;
  /**
   * A leaf catching up a backlog reads batches of about this many events, spanning several
   * ticks (default 100000; 0: one tick per batch, as the original). Each batch's start costs
   * the provider's sort of its events and a pause of the pipeline, so fewer is faster; memory
   * stays bounded by the chunks in flight, as a leaf keeps no events it has applied.
   */
  catchUpBatchEvents?: number;
  /** Copy mode: COPY streams for the table (copy_streams; default and limits: copy-job.ts). */
  copyStreams?: number;
  /** Copy mode: fewer streams when the table has fewer rows than this per stream. */
  copyMinRowsPerStream?: number;
  /**
   * `local_only`: read only the events of tables registered on this node (plus the set's own and
   * the cascade's events, and EXECUTE unless localOnlyDropExecute); the others are not applied
   * and, on a branch, not passed on — as the original's local_only filter.
   */
  localOnly?: boolean;
  localOnlyDropExecute?: boolean;
  /** `table_filter`: replay only these tables' events (the set's and cascade's events still pass). */
  tableFilter?: readonly string[];
  /** Root: how often sequences are checked and published (default: every step). */
  seqCheckPeriodMs?: number;
  /**
   * Called at each step of the copy protocol (tests kill the process there: `copy:loaded`,
   * `copy:committed`, `copy:wanna-sync`, `copy:before-ok`, `copy:ok`, `main:in-copy`,
   * `main:do-sync`).
   */
  faultPoint?: (point: string) => void | Promise<void>;
}

export interface LondisteStats {
  applied: number;
  ignored: number;
  copies: number;
  /** The provider's tick time of the last batch finished (lag = now − this), null before the first. */
  lastTickTime: Date | null;
}

/** The consumer name of a table's copy job, as the original names it. */
export function copyConsumerName(worker: string, table: string): string {
  return `${worker}.copy.${table}`;
}

export class LondisteWorker extends CascadeWorker {
  readonly lopts: LondisteWorkerOptions;
  readonly lstats: LondisteStats = { applied: 0, ignored: 0, copies: 0, lastTickTime: null };
  /** Copy mode: the table; null for the main worker. */
  protected readonly copyOf: string | null;
  /** The main worker's name (in copy mode, opts.worker is the copy consumer's). */
  protected readonly mainName: string;
  protected tables = new Map<string, ReplayTable>();
  private readonly stopped: AbortController;
  private readonly lastLaunch = new Map<string, number>();
  private lastSeqCheck = 0;
  private lastForcedTick = 0;
  private lastCleanup = 0;
  private handlers = new Map<string, TableHandler>();
  /** The set-based apply of every table (its table-shape cache lives across batches). */
  protected readonly applier = new SetApplier();
  private registered = false;
  /** Set when a table's own definition made the batch fail (see workOnce). */
  private failedTable: { table: string; message: string } | null = null;

  constructor(opts: LondisteWorkerOptions) {
    const stopped = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stopped.signal]) : stopped.signal;
    const copyOf = opts.copyTable ?? null;
    super({
      ...opts,
      signal,
      worker: copyOf ? copyConsumerName(opts.worker, copyOf) : opts.worker,
      mainWorker: !copyOf,
    });
    this.stopped = stopped;
    this.lopts = opts;
    this.copyOf = copyOf;
    this.mainName = opts.worker;
  }

  /** Copy mode: registers the copy consumer first, then the cascade loop. */
  override async run() {
    if (this.copyOf) {
      try {
        await this.registerCopyConsumer();
      } catch (err) {
        await this.close();
        throw err;
      }
    }
    return super.run();
  }

  /** The copy job is done (handed over, or its table is gone): leave the loop. */
  protected finish(why: string) {
    this.log.info(`copy job finished: ${why}`, { table: this.copyOf ?? undefined });
    this.stopped.abort();
  }

  /**
   * A table whose subscriber side cannot take its changes (a missing column, no key, a bad value)
   * must not stop the others: the batch is rolled back as a whole (nothing half-applied), the
   * table marked failed (skipped until `resync`), and the batch retried at once without it.
   */
  override async workOnce(): Promise<WorkResult> {
    try {
      return await super.workOnce();
    } catch (err) {
      const f = this.failedTable;
      this.failedTable = null;
      const t = f && this.tables.get(f.table);
      if (!f || !t || !this.localConn) throw err;
      this.log.error('table cannot be replayed on this node; skipping it until resync', {
        table: f.table,
        error: f.message,
      });
      await this.markFailed(this.localConn, t, f.message);
      return { kind: 'waiting' };
    }
  }

  /** Runs a handler step; an error the table's definition causes is remembered for workOnce. */
  private async forTable<T>(t: ReplayTable, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.noteTableError(t, err);
      throw err;
    }
  }

  /** Remembers for workOnce an error of handling `t`'s event that its table's definition causes. */
  private noteTableError(t: ReplayTable, err: unknown): void {
    if (!isTableDefinitionError(err)) return;
    // A flush left running (flushBehind) may fail while another table's event is handled:
    // the error names its own destination table.
    const dest = failedApplyTable(err);
    const culprit = dest === undefined ? t : (this.tableWritingTo(dest) ?? t);
    this.failedTable = { table: culprit.name, message: (err as Error).message };
  }

  /**
   * Catching up on a leaf (or in a copy job before its handover): one batch may span several
   * ticks, up to about catchUpBatchEvents events — fewer round trips per event, and a worker that
   * is slower per batch than the provider ticks (a provider that ticks on every commit) still
   * catches up. Only when the consumer is behind (pending_events at least 2 × the target, or its
   * lag over half a second), so a caught-up worker never waits for a batch to fill; never on a
   * branch (its ticks must be the provider's) and never in do-sync (the copy job must stop
   * exactly at the handover tick).
   */
  protected override async nextBatch(provider: pg.Client, node: NodeInfo) {
    const target = this.lopts.catchUpBatchEvents ?? 100_000;
    const copyState = this.copyOf ? this.tables.get(this.copyOf)?.stateName : undefined;
    // The main worker takes one tick at a time while a table is being handed over to it.
    const handover = [...this.tables.values()].some(
      (t) => t.stateName === 'wanna-sync' || t.stateName === 'do-sync',
    );
    const mayMerge =
      target > 0 && (this.copyOf ? copyState === 'catching-up' : node.nodeType === 'leaf' && !handover);
    if (mayMerge) {
      const info = await provider.query(
        `select pending_events, current_batch, extract(epoch from lag)::float8 as lag_s
           from pgq.get_consumer_info($1, $2)`,
        [this.opts.queue, this.opts.worker],
      );
      const row = info.rows[0];
      const pending = row?.pending_events == null ? 0 : Number(row.pending_events);
      const behind = pending >= 2 * target || (pending > 1 && Number(row?.lag_s ?? 0) > 0.5);
      if (row && row.current_batch == null && behind) {
        // pending_events counts by event sequence, as next_batch_custom does: asking for a bit
        // less than all of it ends the batch at (about) the provider's newest tick.
        const minCount = Math.max(1, Math.min(target, Math.floor(pending * 0.9)));
        const r = await provider.query(
          `select batch_id, cur_tick_id, prev_tick_id, cur_tick_time, prev_tick_time, cur_tick_event_seq
             from pgq.next_batch_custom($1, $2, null, $3, null)`,
          [this.opts.queue, this.opts.worker, minCount],
        );
        if (r.rows[0]?.batch_id != null) return r.rows[0];
      }
    }
    return super.nextBatch(provider, node);
  }

  // ---- the state machine, outside the batch transaction -------------------------------------

  protected override async beforeBatch(batch: CascadeBatch, local: pg.Client, provider: pg.Client) {
    await this.reloadTables(local);
    return this.copyOf ? this.copySync(local, provider, batch) : this.mainSync(local, provider, batch);
  }

  protected override async onIdle(local: pg.Client, provider: pg.Client): Promise<WorkResult | undefined> {
    await this.reloadTables(local);
    if (this.copyOf) {
      const go = await this.copySync(local, provider, null);
      return go ? undefined : { kind: 'waiting' };
    }
    await this.mainSync(local, provider, null);
    // While a copy needs the main worker at a newer tick, make the provider tick now.
    const handover = [...this.tables.values()].some((t) => t.stateName === 'wanna-sync');
    if (handover) {
      await this.forceTick(provider);
      return { kind: 'waiting' };
    }
    return undefined;
  }

  protected override async onRoot(local: pg.Client): Promise<WorkResult | undefined> {
    if (this.copyOf)
      throw new LondisteError('state', `${this.opts.queue}: a copy job cannot run on the root`);
    const period = this.lopts.seqCheckPeriodMs ?? 0;
    if (Date.now() - this.lastSeqCheck >= period) {
      await nodeCmd(local, 'select * from londiste.root_check_seqs($1)', [this.opts.queue]);
      this.lastSeqCheck = Date.now();
    }
    return undefined;
  }

  /** Main worker: handovers, new copies, dead copies, fkeys. False: hold the batch back. */
  protected async mainSync(
    local: pg.Client,
    provider: pg.Client,
    batch: CascadeBatch | null,
  ): Promise<boolean> {
    const tables = [...this.tables.values()];
    let hold = false;
    for (const t of tables) {
      if (t.failed) continue;
      if (t.stateName === 'do-sync') {
        hold = true; // the copy job replays up to this batch; then the table is ours
      } else if (t.stateName === 'wanna-sync' && batch && batch.tickId >= t.syncTick) {
        // The handover point is this batch's start: from there on the table is ours, before it
        // the copy job's. That needs a one-tick batch (the original's copy job stops at the tick
        // before M) that does not start behind the copy job (else both would apply its events).
        const copyAt = await this.completedTick(local, copyConsumerName(this.mainName, t.name));
        if (copyAt != null && batch.prevTickId >= copyAt && (await this.singleTick(provider, batch))) {
          await this.changeState(local, t, { name: 'do-sync', tick: batch.tickId });
          await this.fault('main:do-sync');
          hold = true;
        }
      }
    }
    await this.superviseCopies(local, provider, tables);
    await this.dropStaleCopyConsumers(local, provider);
    if (hold) return false;
    if (batch) await this.restoreFkeys(local);
    return true;
  }

  /** Starts copies of new tables (up to parallel_copies) and relaunches copy jobs that died. */
  protected async superviseCopies(local: pg.Client, provider: pg.Client, tables: ReplayTable[]) {
    const launcher = this.lopts.launcher;
    const limit = this.lopts.parallelCopies ?? 4;
    const live = tables.filter((t) => t.copying && !t.failed);
    for (const t of live) {
      if (!launcher) continue;
      if (await this.copyJobAlive(local, t.name)) continue;
      const last = this.lastLaunch.get(t.name) ?? 0;
      if (Date.now() - last < (this.lopts.relaunchIntervalMs ?? 5000)) continue;
      this.log.warn('copy job is not running; relaunching it', { table: t.name, state: t.mergeState });
      await this.launch(t.name);
    }
    const missing = tables.filter((t) => t.stateName === 'missing' && !t.failed);
    let room = limit - live.length;
    if (!missing.length || room <= 0) return;
    if (!launcher) {
      this.log.warn('tables wait for a copy, but this worker has no copy launcher', {
        tables: missing.map((t) => t.name),
      });
      return;
    }
    const onProvider = new Map((await getTableList(provider, this.opts.queue)).map((r) => [r.tableName, r]));
    for (const t of missing) {
      if (room <= 0) break;
      if (t.attrs.copy_node == null) {
        const pt = onProvider.get(t.name);
        if (!pt?.local) {
          this.log.warn('table not available on provider', { table: t.name });
          continue;
        }
        if (pt.mergeState !== 'ok') {
          this.log.info('table not ok on provider yet; waiting', { table: t.name, state: pt.mergeState });
          continue;
        }
      }
      room--;
      await this.dropFkeys(local, t.destTable);
      await this.changeState(local, t, { name: 'in-copy' }, null);
      await this.fault('main:in-copy');
      await this.launch(t.name);
    }
  }

  /**
   * A copy job killed between setting ok and unregistering leaves its consumer behind — at the
   * provider that would hold back the queue's rotation for good. Registrations of copy jobs whose
   * table is no longer in copy and whose job is not running are removed (checked every few seconds).
   */
  protected async dropStaleCopyConsumers(local: pg.Client, provider: pg.Client) {
    if (Date.now() - this.lastCleanup < 5000) return;
    this.lastCleanup = Date.now();
    const prefix = copyConsumerName(this.mainName, '');
    const r = await local.query(
      'select consumer_name from pgq_node.local_state where queue_name = $1 and starts_with(consumer_name, $2)',
      [this.opts.queue, prefix],
    );
    for (const row of r.rows) {
      const name = row.consumer_name as string;
      const table = name.slice(prefix.length);
      if (this.tables.get(table)?.copying || (await this.copyJobAlive(local, table))) continue;
      this.log.info('removing the registration of a finished copy job', { consumer: name });
      await provider.query('select pgq.unregister_consumer($1, $2)', [this.opts.queue, name]).catch((err) => {
        this.log.warn('could not unregister at the provider', {
          consumer: name,
          error: (err as Error).message,
        });
      });
      await local.query('select * from pgq_node.unregister_consumer($1, $2)', [this.opts.queue, name]);
    }
  }

  private async launch(table: string) {
    this.lastLaunch.set(table, Date.now());
    this.lstats.copies++;
    await this.lopts.launcher?.launch(table);
  }

  /** A copy job holds its cascade worker lock on this node while it runs. */
  protected async copyJobAlive(local: pg.Client, table: string): Promise<boolean> {
    if (await this.lopts.launcher?.isRunning?.(table)) return true;
    const r = await local.query(
      `select exists (
         select 1 from pg_catalog.pg_locks
          where locktype = 'advisory' and granted and objsubid = 2
            and classid = $1::bigint::oid
            and objid = ((hashtext($2)::bigint + 4294967296) % 4294967296)::oid) as alive`,
      [CascadeWorker.advisoryClass, `${this.opts.queue}/${copyConsumerName(this.mainName, table)}`],
    );
    return r.rows[0].alive === true;
  }

  /** Copy job: what to do with this batch (null: nothing to read). False: hold it back. */
  protected async copySync(
    local: pg.Client,
    provider: pg.Client,
    batch: CascadeBatch | null,
  ): Promise<boolean> {
    const name = this.copyOf as string;
    const t = this.tables.get(name);
    if (!t || t.stateName === 'missing' || t.stateName === 'ok') {
      await this.unregisterCopyConsumer(local, provider);
      this.finish(
        t ? `table ${name} is ${t.mergeState ?? 'waiting for a new copy'}` : `table ${name} was removed`,
      );
      return false;
    }
    if (t.failed) {
      this.finish(`table ${name} failed here: ${t.failed}`);
      return false;
    }
    switch (t.stateName) {
      case 'in-copy':
        // A merged table's part waits until the lead has emptied the table (copy-job.ts copyPart).
        if (t.copyRole === 'wait-copy') return false;
        await this.copyNow(local, provider, t);
        return false;
      case 'catching-up': {
        // A merged table's parts replay once every part is copied and the lead has put the
        // structure back (the original's copy process loops there too).
        if (t.copyRole === 'lead' || t.copyRole === 'wait-replay') return false;
        if (t.droppedDdl != null) {
          await restoreStructure(
            {
              queue: this.opts.queue,
              table: t,
              local,
              log: this.log,
              connectLocal: () => this.opts.connectLocal(),
            },
            t.droppedDdl,
          );
          return false;
        }
        if (!batch) {
          // Caught up, but the handover needs a tick to name: make the provider tick.
          await this.forceTick(provider);
          return false;
        }
        if (!(await this.nearlyCaughtUp(provider, batch))) return true;
        await this.changeState(local, t, { name: 'wanna-sync', tick: batch.tickId });
        await this.fault('copy:wanna-sync');
        return false;
      }
      case 'wanna-sync':
        return false; // the main worker moves next
      case 'do-sync': {
        // The main worker holds its batch (mainAt, M]: the copy job replays exactly up to mainAt
        // (one tick at a time: no merged batches in do-sync), then the table is the main worker's.
        if (!batch) return false;
        const mainAt = await this.completedTick(local, this.mainName);
        if (mainAt == null) return false;
        if (batch.prevTickId === mainAt) {
          await this.fault('copy:before-ok');
          await this.changeState(local, t, { name: 'ok' });
          await this.fault('copy:ok');
          await this.unregisterCopyConsumer(local, provider);
          this.finish(`table ${name} handed over at tick ${mainAt}`);
          return false;
        }
        if (batch.prevTickId < mainAt) {
          if (batch.tickId <= mainAt) return true;
          // A batch opened before the handover (several ticks while catching up) that reaches
          // past the main worker: drop it and read again from our position, one tick at a time.
          await provider.query('select pgq.register_consumer_at($1, $2, $3)', [
            this.opts.queue,
            this.opts.worker,
            batch.prevTickId,
          ]);
          return false;
        }
        throw new LondisteError(
          'state',
          `${name}: copy job is at tick ${batch.prevTickId}, past the main worker's ${mainAt} at the handover`,
        );
      }
      default:
        return false;
    }
  }

  private async copyNow(local: pg.Client, provider: pg.Client, t: ReplayTable) {
    const onProvider = (await getTableList(provider, this.opts.queue)).find((r) => r.tableName === t.name);
    if (!onProvider?.local) throw new LondisteError('not_found', `table ${t.name} not available on provider`);
    if (onProvider.mergeState !== 'ok') {
      this.log.info('table not in sync on provider yet; waiting', { table: t.name });
      return;
    }
    const res = await performTableCopy({
      queue: this.opts.queue,
      table: t,
      sourceTable: onProvider.destTable || onProvider.tableName,
      provider,
      local,
      handler: this.handlerFor(t),
      log: this.log,
      dropFkeys: (client, table) => this.dropFkeys(client, table),
      fault: (point) => this.fault(point),
      signal: this.opts.signal,
      role: t.copyRole === 'lead' ? 'lead' : t.copyRole === 'wait-replay' ? 'join' : null,
      streams: this.lopts.copyStreams,
      minRowsPerStream: this.lopts.copyMinRowsPerStream,
      connectLocal: () => this.opts.connectLocal(),
      connectProvider: this.providerLocation ? this.connectProviderAgain(this.providerLocation) : undefined,
    });
    this.log.info('copy done; catching up', { table: t.name, rows: res.rows, snapshot: res.snapshot });
    t.state = { name: 'catching-up' };
    await this.fault('copy:committed');
    await this.forceTick(provider);
  }

  /** More connections to the provider, as the worker's own is opened (a parallel copy's streams). */
  private connectProviderAgain(location: string): () => Promise<pg.Client> {
    const connect =
      this.opts.connectRemote ??
      ((loc: string) =>
        connectLocation(loc, { applicationName: `skytools ${this.opts.worker}`.slice(0, 63) }));
    return () => connect(location);
  }

  /**
   * A merge-leaf passes its partition's events on into the combined queue, but not the partition
   * set's own `londiste.*` events (its add-table, sequences): the combined set has its own. A
   * table's handler rewrites or drops its events on the way, as on a branch (copyEvent).
   */
  protected override combinedEvents(
    local: pg.Client,
    events: PgqEvent[],
    queue: string,
  ): Promise<PgqEvent[]> {
    return this.handlerCopies(
      local,
      events.filter((ev) => !(ev.type ?? '').startsWith('londiste.')),
      queue,
    );
  }

  // ---- replay, inside the batch transaction -------------------------------------------------

  /** A leaf applies each chunk and keeps nothing of it (a merge-leaf passes its events on). */
  protected override streamsEvents(batch: CascadeBatch): boolean {
    return batch.nodeType === 'leaf' && !batch.combinedQueue;
  }

  protected override async processRemoteBatch(batch: CascadeBatch, local: pg.ClientBase): Promise<void> {
    await local.query("select londiste.set_session_replication_role('replica', true)");
    const ctx: ApplyContext = {
      local,
      applier: this.applier,
      batch: {
        queue: batch.queue,
        batchId: batch.batchId,
        tickId: batch.tickId,
        prevTickId: batch.prevTickId,
        tickTime: batch.tickTime,
        prevTickTime: batch.prevTickTime,
      },
      log: this.log,
    };
    const used = new Map<TableHandler, ReplayTable>();
    const settleFor = async (h: TableHandler) => {
      if (!h.writesOnlyThroughApplier) await this.applier.settle();
    };
    const use = async (t: ReplayTable) => {
      const h = this.handlerFor(t);
      // A handler with statements of its own must not run them inside another table's chunk
      // that is still being written (flushBehind): wait for that chunk first.
      await settleFor(h);
      if (!used.has(h)) {
        used.set(h, t);
        await this.forTable(t, () => h.prepareBatch(ctx));
      }
      return h;
    };
    const flushAll = async () => {
      for (const [h, t] of used)
        await this.forTable(t, async () => {
          await settleFor(h);
          await h.flush(ctx);
        });
    };
    // The table of the event before and its handler, when that one needs nothing per event from
    // `use` (prepared, writes only through the applier): a run of one table's events goes
    // straight to processEvent.
    let runTable: ReplayTable | undefined;
    let runHandler: TableHandler | undefined;
    let sinceTurn = 0;
    try {
      for await (const chunk of this.eventChunks(batch))
        for (const ev of chunk) {
          // Decoding a chunk is one long run of promise jobs: the replies to the chunk being
          // written behind (flushBehind) would wait for its end and the server sit idle. Let them in.
          if (++sinceTurn === EVENTS_PER_TURN) {
            sinceTurn = 0;
            await nextTurn();
          }
          if (isCascadeEvent(ev)) continue;
          const data = isDataEvent(ev);
          if (data || isTruncateEvent(ev)) {
            const t = ev.extra1 == null ? undefined : this.tables.get(ev.extra1);
            if (!t || t.failed || !t.wants(ev, this.copyOf)) {
              this.lstats.ignored++;
              continue;
            }
            let h = t === runTable ? runHandler : undefined;
            if (!h) {
              h = await use(t);
              runTable = h.writesOnlyThroughApplier ? t : undefined;
              runHandler = h;
            }
            try {
              const pending = data ? h.processEvent(ev, ctx) : h.truncate(ev, ctx);
              if (pending) await pending;
            } catch (err) {
              this.noteTableError(t, err);
              throw err;
            }
            this.lstats.applied++;
            continue;
          }
          runTable = undefined;
          if (this.copyOf) continue; // everything else is the main worker's
          await flushAll();
          await this.setEvent(local, ev);
        }
      await flushAll();
      for (const [h, t] of used)
        await this.forTable(t, async () => {
          await settleFor(h);
          await h.finishBatch(ctx);
        });
      // A crash test's point: table events applied, the batch's transaction not committed yet.
      if (used.size) await this.fault('replay:applied');
    } catch (err) {
      // The batch's transaction is rolled back: nothing buffered may leak into its retry.
      for (const h of used.keys()) h.reset();
      this.applier.reset();
      throw err;
    }
  }

  /**
   * On a branch, a table's handler may rewrite or drop the table's events on their way into this
   * node's queue (copyEvent: a shard passes on only its rows, obfuscate only obfuscated ones);
   * on a merge-leaf, into the combined queue (combinedEvents).
   */
  protected override async copyEvents(local: pg.Client, events: PgqEvent[]): Promise<void> {
    return super.copyEvents(local, await this.handlerCopies(local, events, this.opts.queue));
  }

  /** The events as their tables' handlers pass them into `queue` (copyEvent; null: dropped). */
  private async handlerCopies(local: pg.Client, events: PgqEvent[], queue: string): Promise<PgqEvent[]> {
    const out: PgqEvent[] = [];
    const prepared = new Set<TableHandler>();
    for (const ev of events) {
      const t = ev.extra1 != null && isDataEvent(ev) ? this.tables.get(ev.extra1) : undefined;
      const h = t ? this.handlerFor(t) : undefined;
      if (!h?.copyEvent) {
        out.push(ev);
        continue;
      }
      if (h.prepareCopyEvents && !prepared.has(h)) {
        prepared.add(h);
        await h.prepareCopyEvents(local);
      }
      const copy = h.copyEvent(ev, queue);
      if (copy) out.push(copy);
    }
    return out;
  }

  /** The set's own events (londiste.*) and EXECUTE, in event order after the flush. */
  private async setEvent(local: pg.ClientBase, ev: PgqEvent) {
    const q = this.opts.queue;
    switch (ev.type) {
      case 'EXECUTE':
        return this.executeEvent(local, ev);
      case 'londiste.add-table':
        await globalAddTable(local, q, ev.data ?? '');
        return;
      case 'londiste.remove-table':
        await globalRemoveTable(local, q, ev.data ?? '');
        if (ev.data) this.tables.delete(ev.data);
        return;
      case 'londiste.remove-seq':
        await globalRemoveSeq(local, q, ev.data ?? '');
        return;
      case 'londiste.update-seq':
        await globalUpdateSeq(local, q, ev.extra1 ?? '', ev.data == null ? null : BigInt(ev.data));
        return;
      default:
        throw new LondisteError('bad_event', `event ${ev.id}: unknown event type ${JSON.stringify(ev.type)}`);
    }
  }

  protected override async afterBatch(batch: CascadeBatch, _local: pg.Client, provider: pg.Client) {
    this.lstats.lastTickTime = batch.tickTime;
    await this.dropCopySnapshots(batch, provider);
  }

  /** This node's tables by state (ok, in-copy, …, 'failed' for tables skipped until resync), as last read. */
  tableCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tables.values()) {
      const k = t.failed ? 'failed' : (t.stateName ?? 'missing');
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  /**
   * An ok table keeps its copy snapshot (and replay keeps skipping what it contained) until the
   * batches can no longer hold such events: once a finished batch started at a tick taken after
   * every transaction the snapshot saw had ended.
   */
  private async dropCopySnapshots(batch: CascadeBatch, provider: pg.Client) {
    const candidates = [...this.tables.values()].filter(
      (t) => t.snapshot && !this.copyOf && t.stateName === 'ok',
    );
    if (!candidates.length) return;
    const r = await provider.query(
      `select txid_snapshot_xmin(t.tick_snapshot) as xmin
         from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
        where q.queue_name = $1 and t.tick_id = $2`,
      [this.opts.queue, batch.prevTickId],
    );
    if (!r.rows.length) return;
    const xmin = toBigInt(r.rows[0].xmin);
    for (const t of candidates) {
      if (t.snapshot && xmin >= t.snapshot.xmax) {
        await this.changeState(this.localConn as pg.Client, t, t.state, null);
      }
    }
  }

  /** EXECUTE: DDL from the root, run once per node (londiste.execute_start / execute_finish). */
  protected async executeEvent(local: pg.ClientBase, ev: PgqEvent) {
    const fname = ev.extra1;
    await local.query("select londiste.set_session_replication_role('local', true)");
    const res = await nodeCmd(local, 'select * from londiste.execute_start($1, $2, $3, false, $4)', [
      this.opts.queue,
      fname,
      ev.data,
      ev.extra2,
    ]);
    if (res.ret_code > 200) {
      this.log.warn('skipping execution', { file: fname, note: res.ret_note });
    } else {
      this.log.info('executing', { file: fname });
      if (ev.data) await local.query(ev.data);
      await nodeCmd(local, 'select * from londiste.execute_finish($1, $2)', [this.opts.queue, fname]);
    }
    await local.query("select londiste.set_session_replication_role('replica', true)");
    this.applier.invalidate(); // the DDL may have changed any table's shape
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** A worker's completed tick on this node (pgq_node.local_state), null when not registered. */
  protected async completedTick(local: pg.ClientBase, consumer: string): Promise<bigint | null> {
    const r = await local.query(
      'select last_tick_id from pgq_node.local_state where queue_name = $1 and consumer_name = $2',
      [this.opts.queue, consumer],
    );
    return r.rows[0]?.last_tick_id == null ? null : toBigInt(r.rows[0].last_tick_id);
  }

  /** Does the batch span exactly one tick of the provider? */
  protected async singleTick(provider: pg.Client, batch: CascadeBatch): Promise<boolean> {
    const r = await provider.query(
      `select not exists (
         select 1 from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
          where q.queue_name = $1 and t.tick_id > $2 and t.tick_id < $3) as one`,
      [this.opts.queue, batch.prevTickId, batch.tickId],
    );
    return r.rows[0].one === true;
  }

  protected async fault(point: string) {
    await this.lopts.faultPoint?.(point);
  }

  protected override eventFilter(): string | null {
    const conds: string[] = [];
    const setEvents = ["ev_type like 'pgq.%'", "ev_type like 'londiste.%'"];
    const tablesIn = (names: Iterable<string>) => {
      const list = [...names].map(quoteLiteral);
      return list.length > 0 ? [`ev_extra1 in (${list.join(', ')})`] : [];
    };
    if (this.lopts.localOnly) {
      // A copy job's events are its one table's; the main worker's, every local table's.
      const local = this.copyOf ? [this.copyOf] : this.tables.keys();
      const exec = this.lopts.localOnlyDropExecute ? [] : ["ev_type = 'EXECUTE'"];
      conds.push(`(${[...setEvents, ...exec, ...tablesIn(local)].join(' or ')})`);
    }
    if (this.lopts.tableFilter && this.lopts.tableFilter.length > 0) {
      const names = this.lopts.tableFilter.map((t) => (t.includes('.') ? t : `public.${t}`));
      conds.push(`(${[...setEvents, "ev_type = 'EXECUTE'", ...tablesIn(names)].join(' or ')})`);
    }
    return conds.length > 0 ? conds.join(' and ') : null;
  }

  /** The replicated table whose handler writes into `destTable`. */
  private tableWritingTo(destTable: string): ReplayTable | undefined {
    for (const [name, h] of this.handlers) if (h.destTable === destTable) return this.tables.get(name);
    return undefined;
  }

  protected handlerFor(t: ReplayTable): TableHandler {
    let h = this.handlers.get(t.name);
    if (!h) {
      h = buildHandler(t.name, t.attrs.handler, t.destTable);
      this.handlers.set(t.name, h);
    }
    return h;
  }

  protected async reloadTables(local: pg.ClientBase) {
    const rows = await getTableList(local, this.opts.queue);
    const next = new Map<string, ReplayTable>();
    for (const row of rows) {
      if (!row.local) continue;
      const t = new ReplayTable(row);
      const old = this.tables.get(t.name);
      // A changed handler or destination means a new handler instance.
      if (old && (old.attrs.handler !== t.attrs.handler || old.destTable !== t.destTable))
        this.handlers.delete(t.name);
      next.set(t.name, t);
    }
    for (const name of this.handlers.keys()) if (!next.has(name)) this.handlers.delete(name);
    this.tables = next;
  }

  protected async changeState(
    local: pg.ClientBase,
    t: ReplayTable,
    state: TableState,
    snapshot: string | null | undefined = undefined,
  ) {
    const snap = snapshot === undefined ? (t.snapshot?.text ?? null) : snapshot;
    await setTableState(local, this.opts.queue, t.name, snap, state);
    // The other side of a handover (the main worker, or the table's copy job) may be asleep
    // waiting for this: wake it (a second of every add-table went to wanna-sync → do-sync).
    await local.query('select pg_notify($1, $2)', [workerWakeChannel(this.opts.queue), t.name]);
    t.state = state;
    if (snapshot !== undefined) t.snapshot = null;
    this.log.info('table state', { table: t.name, state: t.mergeState, copy: this.copyOf != null });
  }

  /** Marks a table as failing here: replay skips it until `resync` (which clears the mark). */
  protected async markFailed(local: pg.ClientBase, t: ReplayTable, message: string) {
    await setTableAttrs(local, this.opts.queue, t.name, { ...t.attrs, error: message });
    t.attrs = { ...t.attrs, error: message };
  }

  /** Makes the provider tick soon (now, if it is the root: its ticker serialises with ours). */
  protected async forceTick(provider: pg.Client) {
    if (Date.now() - this.lastForcedTick < 200) return;
    this.lastForcedTick = Date.now();
    await provider.query('select pgq.force_tick($1)', [this.opts.queue]);
    const info = await getNodeInfo(provider, this.opts.queue);
    if (info.nodeType !== 'root') return;
    // A tick made here is announced here, as our ticker announces its own (tick-notify.ts): the
    // main worker and copy jobs that wait for it wake at once instead of after their loop delay
    // (a second of every add-table's handover went there).
    const r = await provider.query<{ t: string | null }>('select pgq.ticker($1)::text as t', [
      this.opts.queue,
    ]);
    const tick = r.rows[0]?.t;
    if (tick != null) await provider.query('select pg_notify($1, $2)', [tickChannel(this.opts.queue), tick]);
  }

  /**
   * Has the copy job caught up enough to ask for the handover? Under steady writes new ticks keep
   * coming, so "this is the provider's last tick" may never hold: close enough is a batch ending
   * within two ticks or half a second of the provider's last one (the main worker then waits only
   * that long while the copy job replays the rest).
   */
  private async nearlyCaughtUp(provider: pg.Client, batch: CascadeBatch): Promise<boolean> {
    const r = await provider.query(
      `select t.tick_id, t.tick_time from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
        where q.queue_name = $1 order by t.tick_queue desc, t.tick_id desc limit 1`,
      [this.opts.queue],
    );
    if (!r.rows.length) return true;
    const last = toBigInt(r.rows[0].tick_id);
    const behindMs = (r.rows[0].tick_time as Date).getTime() - batch.tickTime.getTime();
    return last - batch.tickId <= 2n || behindMs <= 500;
  }

  /** Drops the foreign keys to and from a table (kept in londiste.pending_fkeys), one per transaction. */
  protected async dropFkeys(local: pg.ClientBase, table: string) {
    const r = await local.query('select * from londiste.find_table_fkeys($1)', [table]);
    for (const row of r.rows) {
      this.log.info('dropping fkey', { fkey: row.fkey_name, from: row.from_table, to: row.to_table });
      await local.query('select londiste.drop_table_fkey($1, $2)', [row.from_table, row.fkey_name]);
    }
  }

  /** Restores dropped foreign keys whose both tables are in sync again (NOT VALID, then validated). */
  protected async restoreFkeys(local: pg.Client) {
    // Cheap check first: this runs before every batch and there is usually nothing pending.
    const any = await local.query('select exists (select 1 from londiste.pending_fkeys) as any');
    if (!any.rows[0].any) return;
    const r = await local.query('select * from londiste.get_valid_pending_fkeys($1)', [this.opts.queue]);
    for (const row of r.rows) {
      this.log.info('restoring fkey', { fkey: row.fkey_name, from: row.from_table, to: row.to_table });
      for (;;) {
        const step = await local.query('select londiste.restore_table_fkey($1, $2, true) as sql', [
          row.from_table,
          row.fkey_name,
        ]);
        const sql = step.rows[0]?.sql as string | null;
        if (!sql) break;
        await local.query(sql);
      }
    }
  }

  /** Copy job: its own consumer at the provider (and on this node), once. */
  protected async registerCopyConsumer() {
    if (this.registered) return;
    const local = await this.localClient();
    const q = this.opts.queue;
    const main = await getConsumerState(local, q, this.mainName);
    const mine = await local.query(
      'select 1 from pgq_node.local_state where queue_name = $1 and consumer_name = $2',
      [q, this.opts.worker],
    );
    if (!mine.rows.length) {
      if (!main.providerLocation)
        throw new LondisteError('state', `${q}: the main worker's provider has no location`);
      const provider = await this.providerClient(main.providerLocation);
      await provider.query('select pgq.register_consumer($1, $2)', [q, this.opts.worker]);
      const info = await provider.query('select last_tick from pgq.get_consumer_info($1, $2)', [
        q,
        this.opts.worker,
      ]);
      const tick = info.rows[0]?.last_tick;
      if (tick == null)
        throw new LondisteError('state', `${q}: registering ${this.opts.worker} at the provider failed`);
      await nodeCmd(local, 'select * from pgq_node.register_consumer($1, $2, $3, $4)', [
        q,
        this.opts.worker,
        main.providerNode,
        tick,
      ]);
      this.log.info('copy consumer registered', { provider: main.providerNode, tick: String(tick) });
    }
    this.registered = true;
  }

  protected async unregisterCopyConsumer(local: pg.Client, provider: pg.Client) {
    const q = this.opts.queue;
    await provider.query('select pgq.unregister_consumer($1, $2)', [q, this.opts.worker]).catch((err) => {
      this.log.warn('could not unregister the copy consumer at the provider', {
        error: (err as Error).message,
      });
    });
    await local.query('select * from pgq_node.unregister_consumer($1, $2)', [q, this.opts.worker]);
  }
}

/**
 * Errors a table's own definition or data causes on this node (a missing column or key, a bad
 * value, a violated constraint) — as opposed to lost connections, lock waits or deadlocks, which
 * fail the batch and are retried.
 */
export function isTableDefinitionError(err: unknown): boolean {
  if (err instanceof LondisteError) return err.kind === 'apply_failed' || err.kind === 'bad_event';
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|23|42|0A)/.test(code);
}

export function runLondisteWorker(opts: LondisteWorkerOptions) {
  return new LondisteWorker(opts).run();
}
