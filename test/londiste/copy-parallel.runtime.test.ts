// Parallel copy of one table: the key ranges cover every row exactly once for integer, text and
// composite keys (analyzed or not), small or keyless tables get one stream, and through a
// root → leaf set a table copied with several streams while the root keeps writing ends equal,
// with its indexes rebuilt and no DDL left stored.
import { describe, expect, it } from 'vitest';
import { planRanges } from '../../layers/londiste/copy/ranges.ts';
import { useLondisteSet, waitUntil } from './replication.ts';

describe('copy ranges on real tables', () => {
  const f = useLondisteSet(['root', 'leaf']);

  const coverage = async (table: string, streams: number, minRows: number) => {
    const db = f.s.db('root');
    const plan = await planRanges(db.pool, table, { streams, minRowsPerStream: minRows });
    const total = Number((await db.one(`select count(*) as n from ${table}`)).n);
    const counts: number[] = [];
    for (const c of plan.conditions) {
      counts.push(Number((await db.one(`select count(*) as n from only ${table} where ${c || 'true'}`)).n));
    }
    return { plan, total, counts };
  };

  it('splits an integer key into equal-ish ranges covering every row once', async () => {
    const db = f.s.db('root');
    await db.query('create table r_int (id bigint primary key, v text)');
    await db.query("insert into r_int select g, 'v' || g from generate_series(1, 40000) g");
    await db.query('analyze r_int');
    const { plan, total, counts } = await coverage('public.r_int', 4, 1000);
    expect(plan.conditions).toHaveLength(4);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
    for (const n of counts) expect(n).toBeGreaterThan(total / 8);
  });

  it('splits text and composite keys, also before any analyze', async () => {
    const db = f.s.db('root');
    await db.query('create table r_text (k text primary key, v int)');
    await db.query('insert into r_text select md5(g::text), g from generate_series(1, 20000) g');
    await db.query('create table r_comp (region text, n int, v text, primary key (region, n))');
    await db.query("insert into r_comp select 'region ' || (g % 7), g, 'x' from generate_series(1, 20000) g");
    for (const t of ['public.r_text', 'public.r_comp']) {
      const { plan, total, counts } = await coverage(t, 3, 1000);
      expect(plan.estimatedRows).toBeGreaterThan(0);
      expect(plan.conditions).toHaveLength(3);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
      for (const n of counts) expect(n).toBeGreaterThan(0);
    }
  });

  it('keeps one stream for a small table or one without a primary key', async () => {
    const db = f.s.db('root');
    await db.query('create table r_small (id int primary key)');
    await db.query('insert into r_small select generate_series(1, 500)');
    await db.query('analyze r_small');
    expect(
      (await planRanges(db.pool, 'public.r_small', { streams: 2, minRowsPerStream: 1000 })).conditions,
    ).toEqual(['']);
    await db.query('create table r_nokey (id int)');
    await db.query('insert into r_nokey select generate_series(1, 5000)');
    const nokey = await planRanges(db.pool, 'public.r_nokey', { streams: 2, minRowsPerStream: 10 });
    expect(nokey.conditions).toEqual(['']);
    expect(nokey.reason).toBe('no primary key');
  });
});

describe('parallel copy root → leaf', () => {
  const f = useLondisteSet(['root', 'leaf']);
  const points: string[] = [];

  it('sets up root and leaf, copy jobs with several streams', async () => {
    const { s } = f;
    await s.build('root', [['leaf', 'leaf', 'root']]);
    s.copyPatch.leaf = {
      copyStreams: 3,
      copyMinRowsPerStream: 2000,
      faultPoint: (p) => {
        points.push(p);
      },
    };
    s.startAll();
  });

  const copyUnderWrites = async (
    table: string,
    ddl: string,
    fill: string,
    write: (i: number) => string[],
  ) => {
    const { s } = f;
    points.length = 0;
    await s.db('root').query(ddl);
    await s.db('leaf').query(ddl);
    await s.db('leaf').query(`create index on ${table} (v)`);
    await s.db('root').query(fill);
    await s.db('root').query(`analyze ${table}`);
    await s.addTable('root', table);
    await s.knows('leaf', table);
    let stop = false;
    let i = 0;
    const writer = (async () => {
      while (!stop) {
        for (const q of write(i++)) await s.db('root').query(q);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await s.addTable('leaf', table);
    await waitUntil(
      'table ok on the leaf',
      async () => (await s.tableState('leaf', table)) === 'ok',
      120_000,
    );
    stop = true;
    await writer;
    await s.caughtUp('leaf', 'root');
    expect(await s.fingerprint('leaf', table)).toEqual(await s.fingerprint('root', table));
    // the structure is back (pk and the leaf's own index), nothing left stored
    const idx = await s.db('leaf').one(
      `select count(*)::int as n, count(*) filter (where indisprimary)::int as pk
         from pg_index where indrelid = $1::regclass`,
      [table],
    );
    expect(idx).toEqual({ n: 2, pk: 1 });
    const info = await s
      .db('leaf')
      .one('select dropped_ddl from londiste.table_info where queue_name = $1 and table_name = $2', [
        s.queue,
        table,
      ]);
    expect(info.dropped_ddl).toBeNull();
    return points.filter((p) => p === 'copy:stream-done').length;
  };

  it('copies a bigint-keyed table with 3 streams under writes', async () => {
    const streams = await copyUnderWrites(
      'public.p_int',
      'create table public.p_int (id bigint primary key, v text, n int, ts timestamptz)',
      "insert into p_int select g, 'v' || g, g % 100, now() from generate_series(1, 30000) g",
      (i) => [
        `insert into p_int values (${30001 + i}, 'new', 1, now())`,
        `update p_int set v = v || '+', n = n + 1 where id = ${1 + ((i * 7919) % 30000)}`,
        `delete from p_int where id = ${1 + ((i * 104729) % 30000)}`,
      ],
    );
    expect(streams).toBe(3);
  }, 150_000);

  it('copies a composite text key with several streams', async () => {
    const streams = await copyUnderWrites(
      'public.p_comp',
      'create table public.p_comp (region text, n int, v text, primary key (region, n))',
      "insert into p_comp select 'region ' || (g % 5), g, md5(g::text) from generate_series(1, 20000) g",
      (i) => [
        `insert into p_comp values ('region new', ${i}, 'new')`,
        `update p_comp set v = v || '+' where region = 'region ${i % 5}' and n = ${1 + ((i * 5) % 20000)}`,
      ],
    );
    expect(streams).toBe(3);
  }, 150_000);

  it('copies a small table with one stream', async () => {
    const streams = await copyUnderWrites(
      'public.p_small',
      'create table public.p_small (id int primary key, v text)',
      "insert into p_small select g, 'v' from generate_series(1, 1000) g",
      (i) => [`update p_small set v = v || '+' where id = ${1 + (i % 1000)}`],
    );
    expect(streams).toBe(0);
    expect(points).toContain('copy:loaded');
  }, 150_000);
});
