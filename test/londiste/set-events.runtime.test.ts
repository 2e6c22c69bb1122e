// What replay does besides rows: sequences published by the root and moved on the leaf; EXECUTE of
// DDL run once on each node, in event order with the rows around it; foreign keys between
// replicated tables dropped for a copy and restored once both tables are in sync.
import { describe, expect, it } from 'vitest';
import { useLondisteSet, waitUntil } from './replication.ts';

describe('londiste set events (root → leaf)', () => {
  const f = useLondisteSet(['root', 'leaf']);

  const addOnBoth = async (table: string) => {
    const { s } = f;
    await s.replicate(table);
  };

  it('sets up root and leaf with two tables joined by a foreign key', async () => {
    const { s } = f;
    for (const n of ['root', 'leaf']) {
      await s.db(n).query('create table public.customer (id int primary key, name text)');
      await s
        .db(n)
        .query(
          'create table public.orders (id int primary key, customer int not null references public.customer, total numeric)',
        );
      await s.db(n).query('create sequence public.order_no');
    }
    await s.db('root').query("insert into customer select g, 'c' || g from generate_series(1, 50) g");
    await s.db('root').query('insert into orders select g, 1 + g % 50, g from generate_series(1, 500) g');
    await s.build('root', [['leaf', 'leaf', 'root']]);
    s.startAll();
  });

  it('copies both tables and restores the foreign key once both are ok', async () => {
    const { s } = f;
    await addOnBoth('public.customer');
    await addOnBoth('public.orders');
    await waitUntil('fkey restored on the leaf', async () => {
      const r = await s
        .db('leaf')
        .query(
          "select convalidated from pg_constraint where conrelid = 'public.orders'::regclass and contype = 'f'",
        );
      return r.rows.length === 1 && r.rows[0].convalidated === true;
    });
    // The lazy restore validates the constraint in one step and forgets the parked definition in
    // the next, so the row may outlive the validation by one worker loop.
    await waitUntil(
      'pending fkey forgotten on the leaf',
      async () =>
        (await s.db('leaf').query('select count(*)::int as n from londiste.pending_fkeys')).rows[0].n === 0,
    );
    await s.db('root').query("insert into customer values (51, 'new')");
    await s.db('root').query('insert into orders values (501, 51, 9.5)');
    await s.caughtUp('leaf', 'root');
    expect(await s.fingerprint('leaf', 'orders')).toEqual(await s.fingerprint('root', 'orders'));
    expect(await s.fingerprint('leaf', 'customer')).toEqual(await s.fingerprint('root', 'customer'));
  });

  it('moves a sequence on the leaf after the root publishes it', async () => {
    const { s } = f;
    expect(
      (await s.db('root').one('select * from londiste.local_add_seq($1, $2)', [s.queue, 'public.order_no']))
        .ret_code,
    ).toBe(200);
    await s.db('root').query("select setval('public.order_no', 1234)");
    await waitUntil(
      'leaf knows the sequence',
      async () =>
        (
          await s
            .db('leaf')
            .query('select 1 from londiste.get_seq_list($1) where seq_name = $2', [
              s.queue,
              'public.order_no',
            ])
        ).rows.length > 0,
    );
    expect(
      (await s.db('leaf').one('select * from londiste.local_add_seq($1, $2)', [s.queue, 'public.order_no']))
        .ret_code,
    ).toBe(200);
    await s.db('root').query("select setval('public.order_no', 5000)");
    await waitUntil('sequence moved on the leaf', async () => {
      const r = await s.db('leaf').one('select last_value from public.order_no');
      return BigInt(r.last_value) >= 5000n;
    });
  });

  it('runs EXECUTE once on the leaf, between the rows before and after it', async () => {
    const { s } = f;
    await s.db('root').query('insert into orders values (502, 1, 1)');
    const sql = 'alter table public.orders add column note text;';
    const start = await s
      .db('root')
      .one('select * from londiste.execute_start($1, $2, $3, true, null)', [s.queue, 'add-note.sql', sql]);
    expect(start.ret_code).toBe(200);
    await s.db('root').query(sql);
    await s.db('root').one('select * from londiste.execute_finish($1, $2)', [s.queue, 'add-note.sql']);
    await s.db('root').query("insert into orders values (503, 1, 2, 'after the alter')");
    await s.caughtUp('leaf', 'root');
    const note = await s.db('leaf').one('select note from orders where id = 503');
    expect(note.note).toBe('after the alter');
    const applied = await s
      .db('leaf')
      .query('select execute_file from londiste.applied_execute where queue_name = $1', [s.queue]);
    expect(applied.rows.map((r) => r.execute_file)).toEqual(['add-note.sql']);
    expect(await s.fingerprint('leaf', 'orders')).toEqual(await s.fingerprint('root', 'orders'));
  });
});
