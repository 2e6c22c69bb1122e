// The ticker and maintenance loop for one database — what pgqd does per database — as a library
// function run by the CLI (`skytools pgqd`), the ticker Lambda and the local stack:
//   a ticker pass every tickPeriodMs (and report each new tick: consumer wake-ups); on our SQL
//   also a cheap look every pollPeriodMs for committed events (tick-poll.ts), so a queue that does
//   not batch is ticked milliseconds after its events commit,
//   pgq.maint_retry_events() every retryPeriodMs until it returns 0,
//   pgq.maint_operations() every maintPeriodMs, each step in its own transaction, VACUUM outside one.
// Beyond pgqd: sub-second ticks, a single-runner guard (session advisory lock, so the connection
// must be direct, not through a transaction-pooling proxy), a deadline, and counters.
import type pg from 'pg';
import { guardClient, isConnectionFailure, toBigInt } from '../db/connection.ts';
import { quoteIdent } from '../db/ident.ts';
import { Backoff } from '../util/backoff.ts';
import { defaultLogger, type Logger, silentLogger } from '../util/log.ts';
import { sleep } from '../util/sleep.ts';
import { PgqError } from './errors.ts';
import { tickChannelSql } from './tick-notify.ts';
import { TickPoller } from './tick-poll.ts';

export interface TickEvent {
  database: string;
  queue: string;
  tickId: bigint;
}

export interface TickerOptions {
  /** Opens a dedicated connection; the loop keeps it (the advisory lock lives in its session). */
  connect: () => Promise<pg.Client>;
  /** The database's name, for logs and stats before the first connection succeeds. */
  database?: string;
  /** The full pass (PgQ's rules: ticker_max_lag, ticker_max_count, idle ticks): default 1 s. */
  tickPeriodMs?: number;
  /**
   * How often to look for committed events on queues that do not batch (our SQL's
   * pgq.ticker_poll; on the C extension there is none and only the full pass runs). Default 5 ms;
   * 0 turns it off.
   */
  pollPeriodMs?: number;
  retryPeriodMs?: number;
  maintPeriodMs?: number;
  /** Stop cleanly once this much time has passed (e.g. before a Lambda times out). */
  runForMs?: number;
  signal?: AbortSignal;
  /** Another ticker holds the database: wait for it to go away, or return at once. */
  onBusy?: 'wait' | 'exit';
  onTick?: (ev: TickEvent) => void | Promise<void>;
  log?: Logger;
  /** Counters to update while running (for live views); a fresh object by default. */
  stats?: TickerStats;
  /** Upper bound of the reconnect back-off (default 30 s); it starts again after a good round. */
  maxBackoffMs?: number;
}

export interface TickerStats {
  database: string;
  /** False when another ticker held the guard for the whole run (onBusy = 'exit' or deadline). */
  ran: boolean;
  tickerCalls: number;
  /** Passes over a few recently active queues only (pollPeriodMs). */
  polls: number;
  ticks: number;
  /** How long the last pass over every queue took, ms. */
  passMs: number;
  retried: number;
  maintSteps: number;
  errors: number;
  startedAt: Date;
  stoppedAt?: Date;
}

/** Fresh counters (for a live view that reads them while the ticker runs). */
export function newTickerStats(database = '?'): TickerStats {
  return {
    database,
    ran: false,
    tickerCalls: 0,
    polls: 0,
    ticks: 0,
    passMs: 0,
    retried: 0,
    maintSteps: 0,
    errors: 0,
    startedAt: new Date(),
  };
}

export const TICKER_LOCK = [0x736b7974, 0x7469636b] as const; // 'skyt', 'tick'
const MIN_TICK_MS = 1;
export const DEFAULT_POLL_MS = 5;

// The C extension (or SQL older than pgq.ticker_poll): pgq.ticker per queue, and NOTIFY each new
// tick in the same statement, so consumer processes LISTENing wake there too.
const TICK_SQL = `with t as materialized (
                    select queue_name, pgq.ticker(queue_name) as tick_id
                      from pgq.queue
                     where not queue_external_ticker and not queue_ticker_paused
                     order by queue_name)
                  select queue_name, tick_id,
                         case when tick_id is not null then pg_notify(${tickChannelSql('queue_name')}, tick_id::text) end
                    from t`;

export async function runTicker(opts: TickerOptions): Promise<TickerStats> {
  const tickMs = Math.max(MIN_TICK_MS, opts.tickPeriodMs ?? 1000);
  const pollMs = opts.pollPeriodMs === 0 ? 0 : Math.max(MIN_TICK_MS, opts.pollPeriodMs ?? DEFAULT_POLL_MS);
  const retryMs = opts.retryPeriodMs ?? 30_000;
  const maintMs = opts.maintPeriodMs ?? 120_000;
  const log = opts.log ?? defaultLogger();
  const deadline = opts.runForMs != null ? Date.now() + opts.runForMs : Number.POSITIVE_INFINITY;
  // Stop early enough that one more round as slow as the slowest seen, plus closing the
  // connection, still ends before the deadline.
  const slowest = { ms: Math.min(tickMs, 50) };
  const stop = () => opts.signal?.aborted || Date.now() + slowest.ms * 2 + 50 >= deadline;
  const stats: TickerStats = opts.stats ?? newTickerStats(opts.database);

  let client: pg.Client | null = null;
  let poller: TickPoller | null = null;
  let saidWaiting = false;
  const backoff = new Backoff({ delayMs: tickMs, maxMs: opts.maxBackoffMs ?? 30_000 });
  try {
    while (!stop()) {
      try {
        if (!client) {
          client = guardClient(await opts.connect());
          stats.database = (await client.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
          const got = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [
            ...TICKER_LOCK,
          ]);
          if (!got.rows[0]!.ok) {
            await client.end().catch(() => {});
            client = null;
            if (opts.onBusy === 'exit') {
              log.info('another ticker is running on this database; exiting', { database: stats.database });
              return stats;
            }
            // Once at INFO (an operator must see why nothing ticks), then quietly.
            const waiting = { database: stats.database };
            if (saidWaiting) log.debug('another ticker holds this database; waiting for it to stop', waiting);
            else log.info('another ticker holds this database; waiting for it to stop', waiting);
            saidWaiting = true;
            await sleep(Math.min(Math.max(tickMs, 1000), deadline - Date.now()), opts.signal);
            continue;
          }
          stats.ran = true;
          log.info('ticker started', {
            database: stats.database,
            tickPeriodMs: tickMs,
            pollPeriodMs: pollMs,
          });
        }
        poller = pollMs > 0 ? await TickPoller.open(client, { tickMs, pollMs, connect: opts.connect }) : null;
        await loop(client, stats, { tickMs, retryMs, maintMs, stop, opts, log, slowest, backoff, poller });
      } catch (err) {
        stats.errors++;
        const retryInMs = backoff.failure(isConnectionFailure(err));
        log.error('ticker failed; reconnecting', {
          database: stats.database,
          error: (err as Error).message,
          retryInMs,
        });
        await poller?.side?.close();
        poller = null;
        await client?.end().catch(() => {});
        client = null;
        await sleep(Math.min(retryInMs, Math.max(0, deadline - Date.now())), opts.signal);
      }
    }
  } finally {
    await poller?.side?.close();
    if (client) {
      await client.query('select pg_advisory_unlock($1, $2)', [...TICKER_LOCK]).catch(() => {});
      await client.end().catch(() => {});
    }
    stats.stoppedAt = new Date();
  }
  return stats;
}

async function loop(
  client: pg.Client,
  stats: TickerStats,
  ctx: {
    tickMs: number;
    retryMs: number;
    maintMs: number;
    stop: () => boolean | undefined;
    opts: TickerOptions;
    log: Logger;
    slowest: { ms: number };
    /** Reset after every good round, so the next outage starts with a short wait again. */
    backoff: Backoff;
    /** Our SQL: when to pass over which queues (null: every queue every tickMs, as pgqd). */
    poller: TickPoller | null;
  },
): Promise<void> {
  let nextRetry = Date.now() + Math.min(ctx.retryMs, 1000);
  let nextMaint = Date.now() + Math.min(ctx.maintMs, 1000);
  let nextTick = Date.now();
  while (!ctx.stop()) {
    const now = Date.now();
    const roundStart = now;
    const poller = ctx.poller;
    if (poller) {
      const look = await poller.due(now);
      if (look) await poller.pass(look, stats, ctx.opts.onTick, ctx.log);
    } else if (now >= nextTick) {
      await tickOnce(client, stats, ctx.opts.onTick, ctx.log);
      // Fixed-rate schedule; if we fell behind, do not try to catch up with a burst.
      nextTick = Math.max(nextTick + ctx.tickMs, Date.now());
    }
    // With a side connection open (many queues), maintenance runs there, not waited for; it
    // waits its turn behind a chunk of the pass (one job at a time).
    const side = poller?.side?.open ? poller.side : null;
    if (now >= nextRetry && !side?.busy) {
      if (side) {
        side.run(
          async (c) => {
            stats.retried += await retryEvents(c);
          },
          () => poller?.waker.wake(),
        );
      } else stats.retried += await retryEvents(client);
      nextRetry = Date.now() + ctx.retryMs;
    }
    if (now >= nextMaint && !side?.busy) {
      if (side) {
        side.run(
          async (c) => {
            stats.maintSteps += await runMaintenance(c, ctx.log);
          },
          () => poller?.waker.wake(),
        );
      } else stats.maintSteps += await runMaintenance(client, ctx.log);
      nextMaint = Date.now() + ctx.maintMs;
    }
    ctx.slowest.ms = Math.max(ctx.slowest.ms, Date.now() - roundStart);
    ctx.backoff.success();
    const wakeAt = poller ? poller.nextAt() : nextTick;
    // Maintenance due but the side connection busy: the end of its job wakes the loop.
    const later = (at: number) => (side?.busy && at <= Date.now() ? Number.POSITIVE_INFINITY : at);
    const ms = Math.max(0, Math.min(wakeAt, later(nextRetry), later(nextMaint)) - Date.now());
    if (poller) await poller.waker.wait(ms, ctx.opts.signal);
    else await sleep(ms, ctx.opts.signal);
  }
}

/** One round: pgq.ticker for every queue; returns the new ticks. */
export async function tickOnce(
  client: pg.ClientBase,
  stats?: TickerStats,
  onTick?: TickerOptions['onTick'],
  log: Logger = silentLogger,
): Promise<TickEvent[]> {
  const r = await client.query<{ queue_name: string; tick_id: unknown }>(TICK_SQL);
  if (stats) stats.tickerCalls++;
  return reportTicks(r.rows, stats, onTick, log);
}

/** Counts and reports the new ticks of a pass (rows of queue_name, tick_id; NULL: no tick). */
export async function reportTicks(
  rows: readonly { queue_name: string; tick_id: unknown }[],
  stats: TickerStats | undefined,
  onTick: TickerOptions['onTick'],
  log: Logger,
): Promise<TickEvent[]> {
  const out: TickEvent[] = [];
  for (const row of rows) {
    if (row.tick_id == null) continue;
    const ev = { database: stats?.database ?? '', queue: row.queue_name, tickId: toBigInt(row.tick_id) };
    out.push(ev);
    if (stats) stats.ticks++;
    if (onTick) {
      try {
        await onTick(ev);
      } catch (err) {
        log.warn('tick callback failed', {
          queue: ev.queue,
          tickId: ev.tickId,
          error: (err as Error).message,
        });
      }
    }
  }
  return out;
}

/** Moves due retry events back into their queues (pgq.maint_retry_events until 0). */
export async function retryEvents(client: pg.ClientBase): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await client.query<{ n: number }>('select pgq.maint_retry_events() as n');
    const n = Number(r.rows[0]!.n);
    total += n;
    if (n === 0) return total;
  }
}

/** Runs the steps of pgq.maint_operations(), each in its own transaction; VACUUM outside one. */
export async function runMaintenance(client: pg.ClientBase, log: Logger = silentLogger): Promise<number> {
  const ops = (
    await client.query<{ func_name: string; func_arg: string | null }>('select * from pgq.maint_operations()')
  ).rows;
  let done = 0;
  for (const op of ops) {
    try {
      if (op.func_name.toLowerCase() === 'vacuum') {
        if (op.func_arg) await client.query(`vacuum ${quoteQualified(op.func_arg)}`);
      } else if (op.func_arg == null) {
        await client.query(`select ${quoteQualified(op.func_name)}()`);
      } else {
        await client.query(`select ${quoteQualified(op.func_name)}($1)`, [op.func_arg]);
      }
      done++;
    } catch (err) {
      // One failing step (e.g. a user's queue_extra_maint function) must not stop the others.
      log.warn('maintenance step failed', {
        step: op.func_name,
        arg: op.func_arg,
        error: (err as Error).message,
      });
    }
  }
  return done;
}

/** "schema.name" from the catalog → quoted SQL; refuses anything that is not 1–2 plain parts. */
function quoteQualified(name: string): string {
  const parts = name.split('.');
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '')) {
    throw new PgqError(
      'corrupt_state',
      `refusing to run maintenance step with odd name ${JSON.stringify(name)}`,
    );
  }
  return parts.map((p) => quoteIdent(p)).join('.');
}
