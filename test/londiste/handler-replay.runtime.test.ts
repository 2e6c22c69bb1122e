// bulk and dispatch through the worker on a leaf: add-table with the handler, the copy job's copy
// (dispatch: into the parent, as the original copies into dest_table), replay of later batches
// (dispatch: into partitions made on demand; bulk: through its temp table), and an EXECUTE that
// adds a column between batches, after which both keep replicating.
import { describe, expect, it } from 'vitest';
import { createHandlerString } from '../../layers/londiste/handler.ts';
import { dbUrlencode } from '../../layers/londiste/urlenc.ts';
import { useLondisteSet, waitUntil } from './replication.ts';

describe('handlers through the worker', () => {
  const f = useLondisteSet(['root', 'leaf']);

  it('bulk and daily_field copy, replay and survive an EXECUTE', async () => {
    const { s } = f;
    const q = s.queue;
    const root = s.db('root');
    const leaf = s.db('leaf');
    const DDL = `create table public.ev (id int primary key, ts timestamptz not null, v text);
      create table public.bk (id int primary key, v text, n int)`;
    await root.query(DDL);
    await leaf.query(DDL);
    await root.query(`insert into public.ev select g, '2026-02-01'::timestamptz + g * interval '1 hour', 'old'
                        from generate_series(1, 30) g;
                      insert into public.bk select g, 'v' || g, g from generate_series(1, 500) g`);
    await s.build('root', [['leaf', 'leaf', 'root']]);
    for (const t of ['public.ev', 'public.bk'])
      expect((await root.one('select * from londiste.local_add_table($1, $2)', [q, t])).ret_code).toBe(200);
    s.startAll();
    await waitUntil(
      'leaf knows the tables',
      async () => (await leaf.query('select 1 from londiste.get_table_list($1)', [q])).rows.length === 2,
    );
    const handlers = {
      'public.ev': createHandlerString('daily_field', ['part_field=ts']),
      'public.bk': createHandlerString('bulk', ['method=1']),
    };
    for (const [t, h] of Object.entries(handlers)) {
      const r = await leaf.one('select * from londiste.local_add_table($1, $2, $3, $4)', [
        q,
        t,
        [],
        dbUrlencode({ handler: h }),
      ]);
      expect(r.ret_code).toBe(200);
    }
    await waitUntil(
      'copies done',
      async () =>
        (await s.tableState('leaf', 'public.ev')) === 'ok' &&
        (await s.tableState('leaf', 'public.bk')) === 'ok',
    );
    // the copy went into the parent
    expect((await leaf.one('select count(*)::int as n from only public.ev')).n).toBe(30);
    expect((await leaf.one('select count(*)::int as n from public.bk')).n).toBe(500);

    await root.query(`insert into public.ev values (100, '2026-03-01 10:00', 'a'), (101, '2026-03-02 10:00', 'b');
      update public.bk set v = v || '+' where id % 10 = 0;
      delete from public.bk where id % 7 = 0;
      insert into public.bk values (1000, 'new', 1)`);
    await s.caughtUp('leaf', 'root');
    const kids = await leaf.query(
      "select inhrelid::regclass::text as t from pg_inherits where inhparent = 'public.ev'::regclass order by 1",
    );
    expect(kids.rows.map((r) => r.t)).toEqual(['ev_2026_03_01', 'ev_2026_03_02']);
    expect((await leaf.one('select v from public.ev_2026_03_02 where id = 101')).v).toBe('b');
    expect(await s.fingerprint('leaf', 'public.bk')).toEqual(await s.fingerprint('root', 'public.bk'));

    // EXECUTE between batches: a column added on every node
    const sql = 'alter table public.bk add column note text;';
    expect(
      (await root.one('select * from londiste.execute_start($1, $2, $3, true, null)', [q, 'note.sql', sql]))
        .ret_code,
    ).toBe(200);
    await root.query(sql);
    await root.one('select * from londiste.execute_finish($1, $2)', [q, 'note.sql']);
    await root.query(
      `update public.bk set note = 'noted' where id < 5; insert into public.bk values (1001, 'x', 2, 'n')`,
    );
    await s.caughtUp('leaf', 'root');
    expect(await s.fingerprint('leaf', 'public.bk')).toEqual(await s.fingerprint('root', 'public.bk'));
    const failed = await leaf.query(
      "select table_name from londiste.get_table_list($1) where table_attrs like '%error%'",
      [q],
    );
    expect(failed.rows).toEqual([]);
  }, 150_000);
});
