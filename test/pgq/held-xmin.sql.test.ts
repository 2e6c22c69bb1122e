// The batch cycle under a held xmin (issue 16, item 4): while a REPEATABLE READ transaction
// stays open, no row version written meanwhile can be pruned. The cycle's statements must not
// walk those versions: the buffers each one touches stay bounded as cycles accumulate. Counted
// with EXPLAIN (ANALYZE, BUFFERS), which includes what the function's own statements touched.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();

type Plan = [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }];

async function buffers(c: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  const r = await c.query<{ 'QUERY PLAN': Plan }>(`explain (analyze, buffers, format json) ${sql}`, params);
  const p = r.rows[0]!['QUERY PLAN'][0].Plan;
  return p['Shared Hit Blocks'] + p['Shared Read Blocks'];
}

describe('the batch cycle under a held xmin', () => {
  let c: pg.Client;
  let holder: pg.Client;
  beforeAll(async () => {
    c = await db.connect();
    holder = await db.connect();
    await c.query('set synchronous_commit = off');
    await c.query("select pgq.create_queue('hx')");
    await c.query("select pgq.set_queue_config('hx', 'ticker_max_count', '1')");
    await c.query("select pgq.register_consumer('hx', 'hc')");
    await holder.query('begin isolation level repeatable read');
    await holder.query('select 1');
  });
  afterAll(async () => {
    await holder.query('rollback');
  });

  it('does not walk dead versions: buffers per statement stay bounded over 2,000 cycles', async () => {
    /** Buffers of next_batch, get_batch_events, finish_batch in one cycle (all under EXPLAIN). */
    const measured = async () => {
      await c.query("select pgq.insert_event('hx', 't', 'x')");
      await c.query('select pgq.ticker()');
      const next = await buffers(c, "select pgq.next_batch('hx', 'hc')");
      const id = (await c.query<{ id: string }>("select pgq.next_batch('hx', 'hc') as id")).rows[0]!.id;
      const events = await buffers(c, 'select count(*) from pgq.get_batch_events($1)', [id]);
      const finish = await buffers(c, 'select pgq.finish_batch($1)', [id]);
      return { next, events, finish };
    };
    const samples: { cycles: number; next: number; events: number; finish: number }[] = [];
    let cycles = 0;
    for (const upTo of [250, 1000, 2000]) {
      for (; cycles < upTo; cycles++) {
        await c.query("select pgq.insert_event('hx', 't', 'x')");
        await c.query('select pgq.ticker()');
        const id = (await c.query<{ id: string | null }>("select pgq.next_batch('hx', 'hc') as id")).rows[0]!
          .id;
        expect(id).not.toBeNull();
        await c.query('select count(*) from pgq.get_batch_events($1)', [id]);
        await c.query('select pgq.finish_batch($1)', [id]);
      }
      samples.push({ cycles, ...(await measured()) });
    }
    // The held snapshot really kept the versions: thousands of dead state rows exist.
    await c.query('select pg_stat_force_next_flush()');
    await c.query('select 1');
    const dead = await db.one<{ n: string }>(
      "select sum(n_dead_tup) as n from pg_stat_user_tables where schemaname = 'pgq' and relname like 'subscription%'",
    );
    expect(Number(dead.n)).toBeGreaterThan(2 * 1000);
    // Walking the dead versions adds about two buffers per cycle (the code before the view:
    // next_batch 528 → 4,107 buffers from 250 to 2,000 cycles). The bound allows an eighth of
    // that: the slow growth still seen (≈ 0.03–0.09 buffers per cycle in next_batch and
    // get_batch_events, e.g. 27 → 178 in a loaded CI run; flat when autovacuum ran meanwhile) is
    // not yet explained, and must not be mistaken for the walk this test is about.
    const [first, , last] = samples;
    const allowed = 0.25 * (last!.cycles - first!.cycles);
    for (const k of ['next', 'events', 'finish'] as const) {
      expect(last![k], `${k}: ${JSON.stringify(samples)}`).toBeLessThanOrEqual(first![k] + allowed);
    }
  }, 300_000);
});
