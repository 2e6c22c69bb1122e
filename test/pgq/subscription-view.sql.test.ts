// pgq.subscription as a view over pgq.subscription_key + pgq.subscription_state (tables.sql):
// an installation from before the view is converted keeping every consumer's position and open
// batch, re-running the installer changes nothing, and writes through the view act as on the
// original table.
import { describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { useTestDatabase } from '../support/db.ts';
import { drain, nextBatch, tick } from '../support/pgq.ts';

const db = useTestDatabase();

const subscriptions = async () =>
  (
    await db.query(
      `select s.sub_id, q.queue_name, c.co_name, s.sub_last_tick, s.sub_active, s.sub_batch, s.sub_next_tick
         from pgq.subscription s join pgq.queue q on q.queue_id = s.sub_queue
         join pgq.consumer c on c.co_id = s.sub_consumer order by s.sub_id`,
    )
  ).rows;

// The storage as every release before the view had it: one table, updated in place.
const PRE_VIEW_SHAPE = `
  drop view pgq.subscription cascade;
  drop view pgq._open_batch;
  alter table pgq.subscription_key rename to subscription;
  alter table pgq.subscription
        add column sub_last_tick bigint,
        add column sub_active timestamptz not null default now(),
        add column sub_batch bigint,
        add column sub_next_tick bigint,
        add constraint subscription_batch_idx unique (sub_batch);
  update pgq.subscription k
     set sub_last_tick = s.sub_last_tick, sub_active = s.sub_active,
         sub_batch = s.sub_batch, sub_next_tick = s.sub_next_tick
    from pgq.subscription_state s
   where s.sub_queue = k.sub_queue and s.sub_consumer = k.sub_consumer;
  drop table pgq.subscription_state;`;

describe('pgq.subscription view', () => {
  it('converts a pre-view installation keeping positions and open batches; re-installing keeps them', async () => {
    await db.query("select pgq.create_queue('uq')");
    await db.query("select pgq.register_consumer('uq', 'a')");
    await db.query("select pgq.register_consumer('uq', 'b')");
    await db.query("select pgq.insert_event('uq', 't', 'one')");
    await tick(db, 'uq');
    const open = await nextBatch(db, 'uq', 'a'); // left open: a "crashed" consumer
    const done = await nextBatch(db, 'uq', 'b');
    await db.query('select pgq.finish_batch($1)', [done!.id]);
    await db.query("select pgq.insert_event('uq', 't', 'two')");
    await tick(db, 'uq');
    const before = await subscriptions();
    expect(before.map((r) => [r.co_name, r.sub_batch === null])).toEqual([
      ['a', false],
      ['b', true],
    ]);

    await db.query(PRE_VIEW_SHAPE);
    expect(
      (await db.one("select relkind from pg_class where oid = 'pgq.subscription'::regclass")).relkind,
    ).toBe('r');
    const c = await db.connect();
    await install(c);
    expect(
      (await db.one("select relkind from pg_class where oid = 'pgq.subscription'::regclass")).relkind,
    ).toBe('v');
    expect(await subscriptions()).toEqual(before);
    await install(c);
    expect(await subscriptions()).toEqual(before);

    // a gets its open batch again, with the same events; then continues from there.
    const again = await nextBatch(db, 'uq', 'a');
    expect(again!.id).toBe(open!.id);
    expect(again!.events.map((e) => e.ev_data)).toEqual(['one']);
    expect((await db.one('select pgq.finish_batch($1) as r', [again!.id])).r).toBe(1);
    expect((await nextBatch(db, 'uq', 'a'))!.events.map((e) => e.ev_data)).toEqual(['two']);
    expect((await nextBatch(db, 'uq', 'b'))!.events.map((e) => e.ev_data)).toEqual(['two']);
    // Exactly one live state row per subscription.
    const n = await db.one('select count(*)::int as n from pgq.subscription_state');
    expect(n.n).toBe(2);
  });

  it('insert, update and delete through the view act as on a table', async () => {
    await db.query("select pgq.create_queue('wq')");
    await db.query("select pgq.register_consumer('wq', 'w1')");
    const t = await tick(db, 'wq');
    const ids = await db.one(
      "select q.queue_id as q, c.co_id as c from pgq.queue q, pgq.consumer c where q.queue_name = 'wq' and c.co_name = 'w1'",
    );
    await db.query("insert into pgq.consumer (co_name) values ('w2')");
    const c2 = (await db.one("select co_id from pgq.consumer where co_name = 'w2'")).co_id;
    const ins = await db.query(
      'insert into pgq.subscription (sub_queue, sub_consumer, sub_last_tick) values ($1, $2, $3) returning sub_id, sub_active',
      [ids.q, c2, t],
    );
    expect(ins.rowCount).toBe(1);
    expect(ins.rows[0].sub_id).not.toBeNull();
    expect(ins.rows[0].sub_active).not.toBeNull();
    expect(await nextBatch(db, 'wq', 'w2')).toBeNull();

    const upd = await db.query(
      "update pgq.subscription set sub_active = now() - interval '1 hour' where sub_queue = $1",
      [ids.q],
    );
    expect(upd.rowCount).toBe(2);
    const lag = await db.query(
      "select count(*)::int as n from pgq.subscription where sub_queue = $1 and sub_active < now() - interval '59 minutes'",
      [ids.q],
    );
    expect(lag.rows[0].n).toBe(2);

    const del = await db.query('delete from pgq.subscription where sub_queue = $1 and sub_consumer = $2', [
      ids.q,
      c2,
    ]);
    expect(del.rowCount).toBe(1);
    expect((await db.query('select 1 from pgq.subscription where sub_queue = $1', [ids.q])).rowCount).toBe(1);
    expect(
      (await db.query('select 1 from pgq.subscription_key where sub_consumer = $1', [c2])).rowCount,
    ).toBe(0);
    expect(
      (await db.query('select 1 from pgq.subscription_state where sub_consumer = $1', [c2])).rowCount,
    ).toBe(0);
    // w1 still consumes (its first batch, up to the tick above, is empty).
    await db.query("select pgq.insert_event('wq', 't', 'w')");
    await tick(db, 'wq');
    expect(await drain(db, 'wq', 'w1')).toEqual(['w']);
  });
});
