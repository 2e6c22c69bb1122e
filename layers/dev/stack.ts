// The local stack (`skytools dev`): one database, the ticker loop, the consumers declared in a
// config file, an optional demo producer, and a status snapshot for the live view. The same
// runtime pieces (ticker.ts, consumer-loop.ts) that run in Lambda and Fargate run here.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { ConfigError } from '../config/settings.ts';
import { connectClient, createPool } from '../db/connection.ts';
import { withClient } from '../db/transaction.ts';
import { install } from '../install/installer.ts';
import type { BatchHandler } from '../pgq/consumer.ts';
import { registerConsumer } from '../pgq/consumer.ts';
import { type ConsumerStats, runConsumer } from '../pgq/consumer-loop.ts';
import { newTickerStats, runTicker, type TickerStats } from '../pgq/ticker.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { sleep, Waker } from '../util/sleep.ts';
import {
  ensureLeafDatabase,
  type ReplicationNodeStatus,
  type RunningReplication,
  startReplication,
} from './replication.ts';
import type { ConsumerDecl, DevConfig } from './settings.ts';

export type { ConsumerDecl, DevConfig } from './settings.ts';
export { loadDevConfig } from './settings.ts';

export async function loadHandler(file: string): Promise<BatchHandler> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`cannot load consumer handler ${file}: ${(err as Error).message}`, { cause: err });
  }
  const fn = mod.default ?? mod.handler;
  if (typeof fn !== 'function') {
    throw new ConfigError(`${file} must export the batch handler as default export or as "handler"`);
  }
  return fn as BatchHandler;
}

export interface StackStatus {
  at: Date;
  queues: Array<{
    name: string;
    lastTick: bigint | null;
    /** Seconds since the queue's last tick. */
    tickerLag: number | null;
    evPerSec: number | null;
    evNew: bigint | null;
    table: number;
  }>;
  consumers: Array<{
    queue: string;
    name: string;
    /** Seconds: age of the consumer's last finished tick. */
    lag: number | null;
    pending: bigint | null;
    /** Seconds since the consumer last took or finished a batch. */
    lastSeen: number | null;
    stats?: ConsumerStats;
  }>;
  ticker: TickerStats;
  /** Londiste's nodes (replicate_tables): each node's tables, states, copy progress, the leaf's lag. */
  replication?: ReplicationNodeStatus[];
}

export interface RunningStack {
  pool: pg.Pool;
  status(): Promise<StackStatus>;
  stop(): Promise<void>;
}

/** Installs PgQ, runs the setup SQL, creates and configures the queues, registers the consumers. */
export async function prepareDatabase(pool: pg.Pool, cfg: DevConfig, log: Logger): Promise<void> {
  await withClient(pool, async (c) => {
    await install(c);
    if (cfg.setupSql) await c.query(readFileSync(cfg.setupSql, 'utf8'));
    for (const [queue, settings] of cfg.queues) {
      await c.query('select pgq.create_queue($1)', [queue]);
      for (const [k, v] of Object.entries(settings)) {
        await c.query('select pgq.set_queue_config($1, $2, $3)', [queue, k, v]);
      }
    }
    for (const decl of cfg.consumers) {
      if (await registerConsumer(c, decl.queue, decl.name))
        log.info('registered consumer', { queue: decl.queue, consumer: decl.name });
    }
  });
}

export function newConsumerStats(): ConsumerStats {
  return { batches: 0, events: 0, retried: 0, errors: 0, latencyMs: [] };
}

/**
 * How the ticker and consumers run: 'loops' (long-running loops in this process, as on Fargate)
 * or 'serverless' (the Lambda handlers, woken through SQS on a local endpoint, as deployed).
 */
export type StackMode = 'loops' | 'serverless';

/** Prepares the database (install, setup SQL, queues, registrations) and starts the stack. */
export async function startStack(
  cfg: DevConfig,
  url: string,
  log: Logger = silentLogger,
  mode: StackMode = 'loops',
): Promise<RunningStack> {
  let stopping = false;
  const pool = createPool({
    connectionString: url,
    applicationName: 'skytools dev',
    max: 4 + cfg.consumers.length * 2,
    // While shutting down, the server ending connections is expected.
    onIdleError: (err) => {
      if (!stopping) log.warn('idle connection failed', { error: err.message });
    },
  });
  await prepareDatabase(pool, cfg, log);

  const ac = new AbortController();
  const consumerStats = new Map<string, ConsumerStats>();
  const tickerStats = newTickerStats();
  const handlers = new Map<ConsumerDecl, BatchHandler>();
  for (const decl of cfg.consumers) {
    handlers.set(decl, await loadHandler(decl.handlerPath));
    consumerStats.set(`${decl.queue}/${decl.name}`, newConsumerStats());
  }
  const loops: Promise<unknown>[] =
    mode === 'serverless'
      ? await (await import('./serverless.ts')).startServerless({
          cfg,
          url,
          handlers,
          consumerStats,
          tickerStats,
          signal: ac.signal,
          log,
        })
      : startLoops({ cfg, url, pool, handlers, consumerStats, tickerStats, signal: ac.signal, log });

  let replication: RunningReplication | null = null;
  if (cfg.replicateTables?.length) {
    // The demo's replication needs a second database; on a server where this login may not
    // create one (a DATABASE_URL of the user's), the rest of the stack runs without it. Any
    // other failure (a table that does not exist, a node that cannot be created) stops the
    // start: a stack that says it runs but replicates nothing would hide the mistake.
    const abortStart = async () => {
      stopping = true;
      ac.abort();
      await Promise.allSettled(loops);
      await pool.end();
    };
    let leafUrl: string | null = null;
    try {
      leafUrl = await ensureLeafDatabase(url, cfg.leafDatabase);
    } catch (err) {
      if ((err as { code?: string }).code !== '42501') {
        await abortStart();
        throw err;
      }
      log.warn('Londiste replication not started: this login may not create the leaf database', {
        error: (err as Error).message,
      });
    }
    if (leafUrl) {
      try {
        replication = await startReplication({
          rootUrl: url,
          leafUrl,
          tables: cfg.replicateTables,
          signal: ac.signal,
          log,
        });
      } catch (err) {
        await abortStart();
        throw new Error(`Londiste replication could not be set up: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }

  if (cfg.demoProducerSql) {
    const sql = cfg.demoProducerSql;
    loops.push(
      (async () => {
        while (!ac.signal.aborted) {
          try {
            await pool.query(sql);
          } catch (err) {
            log.warn('demo producer failed', { error: (err as Error).message });
          }
          await sleep(cfg.demoProducerPeriodMs, ac.signal);
        }
      })(),
    );
  }

  return {
    pool,
    async status() {
      const s = await queryStatus(pool, consumerStats, tickerStats);
      return replication ? { ...s, replication: await replication.status() } : s;
    },
    async stop() {
      stopping = true;
      ac.abort();
      await Promise.allSettled(loops);
      await replication?.stop();
      await pool.end();
    },
  };
}

export interface StackParts {
  cfg: DevConfig;
  url: string;
  handlers: Map<ConsumerDecl, BatchHandler>;
  consumerStats: Map<string, ConsumerStats>;
  tickerStats: TickerStats;
  signal: AbortSignal;
  log: Logger;
}

/** The ticker loop and one consumer loop per consumer, woken in-process by each new tick. */
function startLoops(p: StackParts & { pool: pg.Pool }): Promise<unknown>[] {
  const wakers = new Map<string, Waker[]>();
  const loops: Promise<unknown>[] = [];
  for (const [decl, handler] of p.handlers) {
    const waker = new Waker();
    wakers.set(decl.queue, [...(wakers.get(decl.queue) ?? []), waker]);
    loops.push(
      runConsumer({
        pool: p.pool,
        queue: decl.queue,
        consumer: decl.name,
        handler,
        loopDelayMs: decl.loopDelayMs,
        lazyFetch: decl.lazyFetch,
        minCount: decl.minCount,
        minLagMs: decl.minLagMs,
        waker,
        signal: p.signal,
        log: p.log,
        stats: p.consumerStats.get(`${decl.queue}/${decl.name}`),
      }),
    );
  }
  loops.push(
    runTicker({
      connect: () => connectClient({ connectionString: p.url, applicationName: 'skytools dev ticker' }),
      tickPeriodMs: p.cfg.tickerPeriodMs,
      pollPeriodMs: p.cfg.pollPeriodMs,
      retryPeriodMs: p.cfg.retryPeriodMs,
      maintPeriodMs: p.cfg.maintPeriodMs,
      signal: p.signal,
      log: p.log,
      stats: p.tickerStats,
      onTick: (ev) => {
        for (const w of wakers.get(ev.queue) ?? []) w.wake();
      },
    }),
  );
  return loops;
}

async function queryStatus(
  pool: pg.Pool,
  consumerStats: Map<string, ConsumerStats>,
  tickerStats: TickerStats,
): Promise<StackStatus> {
  const q = await pool.query(
    `select queue_name, last_tick_id, extract(epoch from ticker_lag)::float8 as ticker_lag, ev_per_sec, ev_new, queue_cur_table
       from pgq.get_queue_info() order by 1`,
  );
  const c = await pool.query(
    `select queue_name, consumer_name, extract(epoch from lag)::float8 as lag, pending_events,
            extract(epoch from last_seen)::float8 as last_seen
       from pgq.get_consumer_info() order by 1, 2`,
  );
  return {
    at: new Date(),
    queues: q.rows.map((r) => ({
      name: r.queue_name,
      lastTick: r.last_tick_id,
      tickerLag: r.ticker_lag,
      evPerSec: r.ev_per_sec,
      evNew: r.ev_new,
      table: r.queue_cur_table,
    })),
    consumers: c.rows.map((r) => ({
      queue: r.queue_name,
      name: r.consumer_name,
      lag: r.lag,
      pending: r.pending_events,
      lastSeen: r.last_seen,
      stats: consumerStats.get(`${r.queue_name}/${r.consumer_name}`),
    })),
    ticker: tickerStats,
  };
}
