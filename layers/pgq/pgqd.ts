// pgqd: the ticker daemon for many databases. Finds the databases to serve (database_list, or
// every database that has the pgq schema) every check_period, and runs one ticker loop
// (ticker.ts) per database until stopped.
import type pg from 'pg';
import { connectClient } from '../db/connection.ts';
import { withDatabaseName } from '../db/connstr.ts';
import { defaultLogger, type Logger } from '../util/log.ts';
import { sleep } from '../util/sleep.ts';
import { runTicker, type TickEvent, type TickerStats } from './ticker.ts';

export interface PgqdConfig {
  base: pg.ClientConfig;
  initialDatabase: string;
  databaseList?: string[];
  tickerPeriodMs: number;
  /** The look for committed events between ticker passes (ticker.ts); default 5 ms, 0 off. */
  pollPeriodMs?: number;
  retryPeriodMs: number;
  maintPeriodMs: number;
  checkPeriodMs: number;
}

export interface PgqdOptions {
  config: PgqdConfig;
  signal: AbortSignal;
  log?: Logger;
  onTick?: (ev: TickEvent) => void | Promise<void>;
  /** Called whenever a database's ticker loop ends (abort, database gone). */
  onStopped?: (stats: TickerStats) => void;
}

export function clientFor(cfg: PgqdConfig, database: string, app = 'skytools pgqd'): pg.ClientConfig {
  return { ...withDatabaseName(cfg.base, database), application_name: app };
}

/** A connection to one of the served databases. */
function connectTo(cfg: PgqdConfig, database: string): Promise<pg.Client> {
  return connectClient({ config: clientFor(cfg, database) });
}

/** Databases to serve right now. */
export async function discoverDatabases(cfg: PgqdConfig): Promise<string[]> {
  if (cfg.databaseList && cfg.databaseList.length > 0) return cfg.databaseList;
  const listing = await connectTo(cfg, cfg.initialDatabase);
  let names: string[];
  try {
    names = (
      await listing.query<{ datname: string }>(
        'select datname from pg_database where not datistemplate and datallowconn order by 1',
      )
    ).rows.map((r) => r.datname);
  } finally {
    await listing.end();
  }
  const withPgq: string[] = [];
  for (const db of names) {
    let c: pg.Client | null = null;
    try {
      c = await connectTo(cfg, db);
      const r = await c.query("select 1 from pg_namespace where nspname = 'pgq'");
      if (r.rowCount) withPgq.push(db);
    } catch {
      // No access to that database: not ours to tick.
    } finally {
      await c?.end().catch(() => {});
    }
  }
  return withPgq;
}

export async function runPgqd(opts: PgqdOptions): Promise<void> {
  const log = opts.log ?? defaultLogger();
  const running = new Map<string, { ac: AbortController; done: Promise<void> }>();
  const startDb = (db: string) => {
    const ac = new AbortController();
    const abortAll = () => ac.abort();
    opts.signal.addEventListener('abort', abortAll, { once: true });
    const done = runTicker({
      connect: () => connectTo(opts.config, db),
      database: db,
      tickPeriodMs: opts.config.tickerPeriodMs,
      pollPeriodMs: opts.config.pollPeriodMs,
      retryPeriodMs: opts.config.retryPeriodMs,
      maintPeriodMs: opts.config.maintPeriodMs,
      signal: ac.signal,
      onTick: opts.onTick,
      log: log.child({ database: db }),
    })
      .then((stats) => opts.onStopped?.(stats))
      .catch((err: unknown) =>
        log.error('ticker loop crashed', { database: db, error: (err as Error).message }),
      )
      .finally(() => {
        opts.signal.removeEventListener('abort', abortAll);
        running.delete(db);
      });
    running.set(db, { ac, done });
  };

  while (!opts.signal.aborted) {
    try {
      const dbs = new Set(await discoverDatabases(opts.config));
      for (const db of dbs) if (!running.has(db)) startDb(db);
      for (const [db, r] of running) {
        if (!dbs.has(db)) {
          log.info('database no longer has pgq; stopping its ticker', { database: db });
          r.ac.abort();
        }
      }
      if (dbs.size === 0) log.warn('no database with the pgq schema found');
    } catch (err) {
      log.error('listing databases failed', { error: (err as Error).message });
    }
    await sleep(opts.config.checkPeriodMs, opts.signal);
  }
  await Promise.all([...running.values()].map((r) => r.done));
}
