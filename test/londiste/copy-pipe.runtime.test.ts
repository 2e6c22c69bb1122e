// The copy's data path (layers/londiste/copy/pipe.ts) between two real databases: every kind of
// value arrives byte-identical in text and binary format, a condition and a subset of columns
// are honoured, progress is reported, and any failure — the provider connection killed mid-copy,
// a value the subscriber rejects, an abort — ends both COPYs: the subscriber rolls back cleanly
// and both connections stay usable. Also: the columns both tables share, and the
// application_name by which status finds the copy.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonColumns } from '../../layers/londiste/copy/columns.ts';
import { copyApplicationName, copyTable } from '../../layers/londiste/copy/pipe.ts';
import type { CopyProgress } from '../../layers/londiste/copy/progress.ts';
import { createDatabase, type TestDb } from '../support/db.ts';

let provider: TestDb & { drop(): Promise<void> };
let subscriber: TestDb & { drop(): Promise<void> };
let src: pg.Client;
let dst: pg.Client;

const VALUES_TABLE = `
  create table vals (
    id bigint primary key, t text, b bytea, arr text[], iarr int[], j json, jb jsonb, ts timestamptz,
    d date, iv interval, f float8, num numeric, u uuid, bo boolean
  )`;

beforeAll(async () => {
  [provider, subscriber] = await Promise.all([
    createDatabase({ empty: true }),
    createDatabase({ empty: true }),
  ]);
  await provider.query(`${VALUES_TABLE};
    insert into vals values
      (1, null, null, null, null, null, null, null, null, null, null, null, null, null),
      (2, e'tab\\there', '\\x00ff5c0a'::bytea, array['a,b', 'c"d', null, 'e\\f', ''], array[1, null, 3],
          '{"k": "v\\n", "n": [1, 2]}', '{"z": 1, "a": "\\u00e9"}', '2024-02-29 12:34:56.789012+05:30',
          '0001-01-01 BC', '-1 day -02:03:04.5', 0.1 + 0.2, 123456789012345678901234567890.123456789,
          'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true),
      (3, e'new\\nline\\r\\nand \\\\ backslash', '', '{}', '{}', '[]', '{}', 'infinity', 'infinity',
          '1 mon', 'NaN', 'NaN', null, false),
      (4, 'unicode: ünïcødé ✓ 日本語 🐘', '\\x'::bytea, array['🐘'], array[2147483647], '"\\u0000x"', '"s"',
          '-infinity', '2000-01-01', '0', '-0', '-0.0000001', null, null),
      (5, '\\N', '\\x5c4e'::bytea, array['\\N', 'NULL'], null, 'null', 'null', now(), now(), '1 year',
          1e308, 0, null, null);
    create table big (id bigint primary key, v text, n int, ts timestamptz);
    insert into big select i, md5(i::text), i % 1000, now() from generate_series(1, 200000) i;
    analyze big`);
  await subscriber.query(`${VALUES_TABLE};
    create table big (id bigint primary key, v text, n int, ts timestamptz)`);
  [src, dst] = await Promise.all([provider.connect(), subscriber.connect()]);
});

afterAll(async () => {
  await Promise.all([provider?.drop(), subscriber?.drop()]);
});

const dump = (db: TestDb, table: string) =>
  db.query(`select x::text as row from ${table} x order by id`).then((r) => r.rows.map((x) => x.row));

async function inTx<T>(fn: () => Promise<T>): Promise<T> {
  await src.query('begin transaction isolation level repeatable read');
  await dst.query('begin');
  try {
    const r = await fn();
    await Promise.all([src.query('commit'), dst.query('commit')]);
    return r;
  } catch (err) {
    await Promise.all([src.query('rollback'), dst.query('rollback')]);
    throw err;
  }
}

describe('copyTable', () => {
  it.each(['text', 'binary'] as const)(
    'carries NULLs, tabs, newlines, backslashes, unicode, bytea, arrays, json (%s)',
    async (format) => {
      await subscriber.query('truncate vals');
      const cols = await commonColumns(src, 'public.vals', dst, 'public.vals');
      expect(cols.binaryCompatible).toBe(true);
      const r = await inTx(() =>
        copyTable(src, dst, {
          srcTable: 'public.vals',
          dstTable: 'public.vals',
          columns: cols.common,
          format,
        }),
      );
      expect(r.rows).toBe(5);
      expect(r.bytes).toBeGreaterThan(100);
      expect(await dump(subscriber, 'vals')).toEqual(await dump(provider, 'vals'));
    },
  );

  it('reads text values back as written whatever DateStyle, IntervalStyle and float digits the sessions use', async () => {
    await subscriber.query('truncate vals');
    await src.query(
      `set datestyle = 'SQL, DMY'; set intervalstyle = 'sql_standard'; set extra_float_digits = -3`,
    );
    await dst.query(`set datestyle = 'German, MDY'; set intervalstyle = 'iso_8601'`);
    try {
      await inTx(() =>
        copyTable(src, dst, {
          srcTable: 'public.vals',
          dstTable: 'public.vals',
          columns: ['id', 'ts', 'd', 'iv', 'f'],
        }),
      );
    } finally {
      await src.query('reset datestyle; reset intervalstyle; reset extra_float_digits');
      await dst.query('reset datestyle; reset intervalstyle');
    }
    const q = 'select id, ts::text, d::text, iv::text, f::text from vals order by id';
    expect((await subscriber.query(q)).rows).toEqual((await provider.query(q)).rows);
  });

  it('copies only the rows of a condition, and a subset of columns', async () => {
    await subscriber.query('truncate vals');
    const r = await inTx(() =>
      copyTable(src, dst, {
        srcTable: 'public.vals',
        dstTable: 'public.vals',
        columns: ['id', 't', 'jb'],
        condition: 'id % 2 = 0',
      }),
    );
    expect(r.rows).toBe(2);
    const got = await subscriber.query('select id, t, jb::text, b, arr from vals order by id');
    const want = await provider.query('select id, t, jb::text from vals where id % 2 = 0 order by id');
    expect(got.rows).toEqual(want.rows.map((x) => ({ ...x, b: null, arr: null })));
  });

  it('FREEZE after a truncate in the same transaction writes frozen rows; without the truncate PostgreSQL refuses it', async () => {
    const copy = () =>
      copyTable(src, dst, {
        srcTable: 'public.vals',
        dstTable: 'public.vals',
        columns: ['id', 't'],
        freeze: true,
      });
    expect(await inTx(copy).catch((e) => e)).toMatchObject({
      kind: 'copy_failed',
      message: expect.stringContaining('cannot perform COPY FREEZE'),
    });
    const r = await inTx(async () => {
      await dst.query('truncate vals');
      return copy();
    });
    expect(r.rows).toBe(5);
    // Frozen tuples carry HEAP_XMIN_FROZEN (0x0300) in their infomask.
    await subscriber.query('create extension if not exists pageinspect');
    const page = await subscriber.query(
      `select (t_infomask & 768) = 768 as frozen from heap_page_items(get_raw_page('vals', 0)) where t_infomask is not null`,
    );
    expect(page.rows.map((x) => x.frozen)).toEqual([true, true, true, true, true]);
  });

  it('reports progress with rows, bytes, rate and an ETA from the provider estimate', async () => {
    await subscriber.query('truncate big');
    const seen: CopyProgress[] = [];
    const r = await inTx(() =>
      copyTable(src, dst, {
        srcTable: 'public.big',
        dstTable: 'public.big',
        columns: ['id', 'v', 'n', 'ts'],
        onProgress: (p) => seen.push(p),
        progressIntervalMs: 0,
      }),
    );
    expect(r.rows).toBe(200000);
    const last = seen.at(-1) as CopyProgress;
    expect(last).toMatchObject({ table: 'public.big', rows: 200000, done: true, fraction: 1, etaMs: 0 });
    expect(last.bytes).toBe(r.bytes);
    const mid = seen.filter((p) => !p.done && p.rows > 0);
    expect(mid.length).toBeGreaterThan(1);
    expect(mid[0]?.estimatedRows).toBe(200000);
    expect(mid[0]?.etaMs).toBeGreaterThan(0);
    expect(mid.every((p, i) => i === 0 || p.rows >= (mid[i - 1] as CopyProgress).rows)).toBe(true);
    expect((await subscriber.one('select count(*)::int as n from big')).n).toBe(200000);
  });

  it('sets application_name for status (pg_stat_progress_copy) and cuts it to 63 bytes on a character boundary', async () => {
    expect(copyApplicationName('public.big')).toBe('londiste copy public.big');
    const long = `public.${'é'.repeat(40)}`;
    const name = copyApplicationName(long);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    expect(long.startsWith(name.slice('londiste copy '.length))).toBe(true);
    const seen: string[] = [];
    await subscriber.query('truncate big');
    await inTx(() =>
      copyTable(src, dst, {
        srcTable: 'public.big',
        dstTable: 'public.big',
        columns: ['id'],
        progressIntervalMs: 0,
        onProgress: () => {
          if (seen.length === 0) {
            seen.push('pending');
            void subscriber
              .query(
                `select a.application_name, p.command, p.type from pg_stat_progress_copy p
                   join pg_stat_activity a using (pid) where p.datname = current_database()`,
              )
              .then((x) => seen.push(...x.rows.map((r) => `${r.application_name}|${r.command}|${r.type}`)));
          }
        },
      }),
    );
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toContain('londiste copy public.big|COPY FROM|PIPE');
  });

  it('a provider connection killed mid-copy fails the copy; the subscriber rolls back cleanly', async () => {
    await subscriber.query('truncate big');
    const victim = await provider.connect();
    await victim.query('begin transaction isolation level repeatable read');
    await dst.query('begin');
    const pid = (await victim.query('select pg_backend_pid() as pid')).rows[0].pid;
    let killed = false;
    const err = await copyTable(victim, dst, {
      srcTable: 'public.big',
      dstTable: 'public.big',
      columns: ['id', 'v', 'n', 'ts'],
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (!killed && p.rows > 0) {
          killed = true;
          void provider.query('select pg_terminate_backend($1)', [pid]);
        }
      },
    }).catch((e) => e);
    expect(killed).toBe(true);
    expect(err).toMatchObject({ name: 'LondisteError', kind: 'copy_failed' });
    expect(err.message).toMatch(/copy of public\.big → public\.big failed/);
    await dst.query('rollback');
    expect((await dst.query('select 1 as ok')).rows[0].ok).toBe(1);
    expect((await subscriber.one('select count(*)::int as n from big')).n).toBe(0);
    expect(await stuckCopies()).toEqual([]);
  });

  it('a value the subscriber rejects fails the copy; the provider COPY is cancelled and both connections stay usable', async () => {
    await subscriber.query(
      'create table strict_big (id bigint primary key, v text, n int check (n < 500), ts timestamptz)',
    );
    const err = await inTx(() =>
      copyTable(src, dst, {
        srcTable: 'public.big',
        dstTable: 'public.strict_big',
        columns: ['id', 'v', 'n', 'ts'],
      }),
    ).catch((e) => e);
    expect(err).toMatchObject({
      kind: 'copy_failed',
      message: expect.stringMatching(/violates check constraint/),
    });
    expect((await src.query('select 1 as ok')).rows[0].ok).toBe(1);
    expect((await dst.query('select 1 as ok')).rows[0].ok).toBe(1);
    expect((await subscriber.one('select count(*)::int as n from strict_big')).n).toBe(0);
    expect(await stuckCopies()).toEqual([]);
  });

  it('an abort signal ends both COPYs mid-stream', async () => {
    await subscriber.query('truncate big');
    const ac = new AbortController();
    const err = await inTx(() =>
      copyTable(src, dst, {
        srcTable: 'public.big',
        dstTable: 'public.big',
        columns: ['id', 'v', 'n', 'ts'],
        progressIntervalMs: 0,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.rows > 1000) ac.abort();
        },
      }),
    ).catch((e) => e);
    expect(err).toMatchObject({ kind: 'copy_failed', message: 'copy of public.big → public.big aborted' });
    expect((await src.query('select 1 as ok')).rows[0].ok).toBe(1);
    expect((await dst.query('select 1 as ok')).rows[0].ok).toBe(1);
    expect((await subscriber.one('select count(*)::int as n from big')).n).toBe(0);
    expect(await stuckCopies()).toEqual([]);
  });

  it('errors: a bad condition, a missing table, no columns', async () => {
    const run = (o: Partial<Parameters<typeof copyTable>[2]>) =>
      inTx(() =>
        copyTable(src, dst, { srcTable: 'public.big', dstTable: 'public.big', columns: ['id'], ...o }),
      ).catch((e) => e);
    expect(await run({ condition: 'no_such_col > 0' })).toMatchObject({
      kind: 'copy_failed',
      message: expect.stringContaining('column "no_such_col" does not exist'),
    });
    expect(await run({ dstTable: 'public.nope' })).toMatchObject({
      kind: 'copy_failed',
      message: expect.stringContaining('relation "public.nope" does not exist'),
    });
    expect(await run({ columns: [] })).toMatchObject({ kind: 'usage' });
    expect((await src.query('select 1 as ok')).rows[0].ok).toBe(1);
    expect((await dst.query('select 1 as ok')).rows[0].ok).toBe(1);
  });
});

describe('commonColumns', () => {
  it('keeps provider order, reports columns missing on either side, skips generated ones, decides binary', async () => {
    await provider.query('create table cc (a int, b text, c int, d int, e text)');
    await subscriber.query(
      `create type mood as enum ('ok');
       create table cc (e text, x int, c bigint, a int, d int generated always as (a * 2) stored, m mood)`,
    );
    const m = await commonColumns(src, 'public.cc', dst, 'public.cc');
    expect(m).toEqual({
      common: ['a', 'c', 'e'],
      missingOnSubscriber: ['b'],
      missingOnProvider: ['x', 'm'],
      generatedOnSubscriber: ['d'],
      binaryCompatible: false, // c: int vs bigint
    });
    await expect(commonColumns(src, 'public.nope', dst, 'public.cc')).rejects.toMatchObject({
      kind: 'not_found',
    });
  });
});

/** COPY statements still running on either database (none may be left by a failed copy). */
async function stuckCopies() {
  const q = `select pid, query from pg_stat_activity where datname = current_database() and state = 'active'
               and query ilike 'copy %' and pid <> pg_backend_pid()`;
  for (let i = 0; i < 50; i++) {
    const rows = [...(await provider.query(q)).rows, ...(await subscriber.query(q)).rows];
    if (rows.length === 0) return rows;
    await new Promise((r) => setTimeout(r, 20));
  }
  return [...(await provider.query(q)).rows, ...(await subscriber.query(q)).rows];
}
