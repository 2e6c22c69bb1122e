// The batch cycle under a held xmin (issue 16, item 4): one session runs insert_event →
// pgq.ticker() → next_batch → get_batch_events → finish_batch, rounds of N cycles, while a second
// session holds `begin isolation level repeatable read; select 1;` open, so no row version
// written during the run can be pruned. Ours and the C extension on the same server, cycles
// interleaved so both see the same load; the same again without the held xmin. After the
// rounds: dead versions per pgq table and the buffers one next_batch / finish_batch touched at
// the end of each round (they grow with the dead versions a lookup has to walk).
import type pg from 'pg';
import { createBenchDbs } from './pgq.ts';

export interface XminSide {
  seconds: number[];
  /** shared buffers hit by one next_batch / finish_batch after each round */
  nextBatchBuffers: number[];
  finishBatchBuffers: number[];
  deadTuples: Record<string, number>;
}

export interface XminResult {
  heldXmin: boolean;
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

async function cycle(cl: pg.Client): Promise<void> {
  await cl.query("select pgq.insert_event('xq', 't', 'payload')");
  await cl.query('select pgq.ticker()');
  const b = await cl.query<{ id: string | null }>("select pgq.next_batch('xq', 'xc') as id");
  const id = b.rows[0]!.id;
  if (id === null) throw new Error('no batch after a tick: the cycle is not measuring what it should');
  await cl.query('select count(*) from pgq.get_batch_events($1)', [id]);
  await cl.query('select pgq.finish_batch($1)', [id]);
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
    const empty = (): XminSide => ({
      seconds: [],
      nextBatchBuffers: [],
      finishBatchBuffers: [],
      deadTuples: {},
    });
    const res: XminResult = { heldXmin: opts.heldXmin, cycles: opts.cycles, ours: empty(), c: empty() };
    for (let round = 1; round <= opts.rounds; round++) {
      // Cycle by cycle, C then ours: the machine's load changes by the second, and both sides
      // must see the same.
      const ns = { c: 0n, ours: 0n };
      for (let i = 0; i < opts.cycles; i++) {
        for (const side of ['c', 'ours'] as const) {
          const t0 = process.hrtime.bigint();
          await cycle(sides[side]);
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
  console.log(`dead row versions after the rounds: C ${JSON.stringify(r.c.deadTuples)}`);
  console.log(`                                 ours ${JSON.stringify(r.ours.deadTuples)}`);
}
