// The batch cycle under a held xmin (issue 16, item 4): one session runs insert_event →
// pgq.ticker() → next_batch → get_batch_events → finish_batch, rounds of N cycles, while a second
// session holds `begin isolation level repeatable read; select 1;` open, so no row version
// written during the run can be pruned. Ours and the C extension on the same server, cycles
// interleaved so both see the same load; the same again without the held xmin. After the
// rounds: dead versions per pgq table and the buffers one next_batch / finish_batch touched at
// the end of each round (they grow with the dead versions a lookup has to walk). Per statement
// of the cycle, wall clock and the backend's CPU time (when the server runs on this host): on a
// machine shared with other work the wall clock moves with the load, the CPU time much less.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type pg from 'pg';
import { createBenchDbs } from './pgq.ts';

export const CYCLE_STEPS = [
  'insert_event',
  'ticker',
  'next_batch',
  'get_batch_events',
  'finish_batch',
] as const;
type Step = (typeof CYCLE_STEPS)[number];

export interface XminSide {
  seconds: number[];
  /** over all rounds, µs per call: wall clock and backend CPU (null: server not on this host) */
  stepWallUs: Record<Step, number>;
  stepCpuUs: Record<Step, number> | null;
  /** shared buffers hit by one next_batch / finish_batch after each round */
  nextBatchBuffers: number[];
  finishBatchBuffers: number[];
  deadTuples: Record<string, number>;
}

export interface XminResult {
  heldXmin: boolean;
  /** 1-minute load average at the start of each round and at the end */
  load: number[];
  /** median round trip of `select 1` on our database before the rounds, µs */
  rttUs: number;
  cycles: number;
  ours: XminSide;
  c: XminSide;
}

async function prepare(cl: pg.Client) {
  await cl.query('set synchronous_commit = off');
  await cl.query("select pgq.create_queue('xq')");
  // Every new event makes a tick due, so each cycle's pgq.ticker() ticks (C and ours decide alike).
  await cl.query("select pgq.set_queue_config('xq', 'ticker_max_count', '1')");
  await cl.query("select pgq.register_consumer('xq', 'xc')");
}

/** CPU time a backend has used, in ns, from /proc/<pid>/schedstat (Linux, server on this host). */
function backendCpuNs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

interface Meter {
  pid: number | null;
  wallNs: Record<Step, number>;
  cpuNs: Record<Step, number> | null;
}

async function meterOf(cl: pg.Client): Promise<Meter> {
  const pid = Number((await cl.query('select pg_backend_pid() as p')).rows[0].p);
  const zero = () => Object.fromEntries(CYCLE_STEPS.map((k) => [k, 0])) as Record<Step, number>;
  const readable = backendCpuNs(pid) !== null;
  return { pid: readable ? pid : null, wallNs: zero(), cpuNs: readable ? zero() : null };
}

async function step<R extends pg.QueryResultRow>(
  cl: pg.Client,
  m: Meter,
  k: Step,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const c0 = backendCpuNs(m.pid);
  const t0 = process.hrtime.bigint();
  const r = await cl.query<R>(sql, params);
  m.wallNs[k] += Number(process.hrtime.bigint() - t0);
  if (m.cpuNs) m.cpuNs[k] += (backendCpuNs(m.pid) ?? 0) - (c0 ?? 0);
  return r;
}

async function cycle(cl: pg.Client, m: Meter): Promise<void> {
  await step(cl, m, 'insert_event', "select pgq.insert_event('xq', 't', 'payload')");
  await step(cl, m, 'ticker', 'select pgq.ticker()');
  const b = await step<{ id: string | null }>(cl, m, 'next_batch', "select pgq.next_batch('xq', 'xc') as id");
  const id = b.rows[0]!.id;
  if (id === null) throw new Error('no batch after a tick: the cycle is not measuring what it should');
  await step(cl, m, 'get_batch_events', 'select count(*) from pgq.get_batch_events($1)', [id]);
  await step(cl, m, 'finish_batch', 'select pgq.finish_batch($1)', [id]);
}

type PlanJson = [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }];
async function buffersOf(cl: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  const r = await cl.query<{ 'QUERY PLAN': PlanJson }>(
    `explain (analyze, buffers, format json) ${sql}`,
    params,
  );
  const p = r.rows[0]!['QUERY PLAN'][0].Plan;
  return p['Shared Hit Blocks'] + p['Shared Read Blocks'];
}

/** One cycle with next_batch and finish_batch run under EXPLAIN: the buffers each touched. */
async function measuredCycle(cl: pg.Client): Promise<{ next: number; finish: number }> {
  await cl.query("select pgq.insert_event('xq', 't', 'payload')");
  await cl.query('select pgq.ticker()');
  const next = await buffersOf(cl, "select pgq.next_batch('xq', 'xc')");
  const id = (await cl.query<{ id: string }>("select pgq.next_batch('xq', 'xc') as id")).rows[0]!.id;
  await cl.query('select count(*) from pgq.get_batch_events($1)', [id]);
  const finish = await buffersOf(cl, 'select pgq.finish_batch($1)', [id]);
  return { next, finish };
}

async function deadTuples(cl: pg.Client): Promise<Record<string, number>> {
  await cl.query('select pg_stat_force_next_flush()');
  await cl.query('select 1');
  const r = await cl.query<{ relname: string; n: string }>(
    `select relname, n_dead_tup as n from pg_stat_user_tables
      where schemaname = 'pgq' and n_dead_tup > 0 order by relname`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.relname, Number(x.n)]));
}

export async function benchXmin(opts: {
  adminUrl: string;
  cycles: number;
  rounds: number;
  heldXmin: boolean;
  onRound?: (side: 'ours' | 'C', round: number, seconds: number) => void;
}): Promise<XminResult> {
  const dbs = await createBenchDbs(opts.adminUrl, opts.heldXmin ? 'xmin' : 'noxmin');
  const pg = (await import('pg')).default;
  const holders: pg.Client[] = [];
  try {
    const sides = { ours: dbs.ours, c: dbs.c };
    for (const cl of Object.values(sides)) await prepare(cl);
    if (opts.heldXmin) {
      for (const url of [dbs.urls.ours, dbs.urls.c]) {
        const h = new pg.Client({ connectionString: url });
        await h.connect();
        await h.query('begin isolation level repeatable read');
        await h.query('select 1');
        holders.push(h);
      }
    }
    const meters = { ours: await meterOf(dbs.ours), c: await meterOf(dbs.c) };
    const empty = (): XminSide => ({
      seconds: [],
      stepWallUs: {} as Record<Step, number>,
      stepCpuUs: null,
      nextBatchBuffers: [],
      finishBatchBuffers: [],
      deadTuples: {},
    });
    const rtts: number[] = [];
    for (let i = 0; i < 51; i++) {
      const t0 = process.hrtime.bigint();
      await dbs.ours.query('select 1');
      rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    rtts.sort((a, b) => a - b);
    const res: XminResult = {
      heldXmin: opts.heldXmin,
      load: [],
      rttUs: rtts[25]!,
      cycles: opts.cycles,
      ours: empty(),
      c: empty(),
    };
    for (let round = 1; round <= opts.rounds; round++) {
      // Cycle by cycle, C then ours: the machine's load changes by the second, and both sides
      // must see the same.
      res.load.push(loadavg()[0]!);
      const ns = { c: 0n, ours: 0n };
      for (let i = 0; i < opts.cycles; i++) {
        for (const side of ['c', 'ours'] as const) {
          const t0 = process.hrtime.bigint();
          await cycle(sides[side], meters[side]);
          ns[side] += process.hrtime.bigint() - t0;
        }
      }
      for (const side of ['c', 'ours'] as const) {
        const s = Number(ns[side]) / 1e9;
        res[side].seconds.push(s);
        opts.onRound?.(side === 'c' ? 'C' : 'ours', round, s);
        const b = await measuredCycle(sides[side]);
        res[side].nextBatchBuffers.push(b.next);
        res[side].finishBatchBuffers.push(b.finish);
      }
    }
    res.load.push(loadavg()[0]!);
    const total = opts.cycles * opts.rounds;
    for (const side of ['c', 'ours'] as const) {
      const m = meters[side];
      const per = (ns: Record<Step, number>) =>
        Object.fromEntries(CYCLE_STEPS.map((k) => [k, ns[k] / total / 1000])) as Record<Step, number>;
      res[side].stepWallUs = per(m.wallNs);
      res[side].stepCpuUs = m.cpuNs ? per(m.cpuNs) : null;
    }
    res.ours.deadTuples = await deadTuples(dbs.ours);
    res.c.deadTuples = await deadTuples(dbs.c);
    return res;
  } finally {
    for (const h of holders) await h.end();
    await dbs.cleanup();
  }
}

export function printXmin(r: XminResult) {
  const title = r.heldXmin ? 'with a held xmin (REPEATABLE READ open)' : 'without a held xmin';
  console.log(`\nbatch cycle ${title}: ${r.cycles} cycles per round, seconds`);
  console.log(
    `load average (1 min) per round: ${r.load.map((x) => x.toFixed(1)).join(' → ')}; round trip (select 1) ${r.rttUs.toFixed(0)} µs`,
  );
  const rounds = r.ours.seconds.length;
  const head = Array.from({ length: rounds }, (_, i) => `r${i + 1}`.padStart(7)).join('');
  console.log(
    `${'side'.padEnd(6)}${head} ${`r${rounds}÷r1`.padStart(7)}   buffers next_batch / finish_batch per round`,
  );
  for (const [name, s] of [
    ['C', r.c],
    ['ours', r.ours],
  ] as const) {
    const secs = s.seconds.map((x) => x.toFixed(2).padStart(7)).join('');
    const growth = (s.seconds[s.seconds.length - 1]! / s.seconds[0]!).toFixed(2).padStart(7);
    const bufs = s.nextBatchBuffers.map((n, i) => `${n}/${s.finishBatchBuffers[i]}`).join(' ');
    console.log(`${name.padEnd(6)}${secs} ${growth}   ${bufs}`);
  }
  const ratios = r.ours.seconds.map((x, i) => (x / r.c.seconds[i]!).toFixed(2)).join(' ');
  console.log(`ours÷C per round: ${ratios}`);
  const cpu = r.ours.stepCpuUs && r.c.stepCpuUs ? { ours: r.ours.stepCpuUs, c: r.c.stepCpuUs } : null;
  console.log(
    `per statement, µs per call: ${'wall ours'.padStart(10)} ${'C'.padStart(8)} ${'÷'.padStart(6)}` +
      (cpu ? `   backend CPU ${'ours'.padStart(8)} ${'C'.padStart(8)} ${'÷'.padStart(6)}` : ''),
  );
  const sum = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
  for (const k of [...CYCLE_STEPS, 'cycle'] as const) {
    const w =
      k === 'cycle'
        ? [sum(r.ours.stepWallUs), sum(r.c.stepWallUs)]
        : [r.ours.stepWallUs[k], r.c.stepWallUs[k]];
    const c = cpu ? (k === 'cycle' ? [sum(cpu.ours), sum(cpu.c)] : [cpu.ours[k], cpu.c[k]]) : null;
    console.log(
      `  ${k.padEnd(24)} ${w[0]!.toFixed(0).padStart(10)} ${w[1]!.toFixed(0).padStart(8)} ${(w[0]! / w[1]!).toFixed(2).padStart(6)}` +
        (c
          ? `               ${c[0]!.toFixed(0).padStart(8)} ${c[1]!.toFixed(0).padStart(8)} ${(c[0]! / c[1]!).toFixed(2).padStart(6)}`
          : ''),
    );
  }
  console.log(`dead row versions after the rounds: C ${JSON.stringify(r.c.deadTuples)}`);
  console.log(`                                 ours ${JSON.stringify(r.ours.deadTuples)}`);
}
