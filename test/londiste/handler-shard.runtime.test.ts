// shard / part through the worker: the root's trigger writes the row's hash into ev_extra3, a
// branch (shard 0 of 2, from partconf.conf as the original reads it) copies only its rows
// (copyCondition), replays only its events and passes only those on in its own queue
// (copyEvent), so the leaf below gets the same half; bad shard info is refused.
import { describe, expect, it } from 'vitest';
import { createHandlerString } from '../../layers/londiste/handler.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { loadShardInfo } from '../../layers/londiste/handlers/shard.ts';
import { dbUrlencode } from '../../layers/londiste/urlenc.ts';
import { useLondisteSet, waitUntil } from './replication.ts';

const PARTCONF = `create schema partconf;
  create table partconf.conf (shard_nr int, shard_mask int, shard_count int);
  create function partconf.get_hash_raw(i int) returns int language sql immutable as 'select hashint4(i)'`;

describe('shard handler', () => {
  const f = useLondisteSet(['root', 'branch', 'leaf']);

  it('keeps only the node’s shard in copy, replay and the branch queue', async () => {
    const { s } = f;
    const q = s.queue;
    const DDL = 'create table public.s (id int primary key, v text)';
    for (const n of ['root', 'branch', 'leaf']) await s.db(n).query(`${PARTCONF}; ${DDL}`);
    await s.db('branch').query('insert into partconf.conf values (0, 1, 2)');
    await s.db('leaf').query('insert into partconf.conf values (0, 1, 2)');
    await s.build('root', [
      ['branch', 'branch', 'root'],
      ['leaf', 'leaf', 'branch'],
    ]);
    const hstr = createHandlerString('shard', ['key=id']);
    const h = buildHandler('public.s', hstr);
    const tgargs = h.triggerArgs([]);
    expect(tgargs).toEqual(["ev_extra3='hash='||partconf.get_hash_raw(id)"]);
    const attrs = dbUrlencode({ handler: hstr });
    const add = (n: string) =>
      s.db(n).one('select * from londiste.local_add_table($1, $2, $3, $4)', [q, 'public.s', tgargs, attrs]);
    expect((await add('root')).ret_code).toBe(200);
    await s.db('root').query("insert into public.s select g, 'before ' || g from generate_series(1, 200) g");
    s.startAll();
    for (const n of ['branch', 'leaf']) {
      await waitUntil(
        `${n} knows the table`,
        async () =>
          (
            await s
              .db(n)
              .query('select 1 from londiste.get_table_list($1) where table_name = $2', [q, 'public.s'])
          ).rows.length > 0,
      );
      expect((await add(n)).ret_code).toBe(200);
    }
    await waitUntil(
      'copies done',
      async () =>
        (await s.tableState('branch', 'public.s')) === 'ok' &&
        (await s.tableState('leaf', 'public.s')) === 'ok',
    );
    await s.db('root').query("insert into public.s select g, 'after ' || g from generate_series(201, 400) g");
    await s.db('root').query("update public.s set v = v || '!' where id % 3 = 0");
    await s.db('root').query('delete from public.s where id % 7 = 0');
    await s.caughtUp('branch', 'root');
    await s.caughtUp('leaf', 'root');

    const mine = 'select id, v from public.s where (partconf.get_hash_raw(id) & 1) = 0 order by id';
    const expected = (await s.db('root').query(mine)).rows;
    expect(expected.length).toBeGreaterThan(100);
    expect(expected.length).toBeLessThan(250);
    expect((await s.db('branch').query('select id, v from public.s order by id')).rows).toEqual(expected);
    expect((await s.db('leaf').query('select id, v from public.s order by id')).rows).toEqual(expected);
    // once the table was local there, the branch passed on only its shard's events (before, it
    // passed every event on, as the original does for tables that are not local)
    const since = `select ev_extra3 from pgq.event_all where ev_extra1 = 'public.s'
      and ev_id > (select max(ev_id) from pgq.event_all where ev_extra1 = 'public.s' and ev_data like '%before%' and ev_type like 'I:%')`;
    const passed = await s.db('branch').query(since);
    expect(passed.rows.length).toBeGreaterThan(0);
    for (const r of passed.rows) expect(BigInt(r.ev_extra3.replace('hash=', '')) & 1n).toBe(0n);
    const all = await s.db('root').query(since);
    expect(passed.rows.length).toBeLessThan(all.rows.length);
  }, 150_000);

  it('refuses bad shard info and a missing key argument', async () => {
    const { s } = f;
    const db = s.db('leaf');
    await db.query('update partconf.conf set shard_mask = 2, shard_count = 3');
    const c = await db.connect();
    try {
      await expect(loadShardInfo(c)).rejects.toThrow(/invalid shard info/);
      await db.query('update partconf.conf set shard_nr = 5, shard_mask = 1, shard_count = 2');
      await expect(loadShardInfo(c)).rejects.toThrow(/invalid shard nr/);
    } finally {
      await c.end();
    }
    expect(() => buildHandler('public.s', 'shard')).toThrow(/hash_key/);
    expect(buildHandler('public.s', 'part(hash_key=id&hashfunc=app.h)').triggerArgs([])).toEqual([
      "ev_extra3='hash='||app.h(id)",
    ]);
    expect(buildHandler('public.s', 'shard(key=id&disable_replay=1)').needsTable()).toBe(false);
  });
});
