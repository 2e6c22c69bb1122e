// repair's bucket pass (buckets.ts) on a root → leaf set: single-integer-key tables are read per
// key window in buckets and only the differing buckets merged, on several connection pairs per
// side. Whatever the drift — at window borders, in a key gap where the provider has no rows, a
// window the leaf lost entirely, negative keys and 0, sparse keys up to the end of int8, an int4
// key — the statements are the same, in the same order, as from one merge of the whole table.
// So for text (C), composite and uuid keys by hash buckets in windows of the first key column:
// windows lost entirely, keys below and above the provider's, NULL ↔ '' in non-key columns, at
// windows of ~100 rows (differences at many borders). A key whose collation is neither C nor
// POSIX keeps the whole merge. Then --apply by buckets makes compare equal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LondisteAdmin } from '../../layers/londiste/admin.ts';
import { compareTables } from '../../layers/londiste/compare/compare.ts';
import { type RepairOptions, repairTables } from '../../layers/londiste/compare/repair.ts';
import { type Logger, silentLogger } from '../../layers/util/log.ts';
import { useLondisteSet } from './replication.ts';

const TABLES = {
  'public.bk': 'create table public.bk (id bigint primary key, v text, n int)',
  'public.ik': 'create table public.ik (id int primary key, v text)',
  'public.tk': 'create table public.tk (k text primary key, v int)',
  'public.ck': 'create table public.ck (a int, b text, v int, primary key (a, b))',
  'public.tc': 'create table public.tc (k text, n int, v text, primary key (k, n))',
  'public.uk': 'create table public.uk (u uuid primary key, v text)',
  // a collation other than C / POSIX (even one that sorts as C): the whole merge
  'public.lk': 'create table public.lk (k text collate "ucs_basic" primary key, v int)',
};
const ROWS = [
  `insert into bk select g, 'b' || g, g % 5 from generate_series(-3000, 30000) g`,
  // sparse keys far above the rest, and the last values of int8
  `insert into bk select 1000000000000 + g * 1000000, 's' || g, 1 from generate_series(1, 300) g`,
  `insert into bk select 9223372036854775800 + g, 'm' || g, 2 from generate_series(0, 6) g`,
  `insert into ik select g, 'i' || g from generate_series(1, 6000) g`,
  `insert into tk select 'k' || g, g from generate_series(1, 3000) g`,
  `insert into ck select g % 50, 'c' || g, g from generate_series(1, 3000) g`,
  `insert into tc select 'k' || (g % 100), g, case when g % 7 = 0 then null else 'v' || g end from generate_series(1, 4000) g`,
  `insert into uk select md5(g::text)::uuid, 'u' || g from generate_series(1, 3000) g`,
  `insert into lk select 'l' || g, g from generate_series(1, 1000) g`,
];
const DRIFT = `
  update bk set v = 'drift' where id % 97 = 0;
  delete from bk where id % 89 = 5;
  update bk set n = null where id in (0, -1, -2999, 30000);
  delete from bk where id between 20000 and 22500;
  insert into bk select g, 'gap', 0 from generate_series(40000, 40100) g;
  insert into bk select g, 'below', 0 from generate_series(-5000, -4990) g;
  update bk set v = 'far' where id in (1000000000000 + 150 * 1000000, 9223372036854775806);
  delete from bk where id = 9223372036854775800;
  insert into bk values (9223372036854775807, 'max', 0), (5000000000000, 'between', 0);
  update ik set v = 'drift' where id % 101 = 0;
  delete from ik where id in (1, 6000);
  insert into ik values (-7, 'neg'), (2147483647, 'max');
  update tk set v = -v where v % 113 = 0;
  delete from tk where k = 'k7';
  insert into tk values ('zz', 1);
  update ck set v = 0 where v % 211 = 0;
  delete from ck where a = 3 and b = 'c3';
  insert into ck values (99, 'x', 1);
  update tc set v = '' where n % 21 = 0;
  update tc set v = null where n % 53 = 0 and n % 7 <> 0;
  update tc set v = 'x' || v where n % 97 = 0;
  delete from tc where k >= 'k3' and k < 'k4';
  insert into tc values ('a', 1, 'below'), ('zzz', 1, null), ('k5', 0, 'new'), ('k', 2, '');
  update uk set v = 'd' where v like '%77';
  delete from uk where v like 'u1_';
  insert into uk values ('00000000-0000-0000-0000-000000000000', 'min'), ('ffffffff-ffff-ffff-ffff-ffffffffffff', 'max');
  update lk set v = 0 where v % 10 = 0`;

describe('londiste repair by buckets', () => {
  const f = useLondisteSet(['root', 'leaf']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-buckets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const withAdmin = async <T>(fn: (ctx: ReturnType<LondisteAdmin['compareContext']>) => Promise<T>) => {
    const a = new LondisteAdmin({ queue: f.s.queue, localLocation: f.s.db('leaf').url });
    try {
      return await fn(a.compareContext());
    } finally {
      await a.close();
    }
  };
  const repair = (o: Partial<RepairOptions>) =>
    withAdmin((ctx) =>
      repairTables({ s: ctx.s, localLocation: f.s.db('leaf').url, tables: [], log: silentLogger, ...o }),
    );
  const compare = () =>
    withAdmin((ctx) =>
      compareTables({ s: ctx.s, localLocation: f.s.db('leaf').url, tables: [], log: silentLogger }),
    );

  beforeAll(async () => {
    const { s } = f;
    for (const db of ['root', 'leaf']) for (const ddl of Object.values(TABLES)) await s.db(db).query(ddl);
    for (const sql of ROWS) await s.db('root').query(sql);
    await s.db('root').query('analyze');
    await s.build('root', [['leaf', 'leaf', 'root']]);
    s.startAll();
    for (const t of Object.keys(TABLES)) {
      await s.addTable('root', t);
      await s.knows('leaf', t);
      await s.addTable('leaf', t);
    }
    for (const t of Object.keys(TABLES)) await s.waitOk('leaf', t);
    await s.db('leaf').query(`begin; set local session_replication_role = replica; ${DRIFT}; commit`);
    await s.db('leaf').query('analyze');
  }, 120_000);

  it('gives the statements of the whole merge, in its order, and --apply makes the tables equal', async () => {
    const whole = path.join(dir, 'whole.sql');
    const buckets = path.join(dir, 'buckets.sql');
    const a = await repair({ output: whole, bucketRows: Number.MAX_SAFE_INTEGER });
    // small windows (many borders, a window the leaf lost), three connection pairs per side
    const said: string[] = [];
    const log: Logger = { ...silentLogger, info: (m: string) => void said.push(m) };
    const b = await repair({ output: buckets, bucketRows: 1, windowRows: 1500, parallel: 3, log });
    const body = (file: string) => readFileSync(file, 'utf8').split('\n').slice(1).join('\n');
    expect(b.tables).toEqual(a.tables);
    expect(body(buckets)).toBe(body(whole));
    const counts = Object.fromEntries(a.tables.map((t) => [t.table, [t.inserts, t.updates, t.deletes]]));
    expect(counts['public.bk']![0]).toBeGreaterThan(2500); // the lost window
    expect(counts['public.bk']![2]).toBe(101 + 11 + 2); // gap, below the minimum, int8's end, between
    expect(counts['public.ik']).toEqual([2, 59, 2]);
    expect(body(buckets)).toContain("delete from only public.bk where id = '9223372036854775807';");
    expect(b.tables.find((t) => t.table === 'public.bk')).toMatchObject({ providerRows: 33308 });
    // every table but lk went by buckets in many windows, merging only some of their rows
    const windows = said.filter((m) => / key window\(s\); /.test(m));
    expect(windows.map((m) => m.split(':')[0])).toEqual([
      'public.bk',
      'public.ik',
      'public.tk',
      'public.ck',
      'public.tc',
      'public.uk',
    ]);
    // (The drift leaves most buckets of every table clean: uk's ~1 % of rows changed at ~12 rows
    // per bucket leaves ~85 % of its buckets untouched. With 10 % changed, ~70 % of the buckets
    // of a window differed, over the half at which a window is merged whole: whether any window
    // stayed partial hung on where TABLESAMPLE put the windows' border.)
    for (const m of windows.slice(2)) {
      const [, n, rows] = /(\d+) key window\(s\); (\d+) provider rows merged/.exec(m)!;
      expect(Number(n), m).toBeGreaterThan(1);
      expect(Number(rows), m).toBeLessThan(3000);
    }
    // k3, k30–k39 lost on the leaf (40 rows each); four keys only there, below, between, above
    expect(counts['public.tc']![0]).toBe(11 * 40);
    expect(counts['public.tc']![2]).toBe(4);
    expect(body(buckets)).toContain("update only public.tc set v = null where k = 'k21' and n = '21';");
    expect(body(buckets)).toContain("update only public.tc set v = 'v97' where k = 'k97' and n = '97';");
    // windows of ~100 rows: differences at many window borders, windows lost entirely
    const small = await repair({ output: buckets, bucketRows: 1, windowRows: 100, parallel: 2 });
    expect(small.tables).toEqual(a.tables);
    expect(body(buckets)).toBe(body(whole));
    const bk = /(\d+) key window\(s\); (\d+) provider rows merged/.exec(windows[0]!)!;
    expect(Number(bk[1])).toBeGreaterThan(10);
    expect(Number(bk[2])).toBeLessThan(33308);

    // --repair-where (naming the column as table.column, as schema.table.column) restricts both
    // passes alike
    for (const where of [
      'bk.id >= -3000 and bk.id < 25000',
      'public.bk.id >= -3000 and public.bk.id < 25000',
    ]) {
      const wa = await repair({ tables: ['bk'], where, output: whole, bucketRows: Number.MAX_SAFE_INTEGER });
      const wb = await repair({ tables: ['bk'], where, output: buckets, bucketRows: 1, windowRows: 1500 });
      expect(wb.tables).toEqual(wa.tables);
      expect(wa.tables[0]!.providerRows).toBe(28000);
      expect(body(buckets)).toBe(body(whole));
    }

    const applied = await repair({ apply: true, bucketRows: 1, windowRows: 1500 });
    expect(applied.differences).toBe(a.differences);
    expect((await compare()).differ).toBe(0);
    expect((await repair({ output: buckets, bucketRows: 1, windowRows: 1500 })).differences).toBe(0);
  }, 180_000);
});
