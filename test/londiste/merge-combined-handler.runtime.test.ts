// A merge-leaf's handler on the way into the combined queue: the partition's table has the shard
// handler (shard 0 of 2 on the merge-leaf, from partconf.conf), so the merge-leaf replays only its
// shard's rows and passes only those events on into the combined root's queue (copyEvent), as a
// branch does into its own queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createHandlerString } from '../../layers/londiste/handler.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { dbUrlencode } from '../../layers/londiste/urlenc.ts';
import { createDatabase } from '../support/db.ts';
import { LondisteSet, waitUntil } from './replication.ts';

type Db = Awaited<ReturnType<typeof createDatabase>>;

const PARTCONF = `create schema partconf;
  create table partconf.conf (shard_nr int, shard_mask int, shard_count int);
  create function partconf.get_hash_raw(i int) returns int language sql immutable as 'select hashint4(i)'`;
const DDL = 'create table public.s (id int primary key, v text)';

describe('a handler on the way into the combined queue', () => {
  let r1: Db;
  let m: Db;
  let part: LondisteSet;
  let comb: LondisteSet;
  beforeAll(async () => {
    [r1, m] = await Promise.all([createDatabase(), createDatabase()]);
    for (const d of [r1, m]) {
      const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
      if (!has.rows.length) await install(await d.connect(), { manifest: 'londiste/install.sql' });
      await d.query(`${PARTCONF}; ${DDL}`);
    }
    await m.query('insert into partconf.conf values (0, 1, 2)');
    part = new LondisteSet({ r1, m }, 'part1');
    comb = new LondisteSet({ m }, 'comb');
  }, 120_000);
  afterAll(async () => {
    for (const s of [part, comb]) await s?.stopAll();
    await Promise.all([r1?.drop(), m?.drop()]);
  });

  it('passes only the shard’s events on into the combined queue', async () => {
    await comb.build('m', []);
    await part.build('r1', []);
    await part.admin('m', (adm) =>
      adm.createNode('leaf', {
        nodeName: 'm',
        location: m.url,
        worker: 'w_m',
        provider: r1.url,
        combinedQueue: 'comb',
      }),
    );
    const hstr = createHandlerString('shard', ['key=id']);
    const tgargs = buildHandler('public.s', hstr).triggerArgs([]);
    const attrs = dbUrlencode({ handler: hstr });
    const add = (d: Db) =>
      d.one('select * from londiste.local_add_table($1, $2, $3, $4)', ['part1', 'public.s', tgargs, attrs]);
    expect((await add(r1)).ret_code).toBe(200);
    part.startTicker('r1');
    comb.startTicker('m');
    part.startWorker('r1');
    part.startWorker('m');
    await waitUntil(
      'the merge-leaf knows public.s',
      async () =>
        (
          await m.query('select 1 from londiste.get_table_list($1) where table_name = $2', [
            'part1',
            'public.s',
          ])
        ).rows.length > 0,
    );
    expect((await add(m)).ret_code).toBe(200);
    await waitUntil(
      'public.s ok on the merge-leaf',
      async () => (await part.tableState('m', 'public.s')) === 'ok',
    );
    await r1.query("insert into public.s select g, 'v ' || g from generate_series(1, 300) g");
    await r1.query("update public.s set v = v || '!' where id % 3 = 0");
    await part.caughtUp('m', 'r1');

    const mine = 'select id, v from public.s where (partconf.get_hash_raw(id) & 1) = 0 order by id';
    const expected = (await r1.query(mine)).rows;
    expect(expected.length).toBeGreaterThan(100);
    expect(expected.length).toBeLessThan(200);
    expect((await m.query('select id, v from public.s order by id')).rows).toEqual(expected);
    // in the combined queue: data events of public.s, each of the merge-leaf's shard, and fewer
    // than the partition root's queue has
    const events = `select ev_extra3 from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue
      where q.queue_name = $1 and ev_extra1 = 'public.s' and ev_type ~ '^[IU]'`;
    const passed = (await m.query(events, ['comb'])).rows;
    const all = (await r1.query(events, ['part1'])).rows;
    expect(passed.length).toBeGreaterThan(100);
    expect(passed.length).toBeLessThan(all.length);
    for (const r of passed) expect(BigInt(r.ev_extra3.replace('hash=', '')) & 1n).toBe(0n);
  }, 180_000);
});
