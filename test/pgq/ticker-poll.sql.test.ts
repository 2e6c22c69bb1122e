// pgq.ticker_poll (our ticker's pass) and the set-based pgq.ticker(): a queue that does not batch
// is ticked as soon as its events commit and a consumer waits, with a NOTIFY per tick; a queue
// whose ticker_max_lag / ticker_max_count was set batches as PgQ does; a pass with nothing due
// writes nothing.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { tickChannel } from '../../layers/pgq/tick-notify.ts';
import { useTestDatabase } from '../support/db.ts';
import { drain } from '../support/pgq.ts';

const db = useTestDatabase();

const lastTick = async (q: string) =>
  (await db.one('select last_tick_id as t from pgq.get_queue_info($1)', [q])).t as bigint;
const poll = async (queues: string[] | null) =>
  (await db.query('select queue_name, tick_id, new_events from pgq.ticker_poll($1::text[], null)', [queues]))
    .rows;

/** A default queue whose consumer has read everything so far, i.e. waits for the next tick. */
async function waitingQueue(q: string) {
  await db.query('select pgq.create_queue($1)', [q]);
  await db.query('select pgq.register_consumer($1, $2)', [q, 'c']);
  // A queue's second tick is due at once (PgQ: no idle gap to double yet); read past it.
  await db.query('select pgq.ticker($1)', [q]);
  await drain(db, q, 'c');
}

describe('pgq.ticker_poll', () => {
  it('says whether a consumer waited for each tick: yes when it had read every tick, no when it is behind', async () => {
    await waitingQueue('lp_w');
    const ticks = async () =>
      (await db.query("select waited from pgq.ticker_poll(array['lp_w'], null)")).rows.map((r) => r.waited);
    await db.query("select pgq.insert_event('lp_w', 'T', 'one')");
    expect(await ticks()).toEqual([true]);
    // The consumer has not read that tick: the ticks made by PgQ's rules now are not waited for.
    await db.query("select pgq.set_queue_config('lp_w', 'ticker_max_count', '1')");
    await db.query("select pgq.insert_event('lp_w', 'T', 'two')");
    expect(await ticks()).toEqual([false]);
    expect(await drain(db, 'lp_w', 'c')).toEqual(['one', 'two']);
    await db.query("select pgq.insert_event('lp_w', 'T', 'three')");
    expect(await ticks()).toEqual([true]);
  });

  it('ticks a default queue once its event commits, and announces the tick on the queue channel', async () => {
    await waitingQueue('lp_a');
    const listener = await db.connect();
    const got: pg.Notification[] = [];
    listener.on('notification', (n) => got.push(n));
    await listener.query(`listen "${tickChannel('lp_a')}"`);
    expect(await poll(['lp_a'])).toEqual([]);

    const producer = await db.connect();
    await producer.query('begin');
    await producer.query("select pgq.insert_event('lp_a', 'T', 'one')");
    // Not committed yet: nothing to tick for.
    expect(await poll(['lp_a'])).toEqual([]);
    await producer.query('commit');
    const [t] = await poll(['lp_a']);
    expect(t).toMatchObject({ queue_name: 'lp_a' });
    expect(t.tick_id).toBe(await lastTick('lp_a'));
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got.map((n) => [n.channel, n.payload])).toEqual([['pgq.lp_a', String(t.tick_id)]]);
    expect(await drain(db, 'lp_a', 'c')).toEqual(['one']);
    await listener.query('unlisten *');
  });

  it('ticks for an event whose transaction was still open at the last tick', async () => {
    await waitingQueue('lp_late');
    const producer = await db.connect();
    await producer.query('begin');
    await producer.query("select pgq.insert_event('lp_late', 'T', 'late')");
    await db.query("select pgq.insert_event('lp_late', 'T', 'early')");
    expect(await poll(['lp_late'])).toHaveLength(1); // 'early' only
    expect(await drain(db, 'lp_late', 'c')).toEqual(['early']);
    await producer.query('commit');
    // The event sequence did not move since that tick, but the late event is committed now.
    expect(await poll(['lp_late'])).toHaveLength(1);
    expect(await drain(db, 'lp_late', 'c')).toEqual(['late']);
  });

  it('an event still open at a tick by PgQ’s rules is ticked once it commits', async () => {
    await waitingQueue('lp_rule');
    const producer = await db.connect();
    await producer.query('begin');
    await producer.query("select pgq.insert_event('lp_rule', 'T', 'open')");
    // Due by PgQ's rules (ticker_max_count reached) while the event is in progress.
    await db.query("select pgq.force_tick('lp_rule')");
    expect(await poll(['lp_rule'])).toHaveLength(1);
    await producer.query('commit');
    expect(await drain(db, 'lp_rule', 'c')).toEqual([]);
    // Its id was taken before that tick, yet it counts as a new event: the ticker keeps polling
    // queues whose ticks had new events often (it did not, and waited for the next event).
    expect(await poll(['lp_rule'])).toMatchObject([{ queue_name: 'lp_rule', new_events: 1n }]);
    expect(await drain(db, 'lp_rule', 'c')).toEqual(['open']);
  });

  it('finds committed events by index look-ups, not by reading the event table since its rotation', async () => {
    // The events of a busy queue stay in its table until the next rotation (hours): the check a
    // latency poll makes must not grow with them. It once was an EXISTS planned as a
    // sequential scan that stopped at the first new row — the last ones in the table.
    await waitingQueue('lp_big');
    await db.query("select pgq.insert_event('lp_big', 'T', i::text) from generate_series(1, 5000) i");
    expect(await poll(['lp_big'])).toHaveLength(1);
    expect(await drain(db, 'lp_big', 'c')).toHaveLength(5000);
    // The child table holding them (the others are empty: a scan of those reads nothing). No
    // ANALYZE: an insert-only table's statistics are always behind its newest rows.
    const { t } = await db.one(
      "select format('event_%s_%s', queue_id, queue_cur_table) as t from pgq.queue where queue_name = 'lp_big'",
    );
    const c = await db.connect();
    const producer = await db.connect();
    const scans = async () =>
      (
        await c.query(
          `select coalesce(sum(seq_scan), 0)::int as seq, coalesce(sum(idx_scan), 0)::int as idx
             from pg_catalog.pg_stat_xact_user_tables where schemaname = 'pgq' and relname = $1`,
          [t],
        )
      ).rows[0];
    // The backend's counters include earlier transactions' not yet reported: the poll's own
    // scans are the difference across it.
    const pollScans = async (what: string, ticks: number) => {
      await c.query('begin');
      const before = await scans();
      const rows = (await c.query("select tick_id from pgq.ticker_poll(array['lp_big'], null)")).rows;
      expect(rows, what).toHaveLength(ticks);
      const after = await scans();
      expect(after.seq - before.seq, what).toBe(0);
      expect(after.idx - before.idx, what).toBeGreaterThan(0);
      await c.query('commit');
    };
    // A transaction open at the next tick (in its snapshot's xip), then committed; then a new one.
    await producer.query('begin');
    await producer.query("select pgq.insert_event('lp_big', 'T', 'late')");
    await db.query("select pgq.insert_event('lp_big', 'T', 'early')");
    expect(await poll(['lp_big'])).toHaveLength(1);
    expect(await drain(db, 'lp_big', 'c')).toEqual(['early']);
    await pollScans('still open', 0);
    await producer.query('commit');
    await pollScans('committed since', 1);
    expect(await drain(db, 'lp_big', 'c')).toEqual(['late']);
    await db.query("select pgq.insert_event('lp_big', 'T', 'new')");
    await pollScans('a new transaction', 1);
    expect(await drain(db, 'lp_big', 'c')).toEqual(['new']);
  });

  it('while the consumer is busy, events wait for it and its next batch takes them all', async () => {
    await waitingQueue('lp_busy');
    await db.query("select pgq.insert_event('lp_busy', 'T', '1')");
    expect(await poll(['lp_busy'])).toHaveLength(1);
    const b = (await db.one("select pgq.next_batch('lp_busy', 'c') as b")).b;
    for (const v of ['2', '3', '4']) {
      await db.query("select pgq.insert_event('lp_busy', 'T', $1)", [v]);
      expect(await poll(['lp_busy'])).toEqual([]);
    }
    await db.query('select pgq.finish_batch($1)', [b]);
    const [t] = await poll(['lp_busy']);
    expect(t.new_events).toBe(3n);
    expect(await drain(db, 'lp_busy', 'c')).toEqual(['2', '3', '4']);
  });

  it.each([
    ['ticker_max_lag', '1 hour'],
    ['ticker_max_count', '1000'],
  ])('a queue with %s set batches as configured', async (key, value) => {
    const q = `lp_set_${key}`;
    await waitingQueue(q);
    await db.query('select pgq.set_queue_config($1, $2, $3)', [q, key, value]);
    if (key === 'ticker_max_count')
      await db.query("select pgq.set_queue_config($1, 'ticker_max_lag', '1 hour')", [q]);
    await db.query("select pgq.insert_event($1, 'T', 'x')", [q]);
    expect(await poll([q])).toEqual([]);
    expect(
      (await db.one('select queue_ticker_batching as b from pgq.queue where queue_name = $1', [q])).b,
    ).toBe(true);
  });

  it('a queue without a waiting consumer is left to PgQ’s rules', async () => {
    await db.query("select pgq.create_queue('lp_none')");
    await db.query("select pgq.ticker('lp_none')"); // the idle tick after creation
    const before = await lastTick('lp_none');
    await db.query("select pgq.insert_event('lp_none', 'T', 'x')");
    expect(await poll(['lp_none'])).toEqual([]);
    expect(await lastTick('lp_none')).toBe(before);
  });

  it('announces no tick of a queue without a registered consumer', async () => {
    await db.query("select pgq.create_queue('lp_quiet')");
    const listener = await db.connect();
    const got: string[] = [];
    listener.on('notification', (n) => got.push(n.payload!));
    await listener.query(`listen "${tickChannel('lp_quiet')}"`);
    // A new queue's second tick is due at once by PgQ's rules: ticked, but nobody to tell.
    const [quiet] = await poll(['lp_quiet']);
    expect(quiet).toMatchObject({ queue_name: 'lp_quiet' });
    await db.query("select pgq.register_consumer('lp_quiet', 'c')");
    await db.query("select pgq.force_tick('lp_quiet')");
    const [told] = await poll(['lp_quiet']);
    expect(told).toMatchObject({ queue_name: 'lp_quiet' });
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    // Delivered in commit order: had the first tick been announced, it would come first.
    expect(got).toEqual([String(told.tick_id)]);
    await listener.query('unlisten *');
  });

  it('a long queue name gets the hashed channel', async () => {
    const q = `lp_${'x'.repeat(70)}`;
    await waitingQueue(q);
    const listener = await db.connect();
    const got: string[] = [];
    listener.on('notification', (n) => got.push(n.channel));
    await listener.query(`listen "${tickChannel(q)}"`);
    await db.query("select pgq.insert_event($1, 'T', 'x')", [q]);
    expect(await poll([q])).toHaveLength(1);
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([tickChannel(q)]);
    expect(tickChannel(q)).toMatch(/^pgq\.[0-9a-f]{32}$/);
  });
});

describe('pgq._ticker_due, planned once per session', () => {
  it('one session alternating full passes and polls of named queues gets the right queues each time', async () => {
    for (const q of ['pd_a', 'pd_b', 'pd_c']) await waitingQueue(q);
    const c = await db.connect();
    const due = async (names: string[] | null) =>
      (
        await c.query<{ queue_name: string; due: string }>(
          'select queue_name, due from pgq._ticker_due($1::text[], true)',
          [names],
        )
      ).rows;
    // Other queues of this file may be due by PgQ's idle rule meanwhile ('due'); only the
    // latency rows and the names are asserted. More calls than PostgreSQL's five custom plans,
    // both forms, before and after events arrive.
    // A queue stays a 'latency' candidate while its last tick saw a transaction in progress
    // anywhere in the cluster (the probe of its event tables then decides): other test files run
    // beside this one, so only this test's queues whose last tick saw none are asserted.
    const sawNone = async () =>
      (
        await c.query<{ queue_name: string }>(
          `select q.queue_name from pgq.queue q
             join lateral (select t.tick_snapshot from pgq.tick t where t.tick_queue = q.queue_id
                            order by t.tick_id desc limit 1) t on true
            where q.queue_name like 'pd\\_%' and not exists (select 1 from txid_snapshot_xip(t.tick_snapshot))`,
        )
      ).rows.map((r) => r.queue_name);
    const latency = async (rows: { queue_name: string; due: string }[]) => {
      const quiet = await sawNone();
      return rows.filter((r) => r.due === 'latency' && quiet.includes(r.queue_name)).map((r) => r.queue_name);
    };
    for (let i = 0; i < 7; i++) {
      expect(await latency(await due(null))).toEqual([]);
      const named = await due(['pd_b', 'pd_b', 'no_such_queue']);
      expect(named.every((r) => r.queue_name === 'pd_b') && named.length <= 1).toBe(true);
    }
    await db.query("select pgq.insert_event('pd_b', 'T', 'x')");
    await db.query("select pgq.insert_event('pd_c', 'T', 'y')");
    for (let i = 0; i < 7; i++) {
      expect((await due(['pd_b'])).map((r) => r.queue_name)).toEqual(['pd_b']);
      const all = (await due(null)).map((r) => r.queue_name);
      expect(all).toEqual(expect.arrayContaining(['pd_b', 'pd_c']));
      expect(all).toEqual([...all].sort());
      expect(await latency(await due(['pd_a']))).toEqual([]);
    }
    // Out of the later tests' passes.
    for (const q of ['pd_a', 'pd_b', 'pd_c'])
      await db.query("select pgq.set_queue_config($1, 'ticker_paused', 'true')", [q]);
    // Cached, not planned per call: PL/pgSQL with a generic plan.
    const fn = await db.one(
      `select l.lanname, p.proconfig from pg_proc p join pg_language l on l.oid = p.prolang
        where p.oid = 'pgq._ticker_due(text[], boolean)'::regprocedure`,
    );
    expect(fn).toEqual({ lanname: 'plpgsql', proconfig: ['plan_cache_mode=force_generic_plan'] });
  });
});

describe('a pass with nothing due', () => {
  it.each([
    ['pgq.ticker()', 'select pgq.ticker()'],
    ['pgq.ticker_poll(null, null)', 'select count(*) from pgq.ticker_poll(null, null)'],
  ])('%s writes no tick and assigns no transaction id', async (_name, sql) => {
    await waitingQueue('idle_q');
    await db.query("select pgq.set_queue_config('idle_q', 'ticker_idle_period', '1 hour')");
    // The earlier tests' queues would fall due by PgQ's rules (ticker_max_lag 3 s, idle period
    // 60 s) whenever this file runs slowly: out of the pass, so only idle_q is asked.
    await db.query(
      `select pgq.set_queue_config(queue_name, 'ticker_paused', 'true') from pgq.queue where queue_name <> 'idle_q'`,
    );
    await db.query('select pgq.ticker()');
    const c = await db.connect();
    const ticks = async () => (await c.query('select count(*)::int as n from pgq.tick')).rows[0].n;
    const n0 = await ticks();
    await c.query('begin');
    try {
      await c.query(sql);
      expect((await c.query('select txid_current_if_assigned() as x')).rows[0].x).toBeNull();
    } finally {
      // A failed assertion must not leave a transaction holding the tick's locks for later tests.
      await c.query('commit');
    }
    expect(await ticks()).toBe(n0);
  });
});

describe('pgq.ticker() and pgq._ticker_due agree', () => {
  it('pgq.ticker() ticks exactly the queues pgq._ticker_due(NULL, false) finds due', async () => {
    // Queues in every state the rules tell apart; tick times moved back stand for the time passed.
    await db.query(
      `select pgq.set_queue_config(queue_name, 'ticker_paused', 'true') from pgq.queue where queue_name not like 'ag\\_%'`,
    );
    const states: Record<string, string[]> = {
      ag_new: [], // only the first tick: the second is due at once
      ag_idle_recent: ["select pgq.ticker('ag_idle_recent')"],
      ag_idle_old: ["select pgq.ticker('ag_idle_old')", 'back:ag_idle_old:10 minutes'],
      ag_idle_gap: ["select pgq.ticker('ag_idle_gap')", 'back:ag_idle_gap:2 seconds'],
      ag_events_few: [
        "select pgq.ticker('ag_events_few')",
        "select pgq.insert_event('ag_events_few', 'T', 'x')",
      ],
      ag_events_count: ["select pgq.ticker('ag_events_count')", "select pgq.force_tick('ag_events_count')"],
      ag_events_lag: [
        "select pgq.ticker('ag_events_lag')",
        "select pgq.insert_event('ag_events_lag', 'T', 'x')",
        'back:ag_events_lag:5 seconds',
      ],
      ag_paused: ["select pgq.set_queue_config('ag_paused', 'ticker_paused', 'true')"],
    };
    for (const [q, steps] of Object.entries(states)) {
      await db.query('select pgq.create_queue($1)', [q]);
      for (const step of steps) {
        const back = /^back:(.*):(.*)$/.exec(step);
        if (back) {
          await db.query(
            `update pgq.tick set tick_time = tick_time - $2::interval
              where tick_queue = (select queue_id from pgq.queue where queue_name = $1)`,
            [back[1], back[2]],
          );
        } else await db.query(step);
      }
    }
    const c = await db.connect();
    await c.query('begin'); // one now() for both
    try {
      const due = (
        await c.query("select queue_name from pgq._ticker_due(null, false) where queue_name like 'ag\\_%'")
      ).rows.map((r) => r.queue_name);
      await c.query('select pgq.ticker()');
      const ticked = (
        await c.query(
          `select q.queue_name from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
            where t.xmin::text = txid_current()::text and q.queue_name like 'ag\\_%' order by 1`,
        )
      ).rows.map((r) => r.queue_name);
      expect(ticked).toEqual(due);
      // Due whatever the time the set-up took (ag_idle_recent and ag_events_few fall due too on a
      // slow machine: 1.5 s and 3 s after their last tick).
      expect(due).toEqual(
        expect.arrayContaining(['ag_events_count', 'ag_events_lag', 'ag_idle_gap', 'ag_idle_old', 'ag_new']),
      );
      expect(due).not.toContain('ag_paused');
    } finally {
      await c.query('rollback');
    }
  });
});

describe('pgq.ticker() keeps PgQ’s rules', () => {
  it('a default queue with a waiting consumer still waits for ticker_max_lag', async () => {
    await waitingQueue('rules_q');
    await db.query("select pgq.set_queue_config('rules_q', 'ticker_paused', 'false')");
    await db.query("select pgq.insert_event('rules_q', 'T', 'x')");
    const before = await lastTick('rules_q');
    await db.query('select pgq.ticker()');
    const after = await lastTick('rules_q');
    // ticker_max_lag (3 s by default) may pass on a loaded machine: a tick is then PgQ's rule
    // at work, and must come no earlier than 3 s after the event.
    if (after !== before) {
      const { lag } = await db.one(
        `select extract(epoch from t.tick_time - e.ev_time) as lag
           from pgq.tick t, pgq.event_all e, pgq.queue q
          where q.queue_name = 'rules_q' and t.tick_queue = q.queue_id and t.tick_id = $1
            and e.ev_queue = q.queue_id and e.ev_data = 'x'`,
        [after],
      );
      expect(Number(lag)).toBeGreaterThanOrEqual(3);
      return;
    }
    expect((await db.one("select pgq.ticker('rules_q') as t")).t).toBeNull();
  });
});
