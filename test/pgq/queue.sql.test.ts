// Queue administration and producers: create/drop, settings, insert_event and its checks.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { drain, pgError, tick } from '../support/pgq.ts';

const db = useTestDatabase();

describe('pgq.create_queue', () => {
  it('creates the queue with its rotating event tables, sequences and a first tick', async () => {
    expect((await db.one("select pgq.create_queue('orders') as r")).r).toBe(1);
    const q = await db.one("select * from pgq.queue where queue_name = 'orders'");
    expect(q.queue_data_pfx).toBe(`pgq.event_${q.queue_id}`);
    expect(q.queue_event_seq).toBe(`pgq.event_${q.queue_id}_id_seq`);
    expect(q.queue_tick_seq).toBe(`pgq.event_${q.queue_id}_tick_seq`);
    for (const i of [0, 1, 2]) {
      const t = await db.one('select to_regclass($1) is not null as ok', [`pgq.event_${q.queue_id}_${i}`]);
      expect(t.ok).toBe(true);
    }
    const ticks = await db.one('select count(*)::int as n from pgq.tick where tick_queue = $1', [q.queue_id]);
    expect(ticks.n).toBe(1);
  });

  it('returns 0 and changes nothing for an existing name', async () => {
    const before = await db.one('select count(*)::int as n from pg_class');
    expect((await db.one("select pgq.create_queue('orders') as r")).r).toBe(0);
    expect((await db.one('select count(*)::int as n from pg_class')).n).toBe(before.n);
  });

  it('accepts names that need quoting and keeps them apart', async () => {
    for (const name of ['Mixed Case', 'semi;colon', "quote'd", 'dots.in.name', 'ünïcode']) {
      expect((await db.one('select pgq.create_queue($1) as r', [name])).r).toBe(1);
      await db.query("select pgq.insert_event($1, 'T', $1)", [name]);
    }
    // Events committed before the consumer's starting tick are not its business.
    await tick(db, 'dots.in.name');
    await db.query("select pgq.register_consumer('dots.in.name', 'c')");
    await db.query("select pgq.insert_event('dots.in.name', 'T', 'second')");
    await tick(db, 'dots.in.name');
    expect(await drain(db, 'dots.in.name', 'c')).toEqual(['second']);
  });

  it('rejects NULL', async () => {
    const e = await pgError(db.query('select pgq.create_queue(null)'));
    expect(e.message).toBe('Invalid NULL value');
  });
});

describe('pgq.insert_event', () => {
  it('returns increasing ids and stores type, data and extras', async () => {
    await db.query("select pgq.create_queue('ins')");
    const a = await db.one("select pgq.insert_event('ins', 'T1', 'd1') as id");
    const b = await db.one("select pgq.insert_event('ins', 'T2', 'd2', 'x1', 'x2', 'x3', 'x4') as id");
    expect(b.id).toBeGreaterThan(a.id);
    const row = await db.one(
      "select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4, ev_owner, ev_retry from pgq.event_all where ev_id = $1 and ev_queue = (select queue_id from pgq.queue where queue_name = 'ins')",
      [b.id],
    );
    expect(row).toEqual({
      ev_type: 'T2',
      ev_data: 'd2',
      ev_extra1: 'x1',
      ev_extra2: 'x2',
      ev_extra3: 'x3',
      ev_extra4: 'x4',
      ev_owner: null,
      ev_retry: null,
    });
  });

  it('writes into the table named by current_event_table', async () => {
    const t = await db.one("select pgq.current_event_table('ins') as t");
    const id = await db.one("select pgq.insert_event('ins', 'T', 'where') as id");
    const r = await db.one(`select count(*)::int as n from ${t.t} where ev_id = $1`, [id.id]);
    expect(r.n).toBe(1);
  });

  it('fails clearly for an unknown queue or NULL queue and inserts nothing', async () => {
    const before = await db.one('select count(*)::int as n from pgq.event_all');
    expect((await pgError(db.query("select pgq.insert_event('nope', 'T', 'd')"))).message).toBe(
      'No such queue',
    );
    expect((await pgError(db.query("select pgq.insert_event(null, 'T', 'd')"))).message).toBe(
      'Queue name must not be NULL',
    );
    expect((await db.one('select count(*)::int as n from pgq.event_all')).n).toBe(before.n);
  });

  it('refuses inserts when queue_disable_insert is set, except in replica role', async () => {
    await db.query("select pgq.create_queue('disabled')");
    await db.query("select pgq.set_queue_config('disabled', 'disable_insert', 'true')");
    const e = await pgError(db.query("select pgq.insert_event('disabled', 'T', 'd')"));
    expect(e.message).toBe('Insert into queue disallowed');
    expect(e.code).toBe('PQ004');
    const c = await db.connect();
    await c.query("set session_replication_role = 'replica'");
    await c.query("select pgq.insert_event('disabled', 'T', 'replica may')");
    expect((await pgError(db.query("select pgq.current_event_table('disabled')"))).message).toBe(
      'Writing to queue disabled',
    );
  });

  it('enforces queue_per_tx_limit per transaction', async () => {
    await db.query("select pgq.create_queue('limited')");
    await db.query("select pgq.set_queue_config('limited', 'per_tx_limit', '2')");
    const c = await db.connect();
    await c.query('begin');
    await c.query("select pgq.insert_event('limited', 'T', '1'), pgq.insert_event('limited', 'T', '2')");
    const e = await pgError(c.query("select pgq.insert_event('limited', 'T', '3')"));
    expect(e.message).toBe("Queue 'limited' allows max 2 events from one TX");
    await c.query('rollback');
    // A new transaction starts counting from zero.
    await c.query("select pgq.insert_event('limited', 'T', '1'), pgq.insert_event('limited', 'T', '2')");
  });
});

describe('pgq.insert_event_bulk', () => {
  it('inserts many events in order in one call, with per-event types and extras', async () => {
    await db.query("select pgq.create_queue('bulk')");
    await db.query("select pgq.register_consumer('bulk', 'c')");
    const n = await db.one(
      "select pgq.insert_event_bulk('bulk', array['A','B','C'], array['1','2','3'], array['x',null,'z'], null, null, array['q']) as n",
    );
    expect(n.n).toBe(3n);
    await db.query("select pgq.insert_event_bulk('bulk', 'S', array['4','5'])");
    await tick(db, 'bulk');
    const b = await db.one("select pgq.next_batch('bulk', 'c') as id");
    const ev = await db.query('select ev_type, ev_data, ev_extra1, ev_extra4 from pgq.get_batch_events($1)', [
      b.id,
    ]);
    expect(ev.rows).toEqual([
      { ev_type: 'A', ev_data: '1', ev_extra1: 'x', ev_extra4: 'q' },
      { ev_type: 'B', ev_data: '2', ev_extra1: null, ev_extra4: null },
      { ev_type: 'C', ev_data: '3', ev_extra1: 'z', ev_extra4: null },
      { ev_type: 'S', ev_data: '4', ev_extra1: null, ev_extra4: null },
      { ev_type: 'S', ev_data: '5', ev_extra1: null, ev_extra4: null },
    ]);
  });

  it('rejects arrays longer than ev_data and an unknown queue', async () => {
    expect(
      (
        await pgError(
          db.query(
            "select pgq.insert_event_bulk('bulk', array['A','B'], array['1'], null, null, null, null)",
          ),
        )
      ).message,
    ).toBe('ev_type has more elements than ev_data');
    expect((await pgError(db.query("select pgq.insert_event_bulk('nope', 'T', array['1'])"))).message).toBe(
      'No such queue',
    );
  });

  it('counts towards queue_per_tx_limit', async () => {
    await db.query("select pgq.create_queue('bulk_limited')");
    await db.query("select pgq.set_queue_config('bulk_limited', 'per_tx_limit', '3')");
    const e = await pgError(
      db.query("select pgq.insert_event_bulk('bulk_limited', 'T', array['1','2','3','4'])"),
    );
    expect(e.code).toBe('PQ005');
  });
});

describe('pgq.set_queue_config', () => {
  it('changes known settings, with or without the queue_ prefix', async () => {
    await db.query("select pgq.create_queue('cfg')");
    await db.query("select pgq.set_queue_config('cfg', 'ticker_max_count', '42')");
    await db.query("select pgq.set_queue_config('cfg', 'queue_ticker_max_lag', '7 seconds')");
    await db.query("select pgq.set_queue_config('cfg', 'rotation_period', '1 hour')");
    const q = await db.one("select * from pgq.get_queue_info('cfg')");
    expect(q.queue_ticker_max_count).toBe(42);
    expect(q.queue_ticker_max_lag).toMatchObject({ seconds: 7 });
    expect(q.queue_rotation_period).toMatchObject({ hours: 1 });
  });

  it('rejects unknown parameters, bad values and unknown queues without changing anything', async () => {
    expect((await pgError(db.query("select pgq.set_queue_config('cfg', 'data_pfx', 'x')"))).message).toBe(
      'cannot change parameter "data_pfx"',
    );
    expect(
      (await pgError(db.query("select pgq.set_queue_config('nope', 'ticker_max_count', '1')"))).message,
    ).toBe('No such event queue');
    const e = await pgError(db.query("select pgq.set_queue_config('cfg', 'ticker_max_count', 'lots')"));
    expect(e.message).toMatch(/invalid input syntax for type integer/);
    const e2 = await pgError(
      db.query("select pgq.set_queue_config('cfg', 'x; drop table pgq.queue; --', '1')"),
    );
    expect(e2.message).toMatch(/cannot change parameter/);
    expect(
      (await db.one("select queue_ticker_max_count as n from pgq.queue where queue_name = 'cfg'")).n,
    ).toBe(42);
  });
});

describe('pgq.drop_queue', () => {
  it('refuses while consumers are attached, drops everything with force', async () => {
    await db.query("select pgq.create_queue('gone')");
    await db.query("select pgq.register_consumer('gone', 'gone_c')");
    await db.query("select pgq.insert_event('gone', 'T', 'x')");
    const q = await db.one("select queue_id from pgq.queue where queue_name = 'gone'");
    expect((await pgError(db.query("select pgq.drop_queue('gone')"))).message).toBe(
      'cannot drop queue, consumers still attached',
    );
    expect((await db.one("select pgq.drop_queue('gone', true) as r")).r).toBe(1);
    expect((await db.one("select count(*)::int as n from pgq.queue where queue_name = 'gone'")).n).toBe(0);
    expect(
      (await db.one('select count(*)::int as n from pgq.tick where tick_queue = $1', [q.queue_id])).n,
    ).toBe(0);
    expect((await db.one('select to_regclass($1) as t', [`pgq.event_${q.queue_id}`])).t).toBeNull();
    expect((await db.one("select count(*)::int as n from pgq.consumer where co_name = 'gone_c'")).n).toBe(0);
  });

  it('fails for an unknown queue', async () => {
    expect((await pgError(db.query("select pgq.drop_queue('never')"))).message).toBe('No such event queue');
  });
});

describe('helpers', () => {
  it('quote_fqname quotes like the original', async () => {
    const r = await db.one(
      "select pgq.quote_fqname('a.b') as a, pgq.quote_fqname('Tbl') as b, pgq.quote_fqname('S.x.y') as c, pgq.quote_fqname(null) as d",
    );
    expect(r).toEqual({ a: 'a.b', b: 'public."Tbl"', c: '"S"."x.y"', d: null });
  });

  it('seq_getval / seq_setval never move a sequence backwards', async () => {
    await db.query('create sequence public.s1');
    await db.query("select setval('public.s1', 10)");
    expect((await db.one("select pgq.seq_getval('s1') as v")).v).toBe(10n);
    expect((await db.one("select pgq.seq_setval('public.s1', 5) as v")).v).toBe(10n);
    expect((await db.one("select pgq.seq_setval('public.s1', 20) as v")).v).toBe(20n);
    expect((await db.one("select pgq.seq_getval('public.s1') as v")).v).toBe(20n);
  });

  it('seq_getval reads last_value also of a sequence never called or set back with is_called false', async () => {
    // pg_sequence_last_value is NULL in both cases; the value must still be the SELECT's.
    await db.query('create sequence public."Seq 2" start 7');
    expect((await db.one("select pgq.seq_getval('public.Seq 2') as v")).v).toBe(7n);
    await db.query(`select setval('public."Seq 2"', 42, false)`);
    expect((await db.one("select pgq.seq_getval('public.Seq 2') as v")).v).toBe(42n);
    await db.query(`select nextval('public."Seq 2"')`);
    expect((await db.one("select pgq.seq_getval('public.Seq 2') as v")).v).toBe(42n);
    expect((await db.one('select pgq.seq_getval(null) as v')).v).toBe(null);
    await expect(db.query("select pgq.seq_getval('public.no_such_seq')")).rejects.toThrow(/does not exist/);
  });

  it('version starts with 3.', async () => {
    expect((await db.one('select pgq.version() as v')).v).toMatch(/^3\.\d/);
  });
});
