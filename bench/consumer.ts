// Consumer benchmarks (issue: drain rate and end-to-end latency), on the Debian server that has
// the originals, in the same run:
//   drain: one consumer reading a backlog of N events (default 1,000,000) — ours vs a consumer
//          written with the original python3-pgq framework, both reading the same queue.
//   latency: commit → handler, median and p99, with our ticker loop at 1000/100/20 ms (the
//          consumer woken by each tick) vs the original pgqd at its defaults with a consumer
//          polling every second (python3-pgq's default loop_delay).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { typeParsers } from '../layers/db/connection.ts';
import { install } from '../layers/install/installer.ts';
import { processNextBatch, registerConsumer } from '../layers/pgq/consumer.ts';
import { percentile, runConsumer } from '../layers/pgq/consumer-loop.ts';
import { runTicker } from '../layers/pgq/ticker.ts';
import { Waker } from '../layers/util/sleep.ts';

const PY_CONSUMER = `
import sys, pgq
class Noop(pgq.Consumer):
    def process_event(self, db, ev):
        ev.tag_done()
if __name__ == '__main__':
    Noop('bench_py', 'src_db', sys.argv[1:]).start()
`;

function libpq(url: string): string {
  const u = new URL(url);
  const host = u.searchParams.get('host') ?? u.hostname;
  return [
    `host=${host}`,
    u.port && `port=${u.port}`,
    u.username && `user=${decodeURIComponent(u.username)}`,
    u.password && `password=${decodeURIComponent(u.password)}`,
    `dbname=${u.pathname.slice(1)}`,
  ]
    .filter(Boolean)
    .join(' ');
}

async function freshDb(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropDb(adminUrl: string, name: string) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}

const progress = (msg: string) => process.stderr.write(`\r${msg.padEnd(70)}`);

export async function benchDrain(opts: { adminUrl: string; events: number; python: string }) {
  const url = await freshDb(opts.adminUrl, `bench_drain_${process.pid}`);
  const c = new pg.Client({ connectionString: url, types: typeParsers });
  await c.connect();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-drain-'));
  let py: ChildProcess | null = null;
  try {
    await install(c);
    await c.query("select pgq.create_queue('drain')");
    await registerConsumer(c, 'drain', 'bench_ours');
    await registerConsumer(c, 'drain', 'bench_py');
    const chunk = 10_000;
    for (let done = 0; done < opts.events; done += chunk) {
      const n = Math.min(chunk, opts.events - done);
      await c.query(
        "select pgq.insert_event_bulk('drain', 'bench', array_fill(repeat('x', 100), array[$1::int]))",
        [n],
      );
      await c.query("select pgq.force_tick('drain'), pgq.ticker('drain')");
      progress(`drain: filling backlog ${done + n}/${opts.events}`);
    }
    await c.query("select pgq.force_tick('drain'), pgq.ticker('drain')");
    const last = (await c.query("select last_tick_id as t from pgq.get_queue_info('drain')")).rows[0].t;

    // ours
    const t0 = performance.now();
    let events = 0;
    const oc = new pg.Client({ connectionString: url, types: typeParsers });
    await oc.connect();
    for (;;) {
      const res = await processNextBatch(oc, {
        queue: 'drain',
        consumer: 'bench_ours',
        lazyFetch: 5000,
        handler: async (batch) => {
          for await (const ev of batch) ev.tagDone();
        },
      });
      if (!res) break;
      events += res.events;
      progress(`drain: ours ${events}/${opts.events}`);
    }
    await oc.end();
    const oursSec = (performance.now() - t0) / 1000;

    // python3-pgq
    const script = path.join(dir, 'noop_consumer.py');
    writeFileSync(script, PY_CONSUMER);
    const ini = path.join(dir, 'py.ini');
    writeFileSync(
      ini,
      `[bench_py]\njob_name = bench_py\nsrc_db = ${libpq(url)}\nqueue_name = drain\nlogfile = ${dir}/py.log\npidfile = ${dir}/py.pid\nloop_delay = 0.05\npgq_lazy_fetch = 5000\n`,
    );
    const t1 = performance.now();
    py = spawn(opts.python, [script, ini], { stdio: 'ignore' });
    for (;;) {
      const r = await c.query("select last_tick from pgq.get_consumer_info('drain', 'bench_py')");
      const at = r.rows[0].last_tick;
      progress(`drain: python3-pgq at tick ${at}/${last}`);
      if (at >= last) break;
      if (py.exitCode !== null)
        throw new Error(`python consumer exited with ${py.exitCode}; see ${dir}/py.log`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pySec = (performance.now() - t1) / 1000;
    process.stderr.write('\n');
    return { events, oursPerSec: events / oursSec, pyPerSec: opts.events / pySec, ratio: pySec / oursSec };
  } finally {
    py?.kill('SIGKILL');
    await c.end();
    await dropDb(opts.adminUrl, `bench_drain_${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface LatencyRow {
  setup: string;
  p50: number | null;
  p99: number | null;
  samples: number;
}

/**
 * Runs a consumer on `queue` that records commit → handler latency, produces ~20 events/s for
 * `seconds` (each event's data is its index; the client notes when its commit returned), waits
 * `settleMs` for the stragglers, then stops the consumer. Returns the samples.
 */
async function measureLatency(
  pool: pg.Pool,
  url: string,
  queue: string,
  seconds: number,
  settleMs: number,
  waker?: Waker,
): Promise<number[]> {
  const ac = new AbortController();
  const samples: number[] = [];
  const commits: number[] = [];
  const consumer = runConsumer({
    pool,
    queue,
    consumer: 'lat',
    loopDelayMs: 1000,
    waker,
    signal: ac.signal,
    handler: async (batch) => {
      const now = Date.now();
      for (const ev of batch.events) {
        const committed = commits[Number(ev.data)];
        if (committed !== undefined) samples.push(now - committed);
        ev.tagDone();
      }
    },
  });
  const pc = new pg.Client({ connectionString: url });
  await pc.connect();
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    await pc.query('begin');
    await pc.query("select pgq.insert_event($1, 'lat', $2)", [queue, String(i)]);
    await pc.query('commit');
    commits[i] = Date.now();
    await new Promise((r) => setTimeout(r, 37 + (i % 7) * 5)); // ~20 events/s, not in step with ticks
  }
  await new Promise((r) => setTimeout(r, settleMs));
  await pc.end();
  ac.abort();
  await consumer;
  return samples;
}

async function prepareLatencyQueue(pool: pg.Pool, queue: string) {
  await pool.query('select pgq.create_queue($1)', [queue]);
  const c0 = await pool.connect();
  await registerConsumer(c0, queue, 'lat');
  c0.release();
}

/** Measures commit→handler latency with our ticker at the given period (consumer woken by ticks). */
export async function latencyOurs(url: string, tickMs: number, seconds: number): Promise<LatencyRow> {
  const pool = new pg.Pool({ connectionString: url, types: typeParsers, max: 4 });
  const queue = `lat_${tickMs}`;
  await prepareLatencyQueue(pool, queue);
  await pool.query("select pgq.set_queue_config($1, 'ticker_max_lag', '0')", [queue]);
  await pool.query("select pgq.set_queue_config($1, 'ticker_idle_period', '10 seconds')", [queue]);
  const ac = new AbortController();
  const waker = new Waker();
  const ticker = runTicker({
    connect: async () => {
      const c = new pg.Client({ connectionString: url, types: typeParsers });
      await c.connect();
      return c;
    },
    tickPeriodMs: tickMs,
    signal: ac.signal,
    onTick: (ev) => {
      if (ev.queue === queue) waker.wake();
    },
  });
  const samples = await measureLatency(pool, url, queue, seconds, Math.max(1500, tickMs * 3), waker);
  ac.abort();
  await ticker;
  await pool.end();
  return {
    setup: `ours, tick ${tickMs} ms`,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    samples: samples.length,
  };
}

/** Baseline: the original pgqd at its defaults, queue at PgQ defaults, consumer polling every 1 s. */
export async function latencyPgqd(url: string, seconds: number): Promise<LatencyRow> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-pgqd-'));
  const dbname = new URL(url).pathname.slice(1);
  writeFileSync(
    path.join(dir, 'pgqd.ini'),
    `[pgqd]\nlogfile = ${dir}/pgqd.log\npidfile = ${dir}/pgqd.pid\nbase_connstr = ${libpq(url).replace(/ dbname=\S+/, '')}\ninitial_database = ${dbname}\ndatabase_list = ${dbname}\n`,
  );
  const pgqd = spawn('pgqd', [path.join(dir, 'pgqd.ini')], { stdio: 'ignore' });
  const pool = new pg.Pool({ connectionString: url, types: typeParsers, max: 4 });
  const queue = 'lat_pgqd';
  await prepareLatencyQueue(pool, queue);
  const samples = await measureLatency(pool, url, queue, seconds, 5000);
  await pool.end();
  pgqd.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  return {
    setup: 'pgqd defaults + 1 s polling',
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    samples: samples.length,
  };
}

export async function benchConsumer(opts: { adminUrl: string; events: number; latencySeconds: number }) {
  const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import pgq']).status === 0);
  if (python) {
    const d = await benchDrain({ adminUrl: opts.adminUrl, events: opts.events, python });
    console.log(`\ndrain of a ${opts.events}-event backlog (one consumer)`);
    console.log(`  ours          ${Math.round(d.oursPerSec).toString().padStart(8)} events/s`);
    console.log(`  python3-pgq   ${Math.round(d.pyPerSec).toString().padStart(8)} events/s`);
    console.log(`  ours ÷ python ${d.ratio.toFixed(2).padStart(8)}× faster`);
  } else {
    console.log('drain: python3-pgq not installed (apt-get install python3-pgq); skipped');
  }
  const url = await freshDb(opts.adminUrl, `bench_latency_${process.pid}`);
  try {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await install(c);
    await c.end();
    const rows: LatencyRow[] = [];
    for (const tick of [1000, 100, 20]) rows.push(await latencyOurs(url, tick, opts.latencySeconds));
    if (spawnSync('pgqd', ['-V']).status === 0) rows.push(await latencyPgqd(url, opts.latencySeconds));
    console.log('\nend-to-end latency, commit → handler');
    console.log(`  ${'setup'.padEnd(30)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'samples'.padStart(8)}`);
    for (const r of rows) {
      console.log(
        `  ${r.setup.padEnd(30)} ${`${r.p50}ms`.padStart(8)} ${`${r.p99}ms`.padStart(8)} ${String(r.samples).padStart(8)}`,
      );
    }
  } finally {
    await dropDb(opts.adminUrl, `bench_latency_${process.pid}`);
  }
}
