// Merge-leaf nodes with a combined queue: two partition roots (part1, part2) feed a database
// that is a merge-leaf of both and the root of a combined queue (comb); the merged table's
// events go on from there into comb, and a leaf of comb further down ends with the union of
// both roots, under writes on both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createDatabase } from '../support/db.ts';
import { LondisteSet, waitUntil } from './replication.ts';

type Db = Awaited<ReturnType<typeof createDatabase>>;

describe('merge-leaf nodes feeding a combined root', () => {
  let dbs: Record<'r1' | 'r2' | 'm' | 'f', Db>;
  let a: LondisteSet;
  let b: LondisteSet;
  let c: LondisteSet;
  beforeAll(async () => {
    const made = await Promise.all([createDatabase(), createDatabase(), createDatabase(), createDatabase()]);
    for (const d of made) {
      const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
      if (!has.rows.length) await install(await d.connect(), { manifest: 'londiste/install.sql' });
    }
    const [r1, r2, m, f] = made as [Db, Db, Db, Db];
    dbs = { r1, r2, m, f };
    a = new LondisteSet({ r1, m }, 'part1');
    b = new LondisteSet({ r2, m }, 'part2');
    c = new LondisteSet({ m, f }, 'comb');
  });
  afterAll(async () => {
    for (const s of [a, b, c]) await s?.stopAll();
    await Promise.all(Object.values(dbs ?? {}).map((d) => d.drop()));
  });

  const fingerprint = async (d: Db) =>
    (
      await d.query(
        `select count(*)::bigint as n, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text as sum from public.t t`,
      )
    ).rows[0] as { n: bigint; sum: string };
  const knows = (d: Db, q: string) =>
    waitUntil(
      `${q} knows public.t`,
      async () =>
        (await d.query('select 1 from londiste.get_table_list($1) where table_name = $2', [q, 'public.t']))
          .rows.length > 0,
    );

  it('passes both partitions on through the combined queue', async () => {
    await c.build('m', [['f', 'leaf', 'm']]);
    for (const [s, root] of [
      [a, 'r1'],
      [b, 'r2'],
    ] as const) {
      await s.build(root, []);
      await s.admin('m', (adm) =>
        adm.createNode('leaf', {
          nodeName: 'm',
          location: dbs.m.url,
          worker: 'w_m',
          provider: s.db(root).url,
          combinedQueue: 'comb',
        }),
      );
    }
    for (const d of Object.values(dbs))
      await d.query('create table public.t (id bigint primary key, v text, n int)');
    await dbs.r1.query("insert into t select g, 'r1 ' || g, g % 10 from generate_series(1, 5000) g");
    await dbs.r2.query("insert into t select g, 'r2 ' || g, g % 10 from generate_series(5001, 10000) g");
    await dbs.r1.query('select * from londiste.local_add_table($1, $2)', ['part1', 'public.t']);
    await dbs.r2.query('select * from londiste.local_add_table($1, $2)', ['part2', 'public.t']);
    a.startTicker('r1');
    b.startTicker('r2');
    c.startTicker('m');
    for (const [s, root] of [
      [a, 'r1'],
      [b, 'r2'],
      [c, 'f'],
    ] as const) {
      s.startWorker(root);
      s.startWorker('m');
    }
    await knows(dbs.m, 'part1');
    await knows(dbs.m, 'part2');
    let stop = false;
    const writer = (d: Db, base: number, lo: number) =>
      (async () => {
        let i = 0;
        while (!stop) {
          await d.query("insert into t values ($1, 'new', 1)", [base + i]);
          await d.query("update t set v = v || '+', n = n + 1 where id = $1", [lo + ((i * 7919) % 5000)]);
          await d.query('delete from t where id = $1', [lo + ((i * 104729) % 5000)]);
          i++;
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
    const writers = [writer(dbs.r1, 100_000, 1), writer(dbs.r2, 200_000, 5001)];
    // on the merge-leaf: both partitions, and (by add-table itself) the combined root's set
    const added = await dbs.m.one('select * from londiste.local_add_table($1, $2, $3)', [
      'part1',
      'public.t',
      ['merge_all'],
    ]);
    expect(added.ret_code).toBe(200);
    await waitUntil(
      'both parts ok on the merge-leaf',
      async () =>
        (await a.tableState('m', 'public.t')) === 'ok' && (await b.tableState('m', 'public.t')) === 'ok',
      120_000,
    );
    expect(await c.tableState('m', 'public.t')).toBe('ok');
    await knows(dbs.f, 'comb');
    await dbs.f.query('select * from londiste.local_add_table($1, $2)', ['comb', 'public.t']);
    await waitUntil(
      'table ok on the leaf of comb',
      async () => (await c.tableState('f', 'public.t')) === 'ok',
      120_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(writers);
    await a.caughtUp('m', 'r1');
    await b.caughtUp('m', 'r2');
    await c.caughtUp('f', 'm');
    const [f1, f2] = [await fingerprint(dbs.r1), await fingerprint(dbs.r2)];
    for (const d of [dbs.m, dbs.f]) {
      const got = await fingerprint(d);
      expect(BigInt(got.n)).toBe(BigInt(f1.n) + BigInt(f2.n));
      expect(BigInt(got.sum)).toBe(BigInt(f1.sum) + BigInt(f2.sum));
    }
    // each partition's ticks went into comb too
    const ticks = await dbs.m.query(
      "select distinct ev_extra1 from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue where q.queue_name = 'comb' and ev_type = 'pgq.tick-id' order by 1",
    );
    expect(ticks.rows.map((r) => r.ev_extra1)).toEqual(['part1', 'part2']);
  }, 240_000);
});
