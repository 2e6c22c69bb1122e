// Ticker and maintenance functions: when a tick is due, external ticks, maintenance steps.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();

const lastTick = async (q: string) =>
  (await db.one('select last_tick_id as t from pgq.get_queue_info($1)', [q])).t as bigint;

describe('pgq.ticker(queue)', () => {
  it('does not tick without events until the idle back-off allows it', async () => {
    await db.query("select pgq.create_queue('idle')");
    await db.query("select pgq.set_queue_config('idle', 'ticker_max_lag', '1 hour')");
    // With a single tick there is no previous idle gap to double, so the second tick is free.
    expect((await db.one("select pgq.ticker('idle') as t")).t).not.toBeNull();
    expect((await db.one("select pgq.ticker('idle') as t")).t).toBeNull();
  });

  it('ticks once ticker_max_count events are waiting', async () => {
    await db.query("select pgq.create_queue('cnt')");
    await db.query("select pgq.set_queue_config('cnt', 'ticker_max_count', '3')");
    await db.query("select pgq.set_queue_config('cnt', 'ticker_max_lag', '1 hour')");
    await db.query("select pgq.insert_event('cnt', 'T', 'x') from generate_series(1, 2)");
    expect((await db.one("select pgq.ticker('cnt') as t")).t).toBeNull();
    await db.query("select pgq.insert_event('cnt', 'T', 'x') from generate_series(1, 2)");
    const t = (await db.one("select pgq.ticker('cnt') as t")).t;
    expect(t).toBe(await lastTick('cnt'));
    expect(t).not.toBeNull();
  });

  it('ticks after ticker_max_lag when any event is waiting', async () => {
    await db.query("select pgq.create_queue('lag')");
    await db.query("select pgq.set_queue_config('lag', 'ticker_max_lag', '0.2 seconds')");
    await db.query("select pgq.insert_event('lag', 'T', 'x')");
    await new Promise((r) => setTimeout(r, 250));
    expect((await db.one("select pgq.ticker('lag') as t")).t).not.toBeNull();
  });

  it('pgq.ticker() ticks all due queues and skips paused and external ones', async () => {
    await db.query(
      "select pgq.create_queue('all_a'), pgq.create_queue('all_paused'), pgq.create_queue('all_ext')",
    );
    await db.query("select pgq.set_queue_config('all_paused', 'ticker_paused', 'true')");
    await db.query("select pgq.set_queue_config('all_ext', 'external_ticker', 'true')");
    for (const q of ['all_a', 'all_paused', 'all_ext']) await db.query('select pgq.force_tick($1)', [q]);
    const before = { p: await lastTick('all_paused'), e: await lastTick('all_ext') };
    const n = (await db.one('select pgq.ticker() as n')).n;
    expect(n).toBeGreaterThanOrEqual(1n);
    expect(await lastTick('all_paused')).toBe(before.p);
    expect(await lastTick('all_ext')).toBe(before.e);
    expect((await pgError(db.query("select pgq.ticker('all_paused')"))).message).toBe(
      'Ticker has been paused for this queue',
    );
    expect((await pgError(db.query("select pgq.ticker('all_ext')"))).message).toBe(
      'This queue has external tick source.',
    );
    expect((await pgError(db.query("select pgq.ticker('nope')"))).message).toBe('no such queue');
  });

  it('the external form records the given tick and moves the sequences forward', async () => {
    const r = await db.one("select pgq.ticker('all_ext', 100, '2020-01-01 00:00:00+00', 5000) as t");
    expect(r.t).toBe(100n);
    const t = await db.one(
      "select tick_time, tick_event_seq from pgq.tick join pgq.queue on tick_queue = queue_id where queue_name = 'all_ext' and tick_id = 100",
    );
    expect(t.tick_event_seq).toBe(5000n);
    const seqs = await db.one(
      "select pgq.seq_getval(queue_tick_seq) as ts, pgq.seq_getval(queue_event_seq) as es from pgq.queue where queue_name = 'all_ext'",
    );
    expect(seqs).toEqual({ ts: 100n, es: 5000n });
    expect((await pgError(db.query("select pgq.ticker('all_a', 100, now(), 1)"))).message).toBe(
      'queue not found or ticker disabled: all_a',
    );
  });

  it('two concurrent tickers never create two ticks for one moment', async () => {
    await db.query("select pgq.create_queue('race')");
    const [a, b] = [await db.connect(), await db.connect()];
    for (let i = 0; i < 20; i++) {
      await db.query("select pgq.insert_event('race', 'T', 'x'), pgq.force_tick('race')");
      const res = await Promise.allSettled([
        a.query("select pgq.ticker('race')"),
        b.query("select pgq.ticker('race')"),
      ]);
      expect(res.some((r) => r.status === 'fulfilled')).toBe(true);
    }
    const dup = await db.one(
      "select count(*)::int as n from (select tick_snapshot::text from pgq.tick join pgq.queue on tick_queue = queue_id where queue_name = 'race' group by 1 having count(*) > 1) d",
    );
    expect(dup.n).toBe(0);
  });
});

describe('maintenance', () => {
  it('maint_operations lists rotation steps for due queues', async () => {
    await db.query("select pgq.create_queue('maint')");
    await db.query("update pgq.queue set queue_rotation_period = '0' where queue_name = 'maint'");
    const ops = (await db.query('select * from pgq.maint_operations()')).rows;
    expect(ops).toContainEqual({ func_name: 'pgq.maint_rotate_tables_step1', func_arg: 'maint' });
    expect(ops).toContainEqual({ func_name: 'pgq.maint_rotate_tables_step2', func_arg: null });
  });

  it('rotation step1 then step2 switches the current table and truncates the new one', async () => {
    await db.query("select pgq.insert_event('maint', 'T', 'x')");
    const before = await db.one("select queue_cur_table as t from pgq.queue where queue_name = 'maint'");
    await db.query("select pgq.maint_rotate_tables_step1('maint')");
    const mid = await db.one(
      "select queue_cur_table as t, queue_switch_step2 as s2 from pgq.queue where queue_name = 'maint'",
    );
    expect(mid.t).toBe((before.t + 1) % 3);
    expect(mid.s2).toBeNull();
    // Until step2 runs, a second step1 does nothing.
    await db.query("select pgq.maint_rotate_tables_step1('maint')");
    expect((await db.one("select queue_cur_table as t from pgq.queue where queue_name = 'maint'")).t).toBe(
      mid.t,
    );
    await db.query('select pgq.maint_rotate_tables_step2()');
    expect(
      (await db.one("select queue_switch_step2 as s2 from pgq.queue where queue_name = 'maint'")).s2,
    ).not.toBeNull();
  });

  it('rotation skips a table locked by someone else instead of waiting', async () => {
    const q = await db.one("select queue_id, queue_cur_table from pgq.queue where queue_name = 'maint'");
    const next = `pgq.event_${q.queue_id}_${(q.queue_cur_table + 1) % 3}`;
    const locker = await db.connect();
    await locker.query('begin');
    await locker.query(`lock table ${next} in access share mode`);
    await db.query("select pgq.maint_rotate_tables_step1('maint')");
    expect((await db.one("select queue_cur_table as t from pgq.queue where queue_name = 'maint'")).t).toBe(
      q.queue_cur_table,
    );
    await locker.query('rollback');
  });

  it('maint_tables_to_vacuum is empty while autovacuum is on', async () => {
    const av = (await db.one("select current_setting('autovacuum') as v")).v;
    const rows = (await db.query('select * from pgq.maint_tables_to_vacuum() t')).rows;
    if (av === 'on') expect(rows).toEqual([]);
    else expect(rows.map((r) => r.t)).toContain('pgq.tick');
  });

  it('queue_extra_maint functions are listed with the queue name', async () => {
    await db.query(
      "update pgq.queue set queue_extra_maint = array['public.my_maint'] where queue_name = 'maint'",
    );
    const ops = (await db.query('select * from pgq.maint_operations()')).rows;
    expect(ops).toContainEqual({ func_name: 'public.my_maint', func_arg: 'maint' });
  });
});

describe('info functions', () => {
  it('get_consumer_info reports lag and pending events', async () => {
    await db.query("select pgq.create_queue('info')");
    await db.query("select pgq.register_consumer('info', 'ic')");
    await db.query("select pgq.insert_event('info', 'T', 'x') from generate_series(1, 5)");
    await db.query("select pgq.force_tick('info'), pgq.ticker('info')");
    const ci = await db.one("select * from pgq.get_consumer_info('info', 'ic')");
    expect(ci.queue_name).toBe('info');
    expect(ci.consumer_name).toBe('ic');
    expect(ci.pending_events).toBeGreaterThanOrEqual(5n);
    expect(ci.current_batch).toBeNull();
    const all = (await db.query('select * from pgq.get_consumer_info()')).rows;
    expect(all.some((r) => r.consumer_name === 'ic')).toBe(true);
    const byQueue = (await db.query("select * from pgq.get_consumer_info('info')")).rows;
    expect(byQueue).toHaveLength(1);
  });

  it('get_queue_info reports ticks and new events', async () => {
    await db.query("select pgq.insert_event('info', 'T', 'y')");
    const qi = await db.one("select * from pgq.get_queue_info('info')");
    expect(qi.ev_new).toBe(1n);
    expect(qi.last_tick_id).toBeGreaterThan(1n);
    expect(qi.queue_ntables).toBe(3);
  });
});
