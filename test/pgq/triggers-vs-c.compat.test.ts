// Golden comparison of the event triggers: the same DDL and DML run on a database with Debian's
// C extension (`create extension pgq`) and on one with our sql/install.sql, on the same server;
// every event (ev_type, ev_data, ev_extra1..4) and every error message must be identical.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { probeCompat, useSideBySide } from '../support/compat.ts';

const env = await probeCompat();
if (!env.ok) console.warn(`compat (event triggers vs the original) skipped: ${env.reason}`);

type Outcome = { ok: true } | { error: string };
interface Ev {
  ev_type: string | null;
  ev_data: string | null;
  ev_extra1: string | null;
  ev_extra2: string | null;
  ev_extra3: string | null;
  ev_extra4: string | null;
}

const ALL = 'after insert or update or delete';
const trig = (table: string, name: string, fn: string, args: string, when = ALL) =>
  `create trigger ${name} ${when} on ${table} for each row execute procedure pgq.${fn}(${args})`;

/** A logutriga row trigger as trig() writes it: name, timing and events, table, arguments. */
const OWN_TRIGGER =
  /^create trigger (\S+) (.+) on (.+) for each row execute procedure pgq\.logutriga\((.*)\)$/s;

const MULTI_ROW = '20 mixed columns, multi-row statements, DateStyle / bytea_output / TimeZone variants';
/** Scenarios whose events are compared as a set (multi-row statements after updates). */
const UNORDERED = new Set([MULTI_ROW]);

/** Scenarios: each is a list of statements run one by one (errors recorded, not fatal). */
const scenarios: Record<string, string[]> = {
  'many column types, all three triggers, insert/update/delete/truncate': [
    `create table s.t1 (id int4, k2 text, txt text, num numeric, ts timestamptz, tsn timestamp, d date,
       arr int[], tarr text[], js json, jb jsonb, ba bytea, b boolean, i2 int2, i8 int8, f4 float4,
       f8 float8, u uuid, iv interval, ch char(4), vc varchar(10), ip inet, "Weird Col" text,
       primary key (k2, id))`,
    trig('s.t1', 'tj', 'jsontriga', "'q'"),
    trig('s.t1', 'tl', 'logutriga', "'q'"),
    trig('s.t1', 'ts', 'sqltriga', "'q'"),
    "create trigger trj after truncate on s.t1 for each statement execute procedure pgq.jsontriga('q')",
    "create trigger trl after truncate on s.t1 for each statement execute procedure pgq.logutriga('q')",
    "create trigger trs after truncate on s.t1 for each statement execute procedure pgq.sqltriga('q')",
    `insert into s.t1 values (1, 'a b', E'x & = % + ? '' " \\\\ \\n\\t end ü 日本 € ~*()!', 1.50,
       '2024-03-05 10:11:12.345+02', '2024-03-05 10:11:12.5', '2024-03-05', '{1,2,NULL}',
       '{"a b","c,d",NULL,"q\\"x"}', '{"a": [1, 2]}', '{"b": 1, "a": "x"}', E'\\\\x00ff41', true, -3,
       9007199254740993, 1.5e20, 3.14159265358979, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '1 day 02:03:04', 'ab', 'v c', '10.0.0.1', 'w')`,
    "insert into s.t1 (id, k2) values (2, 'k')",
    "insert into s.t1 (id, k2, b, ts, d, num, f8) values (3, 'z', false, 'infinity', '-infinity', 'NaN', '-0')",
    "update s.t1 set txt = 'new', b = null where id = 1",
    'update s.t1 set txt = txt where id = 2',
    'update s.t1 set num = 1.5 where id = 1',
    "update s.t1 set arr = '{3}', js = '{}' where id = 1",
    'update s.t1 set id = 5 where id = 2',
    'delete from s.t1 where id = 2',
    'delete from s.t1 where id = 3',
    'truncate s.t1',
  ],
  // the bench's 20-column table: multi-row INSERT … SELECT, UPDATE and DELETE, with odd text,
  // non-ASCII, control characters, NULLs and the settings that change types' output text
  [MULTI_ROW]: [
    `create table s.t20 (id int8 primary key, a int4, b bigint, c numeric, d text, e text, f boolean,
       g timestamptz, h date, i bytea, j json, k int4[], l text[], m text, n int4, o numeric, p boolean,
       q timestamptz, r varchar(20), s jsonb)`,
    trig('s.t20', 'tj', 'jsontriga', "'q', 'backup'"),
    trig('s.t20', 'tl', 'logutriga', "'q', 'backup'"),
    trig('s.t20', 'ts', 'sqltriga', "'q', 'backup'"),
    `insert into s.t20 select i, i % 1000, i * 100000000::bigint, i * 1.5, 'text ' || i,
       case i % 4 when 0 then E'odd & = % + ''" \\\\ ü ' || i when 1 then E'ctl \\x01\\x7f\\t\\n\\r ' || i
                  when 2 then '日本 € ~*()!@#$^[]{}|;:,<>?/\`' else null end,
       i % 2 = 0, '2024-01-01 10:00:00+00'::timestamptz + i * interval '1 second', '2024-01-01'::date + i % 1000,
       decode(lpad(to_hex(i), 6, '0'), 'hex'), '{"a": 1, "b": "x y"}'::json, array[i, 2, null], array['a b', 'c,d', null],
       case when i % 3 = 0 then null else 'x' end, null, 3.14, null, '2024-06-30 23:59:59.999999+03',
       'plain', '{"b": [1, 2]}'::jsonb
       from generate_series(1, 40) i`,
    "update s.t20 set d = d || '!', n = a, p = not f where id % 3 = 0",
    'update s.t20 set a = a where id < 5',
    'delete from s.t20 where id % 5 = 0',
    "set datestyle = 'SQL, DMY'; set bytea_output = 'escape'; update s.t20 set i = i where id < 8; reset datestyle; reset bytea_output",
    "set datestyle = 'Postgres, MDY'; update s.t20 set b = b + 1 where id < 4; reset datestyle",
    "set datestyle = 'German'; set timezone = 'Asia/Kolkata'; update s.t20 set o = 2 where id < 3; reset datestyle; set timezone = 'Europe/Tallinn'",
    "set timezone = '<+0330>-03:30'; update s.t20 set o = 3 where id < 3; set timezone = 'Europe/Tallinn'",
    "set intervalstyle = 'sql_standard'; alter table s.t20 add column iv interval default '-1 year -2 mons +3 days -04:05:06'; insert into s.t20 (id, iv) values (100, '1 day'); reset intervalstyle",
    'delete from s.t20',
  ],
  // the type-specific escaping: arrays of numbers (bounds decoration, exponents, NaN, NULL) and
  // bytea in both output formats
  'arrays of numbers and bytea': [
    `create table s.arr (id int primary key, i4 int4[], f8 float8[], nu numeric[], bo bool[], i8 int8[],
       oa oid[], i2m int2[], ba bytea)`,
    trig('s.arr', 'tj', 'jsontriga', "'q'"),
    trig('s.arr', 'tl', 'logutriga', "'q', 'backup'"),
    trig('s.arr', 'ts', 'sqltriga', "'q'"),
    `insert into s.arr values (1, '[0:2]={1,-2,NULL}', '{1e+20,-1.5e-07,NaN,Infinity,-Infinity}', '{1.50,NaN,-0}',
       '{t,f,NULL}', '{9007199254740993}', '{1,2}', '[1:2][3:4]={{1,2},{3,4}}', E'\\x00ff5c41')`,
    'insert into s.arr (id) values (2)',
    "set bytea_output = 'escape'; update s.arr set ba = E'\\\\x00 %&=+' where id = 1; reset bytea_output",
    "update s.arr set f8 = '{}', i4 = '{{1,2},{3,4}}' where id = 1",
    'delete from s.arr',
  ],
  // each date/time type escapes only what it can print: every DateStyle, BC, infinity
  'dates and times in every DateStyle': [
    `create table s.dt (id int primary key, d date, t time, tz timetz, ts timestamp, tsz timestamptz)`,
    trig('s.dt', 'tl', 'logutriga', "'q', 'backup'"),
    trig('s.dt', 'ts', 'sqltriga', "'q'"),
    ...['ISO, MDY', 'SQL, DMY', 'SQL, MDY', 'Postgres, MDY', 'Postgres, DMY', 'German'].map(
      (style, i) =>
        `set datestyle = '${style}'; set timezone = 'America/St_Johns';
         insert into s.dt values (${i * 3 + 1}, '2024-02-29', '23:59:59.5', '10:00:00+05:30', '2024-02-29 10:00:01.25', '2024-02-29 10:00:01.25+00'),
           (${i * 3 + 2}, '0044-03-15 BC', '00:00', '00:00:00-03:30', '0044-03-15 12:00 BC', '0044-03-15 12:00+00 BC'),
           (${i * 3 + 3}, 'infinity', null, null, '-infinity', 'infinity');
         update s.dt set t = t where id = ${i * 3 + 1};
         reset datestyle; reset timezone`,
    ),
    'delete from s.dt',
  ],
  // json, jsonb, text arrays and types without a rule of their own: the usual values take
  // logutriga's short path (structure characters only), any other character the full encoding
  'structured values, plain and with every kind of character': [
    `create table s.st (id int primary key, js json, jb jsonb, ta text[], iv interval, ip inet, vc varchar(30)[],
       pt point, mo money, x xml)`,
    trig('s.st', 'tj', 'jsontriga', "'q'"),
    trig('s.st', 'tl', 'logutriga', "'q', 'backup'"),
    trig('s.st', 'ts', 'sqltriga', "'q'"),
    `insert into s.st values (1, '{"a": [1, 2], "b": "x y"}', '{"k": {"n": [true, null]}}', '{"a b","c,d"}',
       '1 day 02:00:00', '10.0.0.1', '{x,y}', '(1,2)', 12.5, '<a>b</a>')`,
    `insert into s.st values (2, E'{"t": "tab\\\\there",\\n "u": "ü€", "p": "%&=+?#"}',
       '{"c": "\\u0001 ctl", "q": "a\\"b", "e": "日本 ~*()!@$^|;''"}', '{"q\\"x","ü","\\\\","a&b=c"}',
       '-1 years +2 mons', '10.0.0.0/8', '{"a b%","é"}', '(-1.5,2e-3)', -3, E'<a t="1&amp;2">\u00fc</a>')`,
    'insert into s.st (id) values (3)',
    "update s.st set js = '[]', ta = '{}' where id = 1",
    'update s.st set jb = jb || \'{"new": "ü"}\' where id = 2',
    'delete from s.st',
  ],
  // more columns than a function call takes arguments (the encoders split their concat() calls)
  'a 120-column table': [
    `create table s.wide (id int primary key, ${Array.from({ length: 119 }, (_, i) => `c${i} ${i % 2 ? 'text' : 'int'}`).join(', ')})`,
    trig('s.wide', 'tj', 'jsontriga', "'q'"),
    trig('s.wide', 'tl', 'logutriga', "'q', 'backup'"),
    trig('s.wide', 'ts', 'sqltriga', "'q'"),
    `insert into s.wide (id, c1, c2, c117, c118) values (1, 'a b', 2, 'x&y', 5), (2, null, null, 'ü', null)`,
    `update s.wide set ${Array.from({ length: 119 }, (_, i) => `c${i} = ${i % 2 ? "'v'" : i}`).join(', ')} where id = 1`,
    "update s.wide set c3 = 'only one' where id = 2",
    'delete from s.wide',
  ],
  'ignore=, pkey=, backup': [
    'create table s.t2 (id int primary key, a text, b text, c int)',
    trig('s.t2', 'tj', 'jsontriga', "'q', 'ignore=b, c', 'pkey=id, a', 'backup'"),
    trig('s.t2', 'tl', 'logutriga', "'q', 'ignore=b,c', 'pkey=id,a', 'backup'"),
    trig('s.t2', 'ts', 'sqltriga', "'q', 'ignore=b c', 'pkey=a id', 'backup'"),
    "insert into s.t2 values (1, 'x', 'y', 3)",
    "update s.t2 set b = 'z'",
    "update s.t2 set b = 'z2', c = 4",
    'update s.t2 set b = b',
    "update s.t2 set c = 5, a = 'q'",
    'delete from s.t2',
  ],
  'when=, ev_*= expressions and _pgq_ev_* columns': [
    'create table s.t3 (id int primary key, a text, _pgq_ev_extra3 text, _pgq_ev_type text)',
    trig(
      's.t3',
      'tl',
      'logutriga',
      "'q', 'when=a <> ''skip''', 'ev_extra1=a || ''!''', 'ev_extra4=id+1', 'ev_data=null'",
    ),
    trig('s.t3', 'tj', 'jsontriga', "'q', 'ev_type=now()::date > ''2000-01-01''', 'ev_extra2=array[a,a]'"),
    trig('s.t3', 'ts', 'sqltriga', "'q', 'when=id > 1'"),
    "insert into s.t3 values (1, 'x', 'e3', 'mytype')",
    "insert into s.t3 values (2, 'skip', null, null)",
    "update s.t3 set a = 'yy' where id = 1",
    'delete from s.t3 where id = 1',
    'create table s.t3b (id int primary key, a text)',
    trig('s.t3b', 'tl', 'logutriga', "'q', 'when=null'", 'after insert'),
    "insert into s.t3b values (1, 'x')",
    'create table s.t3c (id int primary key, a text)',
    trig('s.t3c', 'tl', 'logutriga', "'q', 'when=1'", 'after insert'),
    "insert into s.t3c values (1, 'x')",
    // any SQL expression: dollar quotes, casts, function calls, ||, E'' strings; $n refused
    'create table s.t3e (id int primary key, a text)',
    trig(
      's.t3e',
      'tl',
      'logutriga',
      "'q', 'ev_extra3=$$333$$', 'ev_extra1=upper(a) || $t$-$t$ || id::text', 'ev_type=E''x\\''y''', 'when=a <> $$skip$$'",
    ),
    trig('s.t3e', 'tj', 'jsontriga', "'q', 'ev_extra2=$q$a$1$q$ || coalesce(a, ''-'')'"),
    trig('s.t3e', 'ts', 'sqltriga', "'q', 'ev_extra4=length($$abc$$)'"),
    "insert into s.t3e values (1, 'x')",
    "insert into s.t3e values (2, 'skip')",
    'create table s.t3f (id int primary key, a text)',
    trig('s.t3f', 'tl', 'logutriga', "'q', 'ev_extra3=$1'", 'after insert'),
    "insert into s.t3f values (1, 'x')",
    'create table s.t3d (id int primary key, _pgq_ev_bogus text)',
    trig('s.t3d', 'tl', 'logutriga', "'q'", 'after insert'),
    'insert into s.t3d values (1)',
  ],
  'SKIP, deny, bad arguments, tables without primary key, replication role': [
    'create table s.t4 (id int primary key, a text)',
    trig('s.t4', 'tl', 'logutriga', "'q', 'SKIP'", 'before insert or update or delete'),
    "insert into s.t4 values (1, 'x')",
    'select count(*) from s.t4',
    'create table s.t5 (id int primary key, a text)',
    trig('s.t5', 'tl', 'sqltriga', "'q', 'SKIP'"),
    "insert into s.t5 values (1, 'x')",
    'create table s.t6 (id int primary key, a text)',
    trig('s.t6', 'tl', 'jsontriga', "'q', 'deny'"),
    "insert into s.t6 values (1, 'x')",
    'create table s.t7 (id int primary key, a text)',
    trig('s.t7', 'tl', 'logutriga', "'q', 'nonsense'"),
    "insert into s.t7 values (1, 'x')",
    'create table s.t8 (id int, a text)',
    trig('s.t8', 'tj', 'jsontriga', "'q'"),
    trig('s.t8', 'tl', 'logutriga', "'q'"),
    trig('s.t8', 'ts', 'sqltriga', "'q'"),
    "insert into s.t8 values (1, 'x')",
    "update s.t8 set a = 'y'",
    'delete from s.t8',
    'create table s.t9 (id int primary key, a text)',
    trig('s.t9', 'tl', 'logutriga', "'q'"),
    "set session_replication_role = local; insert into s.t9 values (1, 'x'); reset session_replication_role",
    "insert into s.t9 values (2, 'y')",
    'create table s.t10 (id int primary key, a text)',
    "create trigger tr after truncate on s.t10 for each statement execute procedure pgq.logutriga('q', 'ignore=a')",
    'truncate s.t10',
  ],
  'quoted names, dropped columns, domains, schema changes between transactions': [
    'create domain s.posint as int4 check (value > 0)',
    'create table s."Odd Table" ("Key" int primary key, "select" text, gone text, dom s.posint, flag boolean)',
    trig('s."Odd Table"', 'tj', 'jsontriga', "'q'"),
    trig('s."Odd Table"', 'tl', 'logutriga', "'q'"),
    trig('s."Odd Table"', 'ts', 'sqltriga', "'q'"),
    `insert into s."Odd Table" values (1, 'a''b', 'x', 7, true)`,
    'alter table s."Odd Table" drop column gone',
    `insert into s."Odd Table" values (2, 'c', 8, false)`,
    'alter table s."Odd Table" add column extra numeric',
    `insert into s."Odd Table" values (3, 'd', 9, null, 2.50)`,
    'alter table s."Odd Table" rename column "select" to sel',
    `update s."Odd Table" set sel = 'e', extra = 3 where "Key" = 3`,
    'alter table s."Odd Table" rename to "Renamed"',
    `delete from s."Renamed" where "Key" = 1`,
  ],
};

async function run(c: pg.Client, sql: string): Promise<Outcome> {
  try {
    await c.query(sql);
    return { ok: true };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe.skipIf(!env.ok)('event triggers: ours vs the original C triggers', () => {
  const dbs = useSideBySide('trg', {
    original: async (c) => {
      await c.query('create extension pgq');
      await c.query("set timezone = 'Europe/Tallinn'");
      await c.query("select pgq.create_queue('q')");
    },
    ours: async (c) => {
      await install(c);
      await c.query("set timezone = 'Europe/Tallinn'");
      await c.query("select pgq.create_queue('q')");
    },
  });

  async function events(c: pg.Client, table: string): Promise<Ev[]> {
    const r = await c.query<Ev>(
      `select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4 from ${table} order by ev_id`,
    );
    await c.query(`delete from ${table}`);
    return r.rows;
  }

  /**
   * The statement as ours runs it: with `own`, a logutriga row trigger becomes one with the
   * table's own logutriga (pgq._trigger_rowfn), as londiste.create_trigger makes them.
   */
  async function oursSql(sql: string, own: boolean): Promise<string> {
    const m = own ? OWN_TRIGGER.exec(sql) : null;
    if (!m) return sql;
    const [, name, when, table, args] = m;
    const r = await dbs.ours.query<{ fn: string }>('select pgq._trigger_rowfn($1::regclass) as fn', [table]);
    return `create trigger ${name} ${when} on ${table} for each row execute procedure ${r.rows[0]?.fn}(${args})`;
  }

  for (const [label, own] of [
    ['', false],
    ["the tables' own logutriga: ", true],
  ] as const) {
    for (const [name, statements] of Object.entries(scenarios)) {
      it(`gives identical events and errors: ${label}${name}`, async () => {
        await compare(name, statements, own);
      });
    }
  }

  async function compare(name: string, statements: string[], own: boolean) {
    const outcomes: Array<[string, Outcome, Outcome]> = [];
    for (const c of [dbs.original, dbs.ours]) {
      await c.query('drop schema if exists s cascade');
      await c.query('create schema s');
    }
    for (const sql of statements) {
      outcomes.push([sql, await run(dbs.original, sql), await run(dbs.ours, await oursSql(sql, own))]);
    }
    if (own && statements.some((sql) => OWN_TRIGGER.test(sql))) {
      const n = await dbs.ours.query<{ n: number }>(
        "select count(*)::int as n from pg_trigger where tgfoid::regproc::text ~ '^pgq[.]_tgrow_[0-9]+$'",
      );
      expect(n.rows[0]?.n).toBeGreaterThan(0);
    }
    let cEvents = await events(dbs.original, 'pgq.event_template');
    let oEvents = await events(dbs.ours, 'pgq.event_all');
    if (UNORDERED.has(name)) {
      // a multi-row UPDATE/DELETE fires in heap order, which page pruning on either side can
      // change after earlier updates: compare these events as a set
      const byText = (a: Ev, b: Ev) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
      cEvents = [...cEvents].sort(byText);
      oEvents = [...oEvents].sort(byText);
    }
    expect(cEvents.length).toBeGreaterThan(0);
    // the first differing event, whole (a diff of hundreds of events gets truncated)
    const at = cEvents.findIndex((e, i) => JSON.stringify(e) !== JSON.stringify(oEvents[i]));
    expect({ at, ours: oEvents[at] }).toEqual({ at, ours: cEvents[at] });
    expect(oEvents).toEqual(cEvents);
    for (const [sql, c, o] of outcomes) {
      expect({ sql, outcome: o }).toEqual({ sql, outcome: c });
    }
  }
});
