// The long-running loops survive their database going away: on a PostgreSQL of this test's own,
// a ticker (runTicker), a consumer (runConsumer) and a root → branch → leaf cascade (CascadeWorker
// on each node, a ticker on the root) run while the server is stopped and started three times.
// After each start they resume within 2 s of the server accepting connections (on a loaded
// machine: within the back-off cap plus three times what the same work took just before) — ticks advance,
// events inserted after the restart are consumed — each outage's first retry waits the short
// initial back-off again (the policy resets after a success), and in the end every event was
// consumed exactly once.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CascadeWorker, isCascadeEvent } from '../../layers/cascade/worker.ts';
import { connectClient, createPool } from '../../layers/db/connection.ts';
import { install } from '../../layers/install/installer.ts';
import { type ConsumerStats, runConsumer } from '../../layers/pgq/consumer-loop.ts';
import { newTickerStats, runTicker } from '../../layers/pgq/ticker.ts';
import { RECONNECT_MAX_MS } from '../../layers/util/backoff.ts';
import { createLogger, type LogFields } from '../../layers/util/log.ts';
import { Cluster, type NodeDb, range, seen } from '../cascade/cluster.ts';
import { type RestartablePgServer, startRestartablePgServer, withDatabase } from '../support/pg-server.ts';

const QUEUE = 'rq';
const CONSUMER = 'rc';
const RESTARTS = 3;
const RESUME_WITHIN_MS = 2000;
// Loop pace and back-off cap of every loop here: the first retry of an outage waits
// max(100 ms, pace); the cap keeps the worst wait after the server is back well inside 2 s.
const PACE_MS = 100;
const MAX_BACKOFF_MS = RECONNECT_MAX_MS;

let srv: RestartablePgServer;
const pools: pg.Pool[] = [];
const url = (db: string) => withDatabase(srv.adminUrl, db);

/** Every loop's error lines with the back-off they announced, tagged by loop. */
const failures: { loop: string; retryInMs: number }[] = [];
function capturingLogger(loop: string) {
  return createLogger({
    json: true,
    level: 'error',
    write: (line) => {
      const f = JSON.parse(line) as LogFields;
      if (typeof f.retryInMs === 'number') failures.push({ loop, retryInMs: f.retryInMs });
    },
  });
}

function nodeDb(name: string): NodeDb {
  const pool = createPool({ connectionString: url(name), max: 3, onIdleError: () => {} });
  pools.push(pool);
  return { name, url: url(name), query: (sql, params) => pool.query(sql, params) };
}

/** Runs sql on a fresh connection (the pools' connections die with every restart). */
async function run(db: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = await connectClient({ connectionString: url(db) });
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ctl = new AbortController();
const running: Promise<unknown>[] = [];
const tickerStats = newTickerStats();
const rootTickerStats = newTickerStats();
const consumerStats: ConsumerStats = { batches: 0, events: 0, retried: 0, errors: 0, latencyMs: [] };
let cluster: Cluster;
let produced = 0; // events 1..produced went into both the plain queue and the cascade's root

beforeAll(async () => {
  srv = await startRestartablePgServer();
  await run('postgres', 'create database rc_tpl');
  const tpl = await connectClient({ connectionString: url('rc_tpl') });
  try {
    await install(tpl);
  } finally {
    await tpl.end();
  }
  for (const db of ['rc_q', 'rc_r', 'rc_b', 'rc_l'])
    await run('postgres', `create database ${db} template rc_tpl`);

  // The plain queue: ticks at most 10 ms after an event, and every 200 ms when idle.
  await run('rc_q', 'select pgq.create_queue($1)', [QUEUE]);
  await run('rc_q', "select pgq.set_queue_config($1, 'ticker_max_lag', '10 milliseconds')", [QUEUE]);
  await run('rc_q', "select pgq.set_queue_config($1, 'ticker_idle_period', '200 milliseconds')", [QUEUE]);
  // The consumer records what it consumed in its batch transaction: a batch consumed twice
  // would leave its events here twice.
  await run('rc_q', 'create table consumed (seq bigserial primary key, ev_id int8, data text)');
  await run('rc_q', 'select pgq.register_consumer($1, $2)', [QUEUE, CONSUMER]);

  cluster = new Cluster({ r: nodeDb('rc_r'), b: nodeDb('rc_b'), l: nodeDb('rc_l') }, 'cq');
  await cluster.nodes.l!.query(
    'create table cascade_seen (seq bigserial primary key, ev_id int8, data text)',
  );
  await cluster.build('r', 'b', 'l');
}, 240_000);

afterAll(async () => {
  ctl.abort();
  await Promise.allSettled(running);
  await cluster?.stopAll();
  await Promise.all(pools.map((p) => p.end().catch(() => {})));
  await srv?.stop();
});

function startLoops() {
  running.push(
    runTicker({
      connect: () => connectClient({ connectionString: url('rc_q'), applicationName: 'reconnect ticker' }),
      tickPeriodMs: 50,
      signal: ctl.signal,
      stats: tickerStats,
      log: capturingLogger('ticker'),
    }),
    runTicker({
      connect: () =>
        connectClient({ connectionString: url('rc_r'), applicationName: 'reconnect root ticker' }),
      tickPeriodMs: 50,
      signal: ctl.signal,
      stats: rootTickerStats,
      log: capturingLogger('root ticker'),
    }),
  );
  const consumerPool = createPool({ connectionString: url('rc_q'), max: 2, onIdleError: () => {} });
  pools.push(consumerPool);
  running.push(
    runConsumer({
      pool: consumerPool,
      queue: QUEUE,
      consumer: CONSUMER,
      register: true,
      loopDelayMs: PACE_MS,
      untagged: 'done',
      signal: ctl.signal,
      stats: consumerStats,
      log: capturingLogger('consumer'),
      handler: async (batch, tx) => {
        if (batch.events.length === 0) return;
        await tx.query('insert into consumed (ev_id, data) select * from unnest($1::int8[], $2::text[])', [
          batch.events.map((e) => e.id.toString()),
          batch.events.map((e) => e.data),
        ]);
      },
    }),
  );
  for (const n of ['b', 'l']) {
    cluster.workerPatch[n] = { log: capturingLogger(`worker ${n}`) };
  }
  cluster.handlers.l = async (batch, local) => {
    const evs = batch.events.filter((e) => !isCascadeEvent(e));
    if (evs.length === 0) return;
    await local.query('insert into cascade_seen (ev_id, data) select * from unnest($1::int8[], $2::text[])', [
      evs.map((e) => e.id.toString()),
      evs.map((e) => e.data),
    ]);
  };
  cluster.startWorker('r');
  cluster.startWorker('b');
  cluster.startWorker('l');
}

/** Inserts the next n events into the plain queue and the cascade's root, a few per transaction. */
async function produce(n: number) {
  const first = produced + 1;
  produced += n;
  const values = range(first, produced).map(String);
  await run('rc_q', 'select pgq.insert_event($1, $2, d) from unnest($3::text[]) d', [QUEUE, 'ev', values]);
  await run('rc_r', "select pgq.insert_event('cq', 'ev', d) from unnest($1::text[]) d", [values]);
}

async function consumedData(): Promise<number[]> {
  return (await run('rc_q', 'select data from consumed order by seq')).rows.map((r) => Number(r.data));
}

const allConsumed = async () => (await consumedData()).length >= produced;
const leafHasAll = async () => (await seen(cluster.nodes.l!)).length >= produced;

describe('loops across database restarts', () => {
  it('start and process events before any outage', async () => {
    startLoops();
    await produce(20);
    await until('the consumer consumed the first events', allConsumed);
    await until('the leaf has the first events', leafHasAll);
    expect(tickerStats.ran && rootTickerStats.ran).toBe(true);
  });

  for (let round = 1; round <= RESTARTS; round++) {
    it(`resume within ${RESUME_WITHIN_MS} ms after restart ${round} of ${RESTARTS}`, async () => {
      // What the same work takes with the server up, right now: on a loaded machine the chain
      // (ticks, consumer, root → branch → leaf) alone can take longer than the bound, which is
      // about the reconnect (at most RECONNECT_MAX_MS after the server is back), not the load.
      const healthyStart = Date.now();
      await produce(5);
      await Promise.all([
        until('the consumer, healthy', allConsumed),
        until('the leaf, healthy', leafHasAll),
      ]);
      const healthyMs = Date.now() - healthyStart;
      const limitMs = Math.max(RESUME_WITHIN_MS, RECONNECT_MAX_MS + 3 * healthyMs);
      const failuresBefore = failures.length;
      await srv.halt();
      // Long enough for every loop to fail and back off a few times; the last outage long enough
      // that a growing back-off (default caps: 30 s ticker, 60 s consumer) would reach seconds —
      // a lost connection is retried at most RECONNECT_MAX_MS apart however long it lasts.
      await new Promise((r) => setTimeout(r, round === RESTARTS ? 7000 : 1200));
      await srv.resume();
      const up = Date.now();
      const ticks = { plain: tickerStats.ticks, root: rootTickerStats.ticks };
      await produce(25);
      const waited = await Promise.all([
        until('ticks on the plain queue', async () => tickerStats.ticks > ticks.plain),
        until('ticks on the root', async () => rootTickerStats.ticks > ticks.root),
        until('the consumer consumed the new events', allConsumed),
        until('the leaf has the new events', leafHasAll),
      ]);
      const resumedMs = Date.now() - up;
      expect(
        resumedMs,
        `waits (ticks, root ticks, consumer, leaf): ${waited.join(', ')} ms; healthy ${healthyMs} ms`,
      ).toBeLessThan(limitMs);

      // Each loop failed during the outage, and its first retry waited the initial back-off:
      // success before the outage had reset the policy.
      const outage = failures.slice(failuresBefore);
      for (const loop of ['ticker', 'root ticker', 'consumer', 'worker b', 'worker l']) {
        const mine = outage.filter((f) => f.loop === loop);
        expect(mine.length, `${loop} noticed the outage`).toBeGreaterThan(0);
        expect(mine[0]!.retryInMs, `${loop}: first retry of outage ${round}`).toBe(PACE_MS);
        expect(Math.max(...mine.map((f) => f.retryInMs))).toBeLessThanOrEqual(MAX_BACKOFF_MS);
      }
    });
  }

  it('lost nothing and consumed nothing twice', async () => {
    await until('the consumer is done', allConsumed);
    await until('the leaf is done', leafHasAll);
    expect(await consumedData()).toEqual(range(1, produced));
    expect(await seen(cluster.nodes.l!)).toEqual(range(1, produced));
    const worker = cluster.worker('l') as CascadeWorker;
    expect(worker.stats.errors).toBeGreaterThanOrEqual(RESTARTS);
    expect(consumerStats.errors).toBeGreaterThanOrEqual(RESTARTS);
    expect(tickerStats.errors).toBeGreaterThanOrEqual(RESTARTS);
  });
});
