// Consumer benchmarks (issue: drain rate and end-to-end latency), on the Debian server that has
// the originals, in the same run:
//   drain: one consumer reading a backlog of N events (default 1,000,000) — ours vs a consumer
//          written with the original python3-pgq framework, both reading the same queue.
//   latency: commit → handler, median and p99, with our ticker loop at 1000/100/20 ms (the
//          consumer woken by each tick) vs the original pgqd at its defaults with a consumer
//          polling every second (python3-pgq's default loop_delay).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClient, createPool } from '../layers/db/connection.ts';
import { quoteIdent } from '../layers/db/ident.ts';
import { newConsumerStats } from '../layers/dev/stack.ts';
import { install } from '../layers/install/installer.ts';
import { type BatchHandler, processNextBatch, registerConsumer } from '../layers/pgq/consumer.ts';
import { percentile, runConsumer } from '../layers/pgq/consumer-loop.ts';
import { newTickerStats, runTicker, type TickerStats } from '../layers/pgq/ticker.ts';
import { silentLogger } from '../layers/util/log.ts';
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
  const admin = await connectClient({ connectionString: adminUrl });
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropDb(adminUrl: string, name: string) {
  const admin = await connectClient({ connectionString: adminUrl });
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}

const progress = (msg: string) => process.stderr.write(`\r${msg.padEnd(70)}`);

export async function benchDrain(opts: { adminUrl: string; events: number; python: string }) {
  const url = await freshDb(opts.adminUrl, `bench_drain_${process.pid}`);
  const c = await connectClient({ connectionString: url });
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
    const oc = await connectClient({ connectionString: url });
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
  rate: number;
  p50: number | null;
  p99: number | null;
  samples: number;
  sent: number;
  /** The Lambda setup: invocations and their total time (what Lambda bills), in the measured window. */
  invocations?: number;
  billedMs?: number;
  /** The warm-up second before the window (the processes' start): its p99, ms. */
  warmP99?: number | null;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Producers: `rate` events/s for `seconds`, spread over `queues` round-robin. Up to 200 events/s
 * one connection, one event per transaction; above, 4 connections of 50 transactions/s each, the
 * events of a transaction split evenly (a commit costs ~2 ms of fsync here, so one connection
 * cannot commit 2,000 times a second). Each event's data is its id; commits[id] is the time the
 * client saw its commit return.
 */
async function produce(
  url: string,
  queues: string[],
  rate: number,
  seconds: number,
): Promise<Map<string, number>> {
  const commits = new Map<string, number>();
  const conns = rate > 200 ? 4 : 1;
  const txPerSec = rate > 200 ? 50 : rate;
  const perTx = Math.max(1, Math.round(rate / (conns * txPerSec)));
  let next = 0;
  await Promise.all(
    Array.from({ length: conns }, async (_, c) => {
      const pc = await connectClient({ connectionString: url });
      const t0 = Date.now() + c * (1000 / txPerSec / conns);
      const end = t0 + seconds * 1000;
      for (let j = 0; ; j++) {
        // A steady schedule with a little jitter, so commits do not fall in step with polls.
        const at = t0 + (j * 1000) / txPerSec + ((j * 7919) % 5);
        if (at >= end) break;
        if (at > Date.now()) await pause(at - Date.now());
        const q = queues[(next++ >>> 0) % queues.length]!;
        const ids = Array.from({ length: perTx }, () => `${c}.${j}.${commits.size + Math.random()}`);
        await pc.query("select pgq.insert_event($1, 'lat', x) from unnest($2::text[]) x", [q, ids]);
        const now = Date.now();
        for (const id of ids) commits.set(id, now);
      }
      await pc.end();
    }),
  );
  return commits;
}

/** Seconds of traffic before the measured window (BENCH_LATENCY_WARMUP). */
const WARMUP_S = Number(process.env.BENCH_LATENCY_WARMUP ?? 1);

/**
 * The row's traffic for WARMUP_S before the measured window, handled and then forgotten. Every
 * setup starts its processes and connections for its row: their first batches compile the
 * servers' plans (5–10 ms for a consumer backend's first batch, each of ten at once with ten
 * queues) and the processes' code, and at 2,000 events/s those first ~0.25 s were 1–2 % of a
 * 10 s row's events — its p99. What a running deployment sees is the latency after that.
 */
async function warmUp(
  url: string,
  queues: string[],
  rate: number,
  seen: Map<string, number>,
): Promise<{ warmP99?: number | null }> {
  if (WARMUP_S <= 0) return {};
  const warm = await produce(url, queues, rate, WARMUP_S);
  await waitSeen(seen, warm.size, 5000);
  const { p99 } = summarize('', rate, warm, seen);
  seen.clear();
  return { warmP99: p99 };
}

function summarize(
  setup: string,
  rate: number,
  commits: Map<string, number>,
  seen: Map<string, number>,
): LatencyRow {
  const samples: number[] = [];
  for (const [id, at] of seen) {
    const committed = commits.get(id);
    if (committed !== undefined) samples.push(Math.max(0, at - committed));
  }
  return {
    setup,
    rate,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    samples: samples.length,
    sent: commits.size,
  };
}

async function waitSeen(seen: Map<string, unknown>, want: number, ms: number) {
  const end = Date.now() + ms;
  while (seen.size < want && Date.now() < end) await pause(50);
}

async function prepareQueues(url: string, prefix: string, n: number, active: number): Promise<string[]> {
  const c = await connectClient({ connectionString: url });
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const q = `${prefix}_${i}`;
    // Default queue settings: nothing set.
    await c.query('select pgq.create_queue($1)', [q]);
    if (i < active) {
      await registerConsumer(c, q, 'lat');
      names.push(q);
    }
  }
  await c.end();
  return names;
}

/**
 * Waits (up to a minute) until the ticker is connected and every consumer has read every tick so
 * far: a Node process takes seconds to start on a busy machine, and events sent before would
 * measure the start-up, not the latency.
 */
async function ready(
  url: string,
  queues: string[],
  tickerApp: string | null,
  tickerStats: TickerStats | null,
) {
  const c = await connectClient({ connectionString: url });
  try {
    const end = Date.now() + 60_000;
    for (;;) {
      const r = await c.query<{ ok: boolean }>(
        `select (select count(*) from pgq.subscription s join pgq.queue q on q.queue_id = s.sub_queue
                  where q.queue_name = any ($1) and s.sub_batch is null
                    and s.sub_last_tick = (select max(tick_id) from pgq.tick t where t.tick_queue = q.queue_id)
                ) = cardinality($1::text[])
                and ($2::text is null or exists (select 1 from pg_stat_activity
                                                  where datname = current_database() and application_name = $2)) as ok`,
        [queues, tickerApp],
      );
      // An in-process ticker must have passed once: the previous setup's ticker (its backend a
      // moment after its process exited) may still hold the guard, and waiting for it costs the
      // new one a second — which was the p99 of the in-process and Lambda rows.
      const passed = !tickerStats || (tickerStats.ran && tickerStats.tickerCalls > 0);
      if ((r.rows[0]!.ok && passed) || Date.now() > end) break;
      await pause(100);
    }
    await pause(1000);
  } finally {
    await c.end();
  }
}

export type TickerKind = 'pgqd' | 'inproc' | 'lambda';

/** The many-queue setup's second round starts this long after the queues were created. */
const STEADY_AFTER_MS = 180_000;

let stopEmulator = async () => {};

/**
 * The consumer function's invocations as the local event source mapping runs them: from a
 * ReceiveMessage that returned wake-ups to the DeleteMessageBatch (or next receive) after the
 * handler, i.e. what Lambda would bill. Recorded on the container's one SQS client.
 */
const invocations: { start: number; end: number }[] = [];
let invocationsHooked = false;
function recordInvocations(sqs: import('@aws-sdk/client-sqs').SQSClient) {
  if (invocationsHooked) return;
  invocationsHooked = true;
  let open: { start: number; end: number } | null = null;
  sqs.middlewareStack.add(
    (next, ctx) => async (args) => {
      const cmd = (ctx as { commandName?: string }).commandName;
      if (cmd === 'DeleteMessageBatchCommand' || cmd === 'ReceiveMessageCommand') {
        if (open) open.end = performance.now();
        open = null;
      }
      const out = await next(args);
      const msgs = (out.output as { Messages?: unknown[] }).Messages;
      if (cmd === 'ReceiveMessageCommand' && msgs?.length) {
        open = { start: performance.now(), end: Number.NaN };
        invocations.push(open);
      }
      return out;
    },
    { step: 'initialize', name: 'benchInvocations' },
  );
}

function billed(from: number, to: number): { invocations: number; billedMs: number } {
  // Each invocation's part in the window (one still running — a lingering drain — counts up to
  // now), rounded up to the millisecond as Lambda bills.
  const parts = invocations
    .map((i) => Math.min(Number.isNaN(i.end) ? to : i.end, to) - Math.max(i.start, from))
    .filter((ms) => ms > 0);
  return { invocations: parts.length, billedMs: parts.reduce((n, ms) => n + Math.ceil(ms), 0) };
}

/**
 * commit → handler latency at every default: `skytools pgqd` (an ini naming only the database)
 * and a separate `runConsumer` process (pgqd); the ticker loop and the consumer loop in one process
 * (inproc); the Lambda ticker invocation waking the consumer drain through SQS on the in-process
 * emulator (lambda). `queues` queues exist, the first `active` of them have a consumer and traffic.
 */
export async function latencyDefaults(
  url: string,
  kind: TickerKind,
  rate: number,
  seconds: number,
  queues = 1,
  active = 1,
): Promise<LatencyRow> {
  // The many-queue setups share their queues (the idle measurement too), so the database holds
  // about `queues` queues, not one set per run.
  const prefix = queues > 1 ? `lmany${queues}` : `l${kind}_${rate}`;
  const names = await prepareQueues(url, prefix, queues, active);
  const seen = new Map<string, number>();
  const stops: Array<() => Promise<void>> = [];
  const root = path.resolve(import.meta.dirname, '..');
  const tickerStats = kind === 'pgqd' ? null : newTickerStats();
  try {
    if (kind === 'pgqd') {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-skypgqd-'));
      writeFileSync(
        path.join(dir, 'pgqd.ini'),
        `[pgqd]\ndatabase_list = ${new URL(url).pathname.slice(1)}\n`,
      );
      const pgqd = spawn(
        process.execPath,
        [path.join(root, 'bin/skytools.ts'), 'pgqd', path.join(dir, 'pgqd.ini')],
        {
          stdio: 'ignore',
          env: { ...process.env, DATABASE_URL: url },
        },
      );
      const consumer = spawn(
        process.execPath,
        [path.join(root, 'bench/consumer-process.ts'), url, 'lat', ...names],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let buf = '';
      consumer.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          const [id, at] = l.split(' ');
          if (id && at) seen.set(id, Number(at));
        }
      });
      stops.push(async () => {
        consumer.kill('SIGTERM');
        pgqd.kill('SIGTERM');
        await Promise.all([once(consumer, 'exit'), once(pgqd, 'exit')]);
        rmSync(dir, { recursive: true, force: true });
      });
    } else if (kind === 'inproc') {
      const ac = new AbortController();
      const pool = createPool({ connectionString: url, max: names.length + 2 });
      const wakers = new Map(names.map((q) => [q, new Waker()]));
      const ticker = runTicker({
        stats: tickerStats!,
        connect: async () => {
          const c = await connectClient({ connectionString: url });
          return c;
        },
        signal: ac.signal,
        onTick: (ev) => wakers.get(ev.queue)?.wake(),
      });
      const consumers = names.map((queue) =>
        runConsumer({
          pool,
          queue,
          consumer: 'lat',
          waker: wakers.get(queue),
          signal: ac.signal,
          handler: async (batch) => {
            const now = Date.now();
            for (const ev of batch.events) {
              seen.set(ev.data!, now);
              ev.tagDone();
            }
          },
        }),
      );
      stops.push(async () => {
        ac.abort();
        await Promise.all([ticker, ...consumers]);
        await pool.end();
      });
    } else {
      const { startServerless } = await import('../layers/dev/serverless.ts');
      const { TICKER_SETTINGS } = await import('../layers/pgq/lambda/settings.ts');
      const ac = new AbortController();
      // One emulator for every run of this bench: the container's SQS client is made once.
      if (!process.env.AWS_ENDPOINT_URL && !process.env.AWS_ENDPOINT_URL_SQS) {
        const { startFauxqs } = await import('fauxqs');
        const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
        process.env.AWS_ENDPOINT_URL_SQS = `http://127.0.0.1:${server.port}`;
        stopEmulator = () => server.stop();
      }
      const { sqsClient } = await import('../layers/aws/sqs.ts');
      recordInvocations(sqsClient());
      const defaults = TICKER_SETTINGS.load({ env: {} }).values;
      const handlers = new Map(
        names.map((queue) => [
          { name: 'lat', queue, handlerPath: '', loopDelayMs: 1000, lazyFetch: 0 },
          (async (batch) => {
            const now = Date.now();
            for (const ev of batch.events) {
              seen.set(ev.data!, now);
              ev.tagDone();
            }
          }) as BatchHandler,
        ]),
      );
      const loops = await startServerless({
        cfg: {
          file: '',
          dataDir: '',
          port: 0,
          tickerPeriodMs: defaults.tick_period * 1000,
          pollPeriodMs: defaults.poll_period * 1000,
          retryPeriodMs: defaults.retry_period * 1000,
          maintPeriodMs: defaults.maint_period * 1000,
          demoProducerPeriodMs: 1000,
          statusPeriodMs: 1000,
          queues: new Map(),
          consumers: [],
          warnings: [],
        },
        url,
        handlers,
        consumerStats: new Map(names.map((q) => [`${q}/lat`, newConsumerStats()])),
        tickerStats: tickerStats!,
        signal: ac.signal,
        log: silentLogger,
      });
      stops.push(async () => {
        ac.abort();
        await Promise.allSettled(loops);
      });
    }
    await ready(url, names, kind === 'pgqd' ? 'skytools pgqd' : null, tickerStats);
    const warm = await warmUp(url, names, rate, seen);
    const from = performance.now();
    const commits = await produce(url, names, rate, seconds);
    await waitSeen(seen, commits.size, 5000);
    const cost = kind === 'lambda' ? billed(from, performance.now()) : {};
    const where = queues > 1 ? `, ${queues} queues (${active} active)` : '';
    const label = {
      pgqd: 'skytools pgqd + runConsumer process',
      inproc: 'in-process ticker + consumer',
      lambda: 'Lambda ticker → SQS (fauxqs) → drain',
    }[kind];
    return { ...summarize(`ours defaults: ${label}${where}`, rate, commits, seen), ...cost, ...warm };
  } finally {
    for (const s of stops) await s();
  }
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
  const [queue] = await prepareQueues(url, 'lat_pgqd', 1, 1);
  const pool = createPool({ connectionString: url, max: 2 });
  const ac = new AbortController();
  const seen = new Map<string, number>();
  const consumer = runConsumer({
    pool,
    queue: queue!,
    consumer: 'lat',
    loopDelayMs: 1000,
    listen: false,
    signal: ac.signal,
    handler: async (batch) => {
      const now = Date.now();
      for (const ev of batch.events) {
        seen.set(ev.data!, now);
        ev.tagDone();
      }
    },
  });
  await pause(1000);
  const warm = await warmUp(url, [queue!], 20, seen);
  const commits = await produce(url, [queue!], 20, seconds);
  await waitSeen(seen, commits.size, 8000);
  ac.abort();
  await consumer;
  await pool.end();
  pgqd.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  return { ...summarize('original pgqd defaults + 1 s polling', 20, commits, seen), ...warm };
}

/**
 * What the latency figures stand on: a round trip (median) and a (flushed) commit — its median,
 * p99 and slowest: every tick and every batch's finish is such a commit, so the disk's flush tail
 * is in every latency tail.
 */
async function machine(
  url: string,
): Promise<{ rtt: number; commit: number; commitP99: number; commitMax: number }> {
  const c = await connectClient({ connectionString: url });
  const times = async (n: number, sql: string) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await c.query(sql);
      xs.push(performance.now() - t0);
    }
    return xs;
  };
  await c.query('create table if not exists bench_commit (a int)');
  const rtt = await times(200, 'select 1');
  const commits = await times(300, 'insert into bench_commit values (1)');
  await c.query('drop table bench_commit');
  await c.end();
  return {
    rtt: percentile(rtt, 50)!,
    commit: percentile(commits, 50)!,
    commitP99: percentile(commits, 99)!,
    commitMax: Math.max(...commits),
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export interface IdleRow {
  ticker: string;
  queues: number;
  seconds: number;
  tickRows: number;
  /** CPU of the ticker process and of its database backend, % of one core. */
  clientCpu: number;
  serverCpu: number;
}

/**
 * An idle database (no events) with `queues` queues, ticked for `seconds` by `skytools pgqd` at
 * its defaults, then by the original pgqd: tick rows written (only PgQ's idle ticks, which both
 * write alike) and the CPU the ticker and its backend use.
 */
export async function idleCost(url: string, queues: number, seconds: number): Promise<IdleRow[]> {
  await prepareQueues(url, `lmany${queues}`, queues, 0);
  const root = path.resolve(import.meta.dirname, '..');
  const dbname = new URL(url).pathname.slice(1);
  const c = await connectClient({ connectionString: url });
  const rows: IdleRow[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-idle-'));
  try {
    const tickers: Array<[string, () => ChildProcess, string]> = [
      [
        'skytools pgqd (defaults)',
        () => {
          writeFileSync(path.join(dir, 'ours.ini'), `[pgqd]\ndatabase_list = ${dbname}\n`);
          return spawn(
            process.execPath,
            [path.join(root, 'bin/skytools.ts'), 'pgqd', path.join(dir, 'ours.ini')],
            {
              stdio: 'ignore',
              env: { ...process.env, DATABASE_URL: url },
            },
          );
        },
        'skytools pgqd',
      ],
    ];
    if (spawnSync('pgqd', ['-V']).status === 0) {
      tickers.push([
        'original pgqd (defaults)',
        () => {
          writeFileSync(
            path.join(dir, 'c.ini'),
            `[pgqd]\nlogfile = ${dir}/pgqd.log\npidfile = ${dir}/pgqd.pid\nbase_connstr = ${libpq(url).replace(/ dbname=\S+/, '')}\ninitial_database = ${dbname}\ndatabase_list = ${dbname}\n`,
          );
          return spawn('pgqd', [path.join(dir, 'c.ini')], { stdio: 'ignore' });
        },
        'pgqd',
      ]);
    }
    // Idle ticks thin out as the queues age (PgQ's doubling back-off): ours is measured before and
    // after the original, so the original's window lies between ours.
    if (tickers.length > 1) tickers.push([`${tickers[0]![0]}, again`, tickers[0]![1], tickers[0]![2]]);
    for (const [name, start, app] of tickers) {
      const p = start();
      // Started and connected (a Node process takes a while on a busy machine), first passes done.
      let backend: number | undefined;
      for (let i = 0; i < 300 && backend === undefined; i++) {
        await pause(100);
        backend = (
          await c.query<{ pid: number }>(
            'select pid from pg_stat_activity where datname = current_database() and application_name = $1 limit 1',
            [app],
          )
        ).rows[0]?.pid;
      }
      await pause(2000);
      const ticks0 = Number((await c.query('select count(*) as n from pgq.tick')).rows[0].n);
      const cpu0 = { client: cpuSeconds(p.pid!), server: backend ? cpuSeconds(backend) : 0 };
      await pause(seconds * 1000);
      const ticks1 = Number((await c.query('select count(*) as n from pgq.tick')).rows[0].n);
      const cpu1 = { client: cpuSeconds(p.pid!), server: backend ? cpuSeconds(backend) : 0 };
      p.kill('SIGTERM');
      await once(p, 'exit');
      rows.push({
        ticker: name,
        queues,
        seconds,
        tickRows: ticks1 - ticks0,
        clientCpu: ((cpu1.client - cpu0.client) / seconds) * 100,
        serverCpu: backend ? ((cpu1.server - cpu0.server) / seconds) * 100 : Number.NaN,
      });
    }
  } finally {
    await c.end();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export async function benchConsumer(opts: {
  adminUrl: string;
  events: number;
  latencySeconds: number;
  /** Skip the drain (BENCH_DRAIN=0) or pick latency setups (BENCH_LATENCY=pgqd,inproc,lambda,many,nosync,orig,idle). */
  drain?: boolean;
  setups?: string[];
}) {
  const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import pgq']).status === 0);
  if (opts.drain === false) {
    console.log('drain: skipped (BENCH_DRAIN=0)');
  } else if (python) {
    const d = await benchDrain({ adminUrl: opts.adminUrl, events: opts.events, python });
    console.log(`\ndrain of a ${opts.events}-event backlog (one consumer)`);
    console.log(`  ours          ${Math.round(d.oursPerSec).toString().padStart(8)} events/s`);
    console.log(`  python3-pgq   ${Math.round(d.pyPerSec).toString().padStart(8)} events/s`);
    console.log(`  ours ÷ python ${d.ratio.toFixed(2).padStart(8)}× faster`);
  } else {
    console.log('drain: python3-pgq not installed (apt-get install python3-pgq); skipped');
  }
  const want = new Set(opts.setups ?? ['pgqd', 'inproc', 'lambda', 'many', 'nosync', 'orig', 'idle']);
  const url = await freshDb(opts.adminUrl, `bench_latency_${process.pid}`);
  try {
    const c = await connectClient({ connectionString: url });
    await install(c);
    await c.end();
    const s = opts.latencySeconds;
    const m = await machine(url);
    console.log(
      `\nthis machine now: load average ${os.loadavg()[0]!.toFixed(1)}, a round trip (select 1) p50 ${m.rtt.toFixed(2)} ms, a commit p50 ${m.commit.toFixed(2)} ms, p99 ${m.commitP99.toFixed(2)} ms, slowest ${m.commitMax.toFixed(1)} ms`,
    );
    console.log(
      `end-to-end latency, commit → handler, every setting at its default (each row after ${WARMUP_S} s of its traffic: the processes' start)`,
    );
    console.log(
      `  ${'setup'.padEnd(66)} ${'ev/s'.padStart(5)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'samples'.padStart(11)}`,
    );
    const print = (r: LatencyRow) => {
      console.log(
        `  ${r.setup.padEnd(66)} ${String(r.rate).padStart(5)} ${`${r.p50}ms`.padStart(7)} ${`${r.p99}ms`.padStart(7)} ${`${r.samples}/${r.sent}`.padStart(11)}${r.warmP99 === undefined ? '' : `   (warm-up p99 ${r.warmP99}ms)`}`,
      );
      if (r.billedMs !== undefined) {
        console.log(
          `    ${r.invocations} invocations, billed ${r.billedMs} ms, ${(r.billedMs / Math.max(1, r.sent)).toFixed(2)} ms per event`,
        );
      }
    };
    for (const kind of ['pgqd', 'inproc', 'lambda'] as const) {
      if (!want.has(kind)) continue;
      for (const rate of [20, 2000]) {
        progress(`latency: ${kind} at ${rate} events/s`);
        print(await latencyDefaults(url, kind, rate, s));
      }
    }
    if (want.has('many')) {
      // Right after creating the queues (what a user sees first: their idle ticks fall due
      // together), then again once they are a few minutes old (the steady state).
      const created = Date.now();
      for (const rate of [20, 2000]) {
        progress(`latency: 1000 queues, ${rate} events/s`);
        print(await latencyDefaults(url, 'pgqd', rate, s, 1000, 10));
      }
      await pause(Math.max(0, created + STEADY_AFTER_MS - Date.now()));
      for (const rate of [20, 2000]) {
        progress(`latency: 1000 queues, ${rate} events/s, steady`);
        const row = await latencyDefaults(url, 'pgqd', rate, s, 1000, 10);
        print({ ...row, setup: `${row.setup}, steady` });
      }
    }
    if (want.has('nosync')) {
      // The same 1,000 queues with commits that do not wait for the disk's flush: how much of
      // their tail is the disk's (ten active queues make three commits per producer transaction:
      // it, the tick, the batch's finish; one busy queue batches them).
      const dbName = new URL(url).pathname.slice(1);
      const admin = await connectClient({ connectionString: opts.adminUrl });
      await admin.query(`alter database ${quoteIdent(dbName)} set synchronous_commit = off`);
      try {
        for (const rate of [20, 2000]) {
          progress(`latency: 1000 queues, ${rate} events/s, synchronous_commit off`);
          const row = await latencyDefaults(url, 'pgqd', rate, s, 1000, 10);
          print({ ...row, setup: `${row.setup}, commits not flushed` });
        }
      } finally {
        await admin.query(`alter database ${quoteIdent(dbName)} reset synchronous_commit`);
        await admin.end();
      }
    }
    if (want.has('orig') && spawnSync('pgqd', ['-V']).status === 0) print(await latencyPgqd(url, s));
    process.stderr.write('\n');
    if (want.has('idle')) {
      const seconds = Math.max(10, s);
      const idle = await idleCost(url, 1000, seconds);
      console.log(`\nidle database, 1000 queues, ${seconds} s: tick rows written, CPU (% of one core)`);
      for (const r of idle) {
        console.log(
          `  ${r.ticker.padEnd(28)} ${String(r.tickRows).padStart(6)} rows  ticker ${r.clientCpu.toFixed(1).padStart(5)} %  backend ${r.serverCpu.toFixed(1).padStart(5)} %`,
        );
      }
    }
  } finally {
    await stopEmulator();
    await dropDb(opts.adminUrl, `bench_latency_${process.pid}`);
  }
}
