// Two partition roots (shards), each its own queue, merged into one table on a leaf database
// that is a leaf of both: `add-table --merge-all` on one queue takes the table from both, the
// copy roles make one part (the lead) empty the table and take its indexes off, the other wait
// for that and then add its rows, both wait in catching-up until every part is copied, the lead
// puts the indexes back, then each part replays its own queue. Both roots keep writing all the
// while; the leaf ends with the union.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createDatabase } from '../support/db.ts';
import { LondisteSet, waitUntil } from './replication.ts';

type Db = Awaited<ReturnType<typeof createDatabase>>;

describe('merging two partition roots into one leaf table', () => {
  let dbs: Record<'r1' | 'r2' | 'leaf', Db>;
  let a: LondisteSet;
  let b: LondisteSet;
  const roles = new Set<string>();
  beforeAll(async () => {
    const made = await Promise.all([createDatabase(), createDatabase(), createDatabase()]);
    for (const d of made) {
      const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
      if (!has.rows.length) await install(await d.connect(), { manifest: 'londiste/install.sql' });
    }
    const [r1, r2, leaf] = made as [Db, Db, Db];
    dbs = { r1, r2, leaf };
    a = new LondisteSet({ r1, leaf }, 'part1');
    b = new LondisteSet({ r2, leaf }, 'part2');
  });
  afterAll(async () => {
    await a?.stopAll();
    await b?.stopAll();
    await Promise.all(Object.values(dbs ?? {}).map((d) => d.drop()));
  });

  const DDL = 'create table public.t (id bigint primary key, v text, n int)';
  const fingerprint = async (d: Db) =>
    (
      await d.query(
        `select count(*)::bigint as n, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text as sum from public.t t`,
      )
    ).rows[0] as { n: bigint; sum: string };

  it('copies both halves into one table under writes, then replays both', async () => {
    await a.build('r1', [['leaf', 'leaf', 'r1']]);
    await b.build('r2', [['leaf', 'leaf', 'r2']]);
    for (const d of [dbs.r1, dbs.r2, dbs.leaf]) await d.query(DDL);
    await dbs.leaf.query('create index t_n on public.t (n)');
    await dbs.r1.query("insert into t select g, 'r1 ' || g, g % 10 from generate_series(1, 10000) g");
    await dbs.r2.query("insert into t select g, 'r2 ' || g, g % 10 from generate_series(10001, 20000) g");
    await dbs.r1.query('select * from londiste.local_add_table($1, $2)', ['part1', 'public.t']);
    await dbs.r2.query('select * from londiste.local_add_table($1, $2)', ['part2', 'public.t']);
    const watch = (s: LondisteSet) => {
      s.copyPatch.leaf = {
        faultPoint: async () => {
          const r = await dbs.leaf.query(
            'select copy_role from londiste.get_table_list($1) where table_name = $2',
            [s.queue, 'public.t'],
          );
          if (r.rows[0]?.copy_role) roles.add(r.rows[0].copy_role);
        },
      };
    };
    watch(a);
    watch(b);
    for (const s of [a, b]) {
      const root = s === a ? 'r1' : 'r2';
      s.startTicker(root);
      s.startWorker(root);
      s.startWorker('leaf');
    }
    for (const [s, q] of [
      [a, 'part1'],
      [b, 'part2'],
    ] as const) {
      await waitUntil(
        `leaf knows the table in ${q}`,
        async () =>
          (
            await s
              .db('leaf')
              .query('select 1 from londiste.get_table_list($1) where table_name = $2', [q, 'public.t'])
          ).rows.length > 0,
      );
    }
    let stop = false;
    const writer = (d: Db, base: number, lo: number) =>
      (async () => {
        let i = 0;
        while (!stop) {
          await d.query("insert into t values ($1, 'new', 1)", [base + i]);
          await d.query("update t set v = v || '+', n = n + 1 where id = $1", [lo + ((i * 7919) % 10000)]);
          await d.query('delete from t where id = $1', [lo + ((i * 104729) % 10000)]);
          i++;
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
    const writers = [writer(dbs.r1, 100_000, 1), writer(dbs.r2, 200_000, 10_001)];

    // without merge_all the leaf refuses: the table has two sources here (in a transaction
    // rolled back, as the admin runs it: the function answers 405 after marking its own row)
    const c = await dbs.leaf.connect();
    await c.query('begin');
    const refused = await c.query('select * from londiste.local_add_table($1, $2)', ['part1', 'public.t']);
    await c.query('rollback');
    expect(refused.rows[0].ret_code).toBe(405);
    const added = await dbs.leaf.one('select * from londiste.local_add_table($1, $2, $3)', [
      'part1',
      'public.t',
      ['merge_all'],
    ]);
    expect(added.ret_code).toBe(200);
    await waitUntil(
      'both parts ok on the leaf',
      async () =>
        (await a.tableState('leaf', 'public.t')) === 'ok' &&
        (await b.tableState('leaf', 'public.t')) === 'ok',
      120_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(writers);
    await a.caughtUp('leaf', 'r1');
    await b.caughtUp('leaf', 'r2');
    const [f1, f2, fl] = [await fingerprint(dbs.r1), await fingerprint(dbs.r2), await fingerprint(dbs.leaf)];
    expect(BigInt(fl.n)).toBe(BigInt(f1.n) + BigInt(f2.n));
    expect(BigInt(fl.sum)).toBe(BigInt(f1.sum) + BigInt(f2.sum));
    // one part led, the structure is back, nothing stored
    expect(roles.has('lead')).toBe(true);
    const idx = await dbs.leaf.one(
      `select count(*)::int as n, count(*) filter (where indisprimary)::int as pk
         from pg_index where indrelid = 'public.t'::regclass`,
    );
    expect(idx).toEqual({ n: 2, pk: 1 });
    const stored = await dbs.leaf.query(
      "select queue_name from londiste.table_info where table_name = 'public.t' and dropped_ddl is not null",
    );
    expect(stored.rows).toEqual([]);
  }, 180_000);
});
