// Consumers and batches: snapshot semantics under concurrency, crash before finish_batch,
// retries, rotation with a lagging consumer, cursors, and bad input.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { drain, nextBatch, pgError, tick } from '../support/pgq.ts';

const db = useTestDatabase();

async function freshQueue(name: string, consumers: string[] = ['c']) {
  await db.query('select pgq.create_queue($1)', [name]);
  for (const c of consumers) await db.query('select pgq.register_consumer($1, $2)', [name, c]);
}

describe('registration', () => {
  it('register_consumer returns 1 then 0; unregister returns 1 then 0', async () => {
    await db.query("select pgq.create_queue('reg')");
    expect((await db.one("select pgq.register_consumer('reg', 'a') as r")).r).toBe(1);
    expect((await db.one("select pgq.register_consumer('reg', 'a') as r")).r).toBe(0);
    expect((await db.one("select pgq.unregister_consumer('reg', 'a') as r")).r).toBe(1);
    expect((await db.one("select pgq.unregister_consumer('reg', 'a') as r")).r).toBe(0);
  });

  it('register_consumer_at repositions an existing consumer and drops its open batch', async () => {
    await freshQueue('regat', ['a']);
    const t0 = (
      await db.one(
        "select max(tick_id) as t from pgq.tick join pgq.queue on tick_queue = queue_id where queue_name = 'regat'",
      )
    ).t;
    await db.query("select pgq.insert_event('regat', 'T', 'one')");
    await tick(db, 'regat');
    expect(await drain(db, 'regat', 'a')).toEqual(['one']);
    await db.query("select pgq.insert_event('regat', 'T', 'two')");
    await tick(db, 'regat');
    const open = await nextBatch(db, 'regat', 'a');
    expect(open?.events.map((e) => e.ev_data)).toEqual(['two']);
    expect((await db.one("select pgq.register_consumer_at('regat', 'a', $1) as r", [t0])).r).toBe(0);
    expect(await drain(db, 'regat', 'a')).toEqual(['one', 'two']);
  });

  it('rejects unknown queue, unknown tick and NULL names', async () => {
    expect((await pgError(db.query("select pgq.register_consumer('nope', 'a')"))).message).toBe(
      'Event queue not created yet',
    );
    expect((await pgError(db.query("select pgq.register_consumer_at('reg', 'ghost', 999999)"))).message).toBe(
      'cannot reposition, tick not found: 999999',
    );
    expect((await pgError(db.query("select pgq.register_consumer('reg', null)"))).code).toBe('PQ006');
    expect((await db.one("select count(*)::int as n from pgq.consumer where co_name = 'ghost'")).n).toBe(0);
  });
});

describe('batches', () => {
  it('next_batch and get_consumer_info read ticks by key, not every tick of the queue', async () => {
    // A queue ticked for every event (our ticker's latency ticks) keeps its ticks until the
    // next rotation, hours later: next_batch's cost must not grow with them.
    await freshQueue('manyticks');
    await db.query("select pgq.set_queue_config('manyticks', 'ticker_max_count', '1')");
    const c = await db.connect();
    for (let i = 0; i < 300; i++) {
      await c.query("select pgq.insert_event('manyticks', 'T', 'x')");
      await c.query("select pgq.ticker('manyticks')");
    }
    expect(await drain(db, 'manyticks', 'c')).toHaveLength(300);
    await c.query("select pgq.insert_event('manyticks', 'T', 'last')");
    await c.query("select pgq.ticker('manyticks')");
    // The backend's counters for pgq.tick; they include earlier transactions' not yet reported,
    // so what next_batch read is the difference across it.
    const read = async () =>
      Number(
        (
          await c.query(
            `select coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) as n
               from pg_catalog.pg_stat_xact_user_tables where schemaname = 'pgq' and relname = 'tick'`,
          )
        ).rows[0]?.n ?? 0,
      );
    await c.query('begin');
    const before = await read();
    const b = (await c.query("select pgq.next_batch('manyticks', 'c') as b")).rows[0].b;
    expect(b).not.toBeNull();
    // Again for the open batch (handed out once more), which reads the closing tick too.
    expect((await c.query("select pgq.next_batch('manyticks', 'c') as b")).rows[0].b).toBe(b);
    expect((await read()) - before).toBeLessThan(20);
    await c.query('commit');
    expect(await drain(db, 'manyticks', 'c')).toEqual(['last']);
    // get_consumer_info (the cascade worker asks it every batch) finds the last tick by key too.
    await c.query('begin');
    const from = await read();
    const [info] = (await c.query("select * from pgq.get_consumer_info('manyticks', 'c')")).rows;
    expect(info.pending_events).toBe(0n);
    expect((await read()) - from).toBeLessThan(20);
    await c.query('commit');
  });

  it('a batch holds exactly the events committed between its two ticks', async () => {
    await freshQueue('snap');
    await db.query("select pgq.insert_event('snap', 'T', 'a')");
    await tick(db, 'snap');
    await db.query("select pgq.insert_event('snap', 'T', 'b')");
    await tick(db, 'snap');
    const b1 = await nextBatch(db, 'snap', 'c');
    expect(b1?.events.map((e) => e.ev_data)).toEqual(['a']);
    await db.query('select pgq.finish_batch($1)', [b1!.id]);
    const b2 = await nextBatch(db, 'snap', 'c');
    expect(b2?.events.map((e) => e.ev_data)).toEqual(['b']);
    await db.query('select pgq.finish_batch($1)', [b2!.id]);
    expect(await nextBatch(db, 'snap', 'c')).toBeNull();
  });

  it('events of a transaction that commits after a tick land in a later batch', async () => {
    await freshQueue('late');
    const writer = await db.connect();
    await writer.query('begin');
    await writer.query("select pgq.insert_event('late', 'T', 'slow')");
    await db.query("select pgq.insert_event('late', 'T', 'fast')");
    await tick(db, 'late'); // slow is still running here
    expect(await drain(db, 'late', 'c')).toEqual(['fast']);
    await writer.query('commit');
    await tick(db, 'late');
    expect(await drain(db, 'late', 'c')).toEqual(['slow']);
  });

  it('a transaction spanning several ticks is delivered once, in the batch after its commit', async () => {
    await freshQueue('span');
    const writer = await db.connect();
    await writer.query('begin');
    await writer.query("select pgq.insert_event('span', 'T', 'long-1')");
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      await db.query("select pgq.insert_event('span', 'T', $1)", [`short-${i}`]);
      await tick(db, 'span');
      seen.push(...(await drain(db, 'span', 'c')));
      await writer.query("select pgq.insert_event('span', 'T', $1)", [`long-${i + 2}`]);
    }
    await writer.query('commit');
    await tick(db, 'span');
    seen.push(...(await drain(db, 'span', 'c')));
    expect(seen).toEqual([
      'short-0',
      'short-1',
      'short-2',
      'short-3',
      'long-1',
      'long-2',
      'long-3',
      'long-4',
      'long-5',
    ]);
  });

  it('many concurrent writers: every event exactly once, across many ticks', async () => {
    await freshQueue('conc');
    const writers = await Promise.all([1, 2, 3, 4].map(() => db.connect()));
    const expected: string[] = [];
    const seen: string[] = [];
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        writers.map(async (w, i) => {
          await w.query('begin');
          for (let k = 0; k < 5; k++) {
            const v = `w${i}-r${round}-${k}`;
            expected.push(v);
            await w.query("select pgq.insert_event('conc', 'T', $1)", [v]);
          }
          // Half the writers commit after the tick below.
          if ((i + round) % 2 === 0) await w.query('commit');
        }),
      );
      await tick(db, 'conc');
      seen.push(...(await drain(db, 'conc', 'c')));
      await Promise.all(writers.map((w, i) => ((i + round) % 2 === 1 ? w.query('commit') : null)));
    }
    await tick(db, 'conc');
    seen.push(...(await drain(db, 'conc', 'c')));
    expect(seen.length).toBe(expected.length);
    expect([...seen].sort()).toEqual([...expected].sort());
  });

  it('a consumer that dies before finish_batch gets the same batch again', async () => {
    await freshQueue('crash');
    await db.query("select pgq.insert_event('crash', 'T', 'x'), pgq.insert_event('crash', 'T', 'y')");
    await tick(db, 'crash');
    const consumer = await db.connect();
    const r = await consumer.query("select pgq.next_batch('crash', 'c') as b");
    const first = r.rows[0].b;
    await consumer.query('select * from pgq.get_batch_events($1)', [first]);
    // The process dies: its connection goes away without finish_batch.
    (consumer as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const again = await nextBatch(db, 'crash', 'c');
    expect(again?.id).toBe(first);
    expect(again?.events.map((e) => e.ev_data)).toEqual(['x', 'y']);
  });

  it('different consumers read the same events independently', async () => {
    await freshQueue('fan', ['c1', 'c2']);
    await db.query("select pgq.insert_event('fan', 'T', 'e1')");
    await tick(db, 'fan');
    expect(await drain(db, 'fan', 'c1')).toEqual(['e1']);
    await db.query("select pgq.insert_event('fan', 'T', 'e2')");
    await tick(db, 'fan');
    expect(await drain(db, 'fan', 'c2')).toEqual(['e1', 'e2']);
    expect(await drain(db, 'fan', 'c1')).toEqual(['e2']);
  });

  it('finish_batch of an unknown batch warns and returns 0', async () => {
    expect((await db.one('select pgq.finish_batch(987654321) as r')).r).toBe(0);
  });

  it('bad input to the batch API gives clear errors', async () => {
    expect((await pgError(db.query("select pgq.next_batch('nope', 'c')"))).message).toBe(
      'Not subscriber to queue: nope/c',
    );
    expect((await pgError(db.query("select pgq.next_batch('snap', 'stranger')"))).message).toBe(
      'Not subscriber to queue: snap/stranger',
    );
    expect((await pgError(db.query('select pgq.next_batch(null, null)'))).message).toBe(
      'Not subscriber to queue: NULL/NULL',
    );
    expect((await pgError(db.query('select * from pgq.get_batch_events(424242)'))).message).toBe(
      'batch not found',
    );
    expect((await pgError(db.query('select pgq.event_retry(424242, 1, 10)'))).message).toBe(
      'batch not found',
    );
    expect((await pgError(db.query('select pgq.batch_retry(424242, 10)'))).message).toBe(
      'batch_retry: batch 424242 not found',
    );
    const info = await db.one('select * from pgq.get_batch_info(424242)');
    expect(info.queue_name).toBeNull();
  });
});

describe('next_batch_custom', () => {
  it('waits for min_count events, and min_lag holds back fresh ticks', async () => {
    await freshQueue('custom');
    await db.query("select pgq.insert_event('custom', 'T', '1')");
    await tick(db, 'custom');
    const none = await db.one("select * from pgq.next_batch_custom('custom', 'c', null, 5000, null)");
    expect(none.batch_id).toBeNull();
    const lagged = await db.one("select * from pgq.next_batch_custom('custom', 'c', '1 hour', null, null)");
    expect(lagged.batch_id).toBeNull();
    const any = await db.one("select * from pgq.next_batch_custom('custom', 'c', null, null, null)");
    expect(any.batch_id).not.toBeNull();
    expect(any.prev_tick_id).toBeLessThan(any.cur_tick_id);
    expect(any.cur_tick_event_seq).toBeGreaterThan(any.prev_tick_event_seq);
  });
});

describe('retry', () => {
  it('a retried event comes back after its delay, to its owner only, with ev_retry counted', async () => {
    await freshQueue('retry', ['owner', 'other']);
    await db.query("select pgq.insert_event('retry', 'T', 'again')");
    await tick(db, 'retry');
    const b = await nextBatch(db, 'retry', 'owner');
    const ev = b!.events[0]!;
    expect((await db.one('select pgq.event_retry($1, $2, 0) as r', [b!.id, ev.ev_id])).r).toBe(1);
    expect((await db.one('select pgq.event_retry($1, $2, 0) as r', [b!.id, ev.ev_id])).r).toBe(0);
    await db.query('select pgq.finish_batch($1)', [b!.id]);
    expect(await drain(db, 'retry', 'other')).toEqual(['again']);
    expect((await db.one('select pgq.maint_retry_events() as n')).n).toBe(1);
    await tick(db, 'retry');
    const back = await nextBatch(db, 'retry', 'owner');
    expect(back?.events.map((e) => [e.ev_id, e.ev_data, e.ev_retry])).toEqual([[ev.ev_id, 'again', 1]]);
    await db.query('select pgq.finish_batch($1)', [back!.id]);
    expect(await drain(db, 'retry', 'other')).toEqual([]);
  });

  it('event_retry with a future time waits; batch_retry queues the whole batch', async () => {
    await freshQueue('retry2');
    await db.query("select pgq.insert_event('retry2', 'T', 'a'), pgq.insert_event('retry2', 'T', 'b')");
    await tick(db, 'retry2');
    const b = await nextBatch(db, 'retry2', 'c');
    expect((await db.one('select pgq.batch_retry($1, 3600) as n', [b!.id])).n).toBe(2);
    await db.query('select pgq.finish_batch($1)', [b!.id]);
    expect((await db.one('select pgq.maint_retry_events() as n')).n).toBe(0);
    expect(
      (
        await db.one(
          "select count(*)::int as n from pgq.retry_queue where ev_retry_after > now() + interval '50 minutes'",
        )
      ).n,
    ).toBe(2);
  });

  it('event_retry of an event not in the batch fails', async () => {
    await freshQueue('retry3');
    await db.query("select pgq.insert_event('retry3', 'T', 'a')");
    await tick(db, 'retry3');
    const b = await nextBatch(db, 'retry3', 'c');
    expect((await pgError(db.query('select pgq.event_retry($1, 999999, 0)', [b!.id]))).message).toBe(
      'event not found',
    );
  });

  it('event_retry_raw queues an arbitrary event for a registered consumer', async () => {
    const id = await db.one(
      "select pgq.event_retry_raw('retry3', 'c', now(), null, now(), 0, 'R', 'raw', null, null, null, null) as id",
    );
    expect(id.id).toBeGreaterThan(0n);
    expect(
      (
        await pgError(
          db.query(
            "select pgq.event_retry_raw('retry3', 'nobody', now(), null, now(), 0, 'R', 'raw', null, null, null, null)",
          ),
        )
      ).message,
    ).toBe('consumer not registered');
  });
});

describe('get_batch_cursor', () => {
  it('returns the first rows and leaves the rest in a cursor; extra_where filters', async () => {
    await freshQueue('cur');
    await db.query(
      "select pgq.insert_event_bulk('cur', 'T', array(select i::text from generate_series(1, 10) i))",
    );
    await tick(db, 'cur');
    const b = await nextBatch(db, 'cur', 'c');
    const c = await db.connect();
    await c.query('begin');
    const quick = await c.query("select ev_data from pgq.get_batch_cursor($1, 'my cursor', 3)", [b!.id]);
    expect(quick.rows.map((r) => r.ev_data)).toEqual(['1', '2', '3']);
    const rest = await c.query('fetch all from "my cursor"');
    expect(rest.rows.map((r) => r.ev_data)).toEqual(['4', '5', '6', '7', '8', '9', '10']);
    await c.query('close "my cursor"');
    const filtered = await c.query(
      "select ev_data from pgq.get_batch_cursor($1, 'c2', 100, 'ev_data::int % 2 = 0')",
      [b!.id],
    );
    expect(filtered.rows.map((r) => r.ev_data)).toEqual(['2', '4', '6', '8', '10']);
    await c.query('commit');
  });
});

describe('rotation', () => {
  it('rotates under a lagging consumer without losing or duplicating events', async () => {
    await freshQueue('rot', ['fast', 'slow']);
    await db.query("update pgq.queue set queue_rotation_period = '0' where queue_name = 'rot'");
    const all: string[] = [];
    const fast: string[] = [];
    let n = 0;
    const rotateAll = async () => {
      for (const op of (await db.query('select * from pgq.maint_operations()')).rows) {
        if (op.func_name === 'vacuum') continue;
        await db.query(
          op.func_arg == null ? `select ${op.func_name}()` : `select ${op.func_name}($1)`,
          op.func_arg == null ? [] : [op.func_arg],
        );
      }
    };
    const tables = new Set<number>();
    for (let round = 0; round < 8; round++) {
      for (let k = 0; k < 3; k++) {
        const v = `e${n++}`;
        all.push(v);
        await db.query("select pgq.insert_event('rot', 'T', $1)", [v]);
      }
      await tick(db, 'rot');
      fast.push(...(await drain(db, 'rot', 'fast')));
      await rotateAll();
      tables.add((await db.one("select queue_cur_table as t from pgq.queue where queue_name = 'rot'")).t);
    }
    // The slow consumer has not read anything yet: rotation must have waited for it.
    expect(tables.size).toBeLessThanOrEqual(2);
    const slow = await drain(db, 'rot', 'slow');
    expect(slow).toEqual(all);
    expect(fast).toEqual(all);
    // With everyone caught up, rotation goes on and older events stay readable until consumed.
    // txids are cluster-wide: a transaction open in another test's database holds back every
    // snapshot's xmin and so rotation; keep going until all three tables have been used.
    for (let round = 0; round < 6 || (tables.size < 3 && round < 200); round++) {
      if (round >= 6) await new Promise((r) => setTimeout(r, 25));
      const v = `late${round}`;
      all.push(v);
      await db.query("select pgq.insert_event('rot', 'T', $1)", [v]);
      await tick(db, 'rot');
      fast.push(...(await drain(db, 'rot', 'fast')));
      slow.push(...(await drain(db, 'rot', 'slow')));
      await rotateAll();
      tables.add((await db.one("select queue_cur_table as t from pgq.queue where queue_name = 'rot'")).t);
    }
    expect(tables.size).toBe(3);
    expect(fast).toEqual(all);
    expect(slow).toEqual(all);
  });
});
