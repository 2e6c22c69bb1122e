// londiste schema: the name helpers, table and sequence registration on a root, a branch and a
// leaf (one queue each, in one database), the state each call leaves behind, and re-installing
// the manifest over registered rows. The template database has it (sql/install.sql includes it).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createDatabase, useTestDatabase, withRole } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();
const repoRoot = path.resolve(import.meta.dirname, '../..');
const hasPsql = spawnSync('psql', ['--version']).status === 0;

type Ret = { ret_code: number; ret_note: string };

/**
 * A londiste admin call (`fn(args)`, run as `select * from londiste.fn(args)`) and its expected
 * (ret_code, ret_note): the code, and the note unless omitted; bind parameters last.
 */
type Case = [fn: string, code: number, note?: string, params?: unknown[]];

/** Runs the calls in order (each may depend on the ones before), each checked against its case. */
async function expectCalls(cases: Case[]): Promise<void> {
  for (const [fn, code, note, params] of cases) {
    const sql = `select * from londiste.${fn}`;
    const r = await db.one<Ret>(sql, params);
    const got = { ret_code: r.ret_code, ret_note: r.ret_note };
    if (note === undefined) expect(got.ret_code, sql).toBe(code);
    else expect(got, sql).toEqual({ ret_code: code, ret_note: note });
  }
}

const rows = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows;
const tables = (q: string) =>
  rows(
    `select table_name, local, merge_state, custom_snapshot, table_attrs, dropped_ddl, dest_table
       from londiste.table_info where queue_name = $1 order by nr`,
    [q],
  );
const seqs = (q: string) => rows('select * from londiste.get_seq_list($1)', [q]);
/** The queue's events so far, oldest first (the queue's parent event table holds them all). */
async function events(q: string) {
  const { t } = await db.one('select queue_data_pfx as t from pgq.queue where queue_name = $1', [q]);
  return rows(`select ev_type, ev_data, ev_extra1 from ${t} order by ev_id`);
}

async function node(queue: string, type: 'root' | 'branch' | 'leaf'): Promise<void> {
  const name = `${queue}_${type}`;
  await db.query('select * from pgq_node.register_location($1, $2, $3, false)', [
    queue,
    name,
    `dbname=${name}`,
  ]);
  if (type === 'root') {
    await db.query("select * from pgq_node.create_node($1, 'root', $2, 'w', null, null, null)", [
      queue,
      name,
    ]);
    return;
  }
  await db.query('select * from pgq_node.register_location($1, $2, $3, false)', [
    queue,
    'prov',
    'dbname=prov',
  ]);
  await db.query('select * from pgq_node.create_node($1, $2, $3, $4, $5, 1, null)', [
    queue,
    type,
    name,
    'w',
    'prov',
  ]);
}

beforeAll(async () => {
  await node('lr', 'root');
  await node('lb', 'branch');
  await node('ll', 'leaf');
  await db.query(`
    create schema s1;
    create table public.t1 (id serial primary key, v text);
    create table s1.t2 (a int, b int, c text, primary key (b, a));
    create sequence public.sq1;
    create sequence s1.sq2`);
});

describe('name helpers', () => {
  it.each([
    ['londiste.version()', '3.8'],
    ["londiste.make_fqname('t1')", 'public.t1'],
    ["londiste.make_fqname('s1.t2')", 's1.t2'],
    ["londiste.make_fqname('a.b.c')", 'a.b.c'],
    ['londiste.make_fqname(null)', null],
    ["londiste.quote_fqname('t1')", 'public.t1'],
    ["londiste.quote_fqname('My Schema.Tbl')", '"My Schema"."Tbl"'],
    ["londiste.quote_fqname('a.b.c')", 'a."b.c"'],
    ['londiste.quote_fqname(null)', null],
    ["(londiste.split_fqname('t1')).schema_part", 'public'],
    ["(londiste.split_fqname('a.b.c')).name_part", 'b.c'],
    ["londiste.find_table_oid('t1') = 'public.t1'::regclass", true],
    ["londiste.find_table_oid('public.sq1')", null],
    ["londiste.find_table_oid('nope')", null],
    ["londiste.find_seq_oid('sq1') = 'public.sq1'::regclass", true],
    ["londiste.find_seq_oid('s1.sq2') = 's1.sq2'::regclass", true],
    ["londiste.find_seq_oid('t1')", null],
    ["londiste.find_rel_oid('s1.t2', 'r') = 's1.t2'::regclass", true],
    ["londiste.find_rel_oid('s1.t2', null)", null],
    ["londiste.find_column_types('t1')", 'kv'],
    ["londiste.find_column_types('s1.t2')", 'kkv'],
    ["londiste.find_column_types('nope')", ''],
    ["londiste.is_replica_func('pgq.logutriga'::regproc)", true],
    ["londiste.is_replica_func('pgq.sqltriga'::regproc)", true],
    ["londiste.is_replica_func('pgq.insert_event(text,text,text)'::regprocedure)", false],
  ])('%s = %j', async (expr, want) => {
    expect((await db.one(`select ${expr} as v`)).v).toEqual(want);
  });

  it('find_column_types skips dropped columns', async () => {
    await db.query(
      'create table public.t_drop (x int, y int primary key, z int); alter table t_drop drop column x',
    );
    expect((await db.one("select londiste.find_column_types('t_drop') as v")).v).toBe('kv');
  });

  it('set_session_replication_role sets the role for the transaction or the session', async () => {
    const c = await db.connect();
    await c.query('begin');
    await c.query("select londiste.set_session_replication_role('replica', true)");
    expect((await c.query('show session_replication_role')).rows[0]).toEqual({
      session_replication_role: 'replica',
    });
    await c.query('commit');
    expect((await c.query('show session_replication_role')).rows[0]).toEqual({
      session_replication_role: 'origin',
    });
    await c.query("select londiste.set_session_replication_role('local', false)");
    expect((await c.query('show session_replication_role')).rows[0]).toEqual({
      session_replication_role: 'local',
    });
    const e = await pgError(c.query("select londiste.set_session_replication_role('off', false)"));
    expect(e).toMatchObject({ message: 'bad value for session_replication_role', code: '22023' });
    const def = await db.one(
      "select prosecdef, proconfig from pg_proc where proname = 'set_session_replication_role'",
    );
    expect(def).toEqual({ prosecdef: true, proconfig: ['search_path=pg_catalog, londiste'] });
  });
});

describe('tables in the set', () => {
  it('global_add_table / global_remove_table on root, branch and an unknown queue', async () => {
    await expectCalls([
      ["global_add_table('nosuch', 't1')", 400, 'No such queue: nosuch'],
      ["global_add_table('lr', 't1')", 200, 'Table added: t1'],
      ["global_add_table('lr', 't1')", 200, 'Table already added: public.t1'],
      ["global_add_table('lr', 'public.t1')", 200, 'Table already added: public.t1'],
      ["global_add_table('lr', 's1.t2')", 200, 'Table added: s1.t2'],
      ["global_add_table('lb', 't1')", 200, 'Table added: t1'],
      ["global_add_table('lb', 'public.gone')", 200, 'Table added: public.gone'],
    ]);
    expect(await tables('lr')).toEqual([
      {
        table_name: 'public.t1',
        local: false,
        merge_state: null,
        custom_snapshot: null,
        table_attrs: null,
        dropped_ddl: null,
        dest_table: null,
      },
      {
        table_name: 's1.t2',
        local: false,
        merge_state: null,
        custom_snapshot: null,
        table_attrs: null,
        dropped_ddl: null,
        dest_table: null,
      },
    ]);
    await expectCalls([
      ["global_remove_table('lb', 'gone')", 200, 'Table removed: gone'],
      ["global_remove_table('lb', 'gone')", 400, 'Table not found: public.gone'],
      ["global_remove_table('lr', 'nope')", 400, 'Table not found: public.nope'],
    ]);
    expect((await tables('lb')).map((t) => t.table_name)).toEqual(['public.t1']);
    const e = await pgError(db.query("select * from londiste.global_remove_table('nosuch', 't1')"));
    expect(e.code).toBe('PN001');
  });

  it('local state, attributes and struct change only local rows', async () => {
    // no local rows yet: every setter answers 404
    await expectCalls([
      ["local_set_table_state('lb', 't1', 'snap', 'in-copy')", 404, 'No such table: public.t1'],
      ["local_set_table_attrs('lb', 'public.t1', 'handler=x')", 404, 'no such local table: public.t1'],
      ["local_set_table_struct('lb', 'public.t1', 'create index')", 404, 'no such local table: public.t1'],
    ]);
    await db.query(
      "update londiste.table_info set local = true where queue_name = 'lb' and table_name = 'public.t1'",
    );
    await expectCalls([
      ["local_set_table_state('lb', 't1', 'snap', 'in-copy')", 200, "Table public.t1 state set to 'in-copy'"],
      ["local_set_table_attrs('lb', 't1', 'handler=x')", 404, 'no such local table: t1'],
      ["local_set_table_attrs('lb', 'public.t1', 'handler=x')", 200, 'public.t1: Table attributes stored'],
      [
        "local_set_table_struct('lb', 'public.t1', 'create index t1_v on public.t1 (v)')",
        200,
        'Table struct stored',
      ],
    ]);
    expect(await tables('lb')).toEqual([
      {
        table_name: 'public.t1',
        local: true,
        merge_state: 'in-copy',
        custom_snapshot: 'snap',
        table_attrs: 'handler=x',
        dropped_ddl: 'create index t1_v on public.t1 (v)',
        dest_table: null,
      },
    ]);
    // dropped DDL is allowed only while a copy runs (the table's check)
    const e = await pgError(db.query("select * from londiste.local_set_table_state('lb', 't1', null, 'ok')"));
    expect(e.code).toBe('23514');
    await expectCalls([
      [
        "local_set_table_state('lb', 't1', null, 'catching-up')",
        200,
        "Table public.t1 state set to 'catching-up'",
      ],
    ]);
  });

  it('local_remove_table on a branch restores dropped DDL, resets the row and keeps it in the set', async () => {
    await db.query("insert into public.t1 (v) values ('half copied')");
    await db.query(
      "insert into londiste.seq_info (queue_name, seq_name, local, last_value) values ('lb', 'public.t1_id_seq', true, 5)",
    );
    await expectCalls([
      ["local_remove_table('lb', 't1')", 200, 'Table removed: public.t1'],
      ["local_remove_table('lb', 't1')", 400, 'Table not registered locally: public.t1'],
      ["local_remove_table('lb', 'nope')", 400, 'Table not found: public.nope'],
    ]);
    expect(await tables('lb')).toEqual([
      {
        table_name: 'public.t1',
        local: false,
        merge_state: null,
        custom_snapshot: null,
        table_attrs: null,
        dropped_ddl: null,
        dest_table: null,
      },
    ]);
    expect((await db.one('select count(*)::int as n from public.t1')).n).toBe(0);
    expect((await db.one("select count(*)::int as n from pg_indexes where indexname = 't1_v'")).n).toBe(1);
    // the serial column's sequence went with the table
    expect(await seqs('lb')).toEqual([{ seq_name: 'public.t1_id_seq', last_value: 5n, local: false }]);
  });

  it('local_remove_table on the root takes the table out of the set and tells the nodes', async () => {
    await db.query(
      "update londiste.table_info set local = true where queue_name = 'lr' and table_name = 's1.t2'",
    );
    await expectCalls([
      ["local_remove_table('lr', 's1.t2')", 200, 'Table removed: s1.t2'],
      // on the root a table that is in the set but not local is removed from the set too
      ["local_remove_table('lr', 't1')", 200, 'Table removed: public.t1'],
      ["local_remove_table('lr', 't1')", 400, 'Table not found: public.t1'],
    ]);
    expect(await tables('lr')).toEqual([]);
    expect(await events('lr')).toEqual([
      { ev_type: 'londiste.remove-table', ev_data: 's1.t2', ev_extra1: null },
      { ev_type: 'londiste.remove-table', ev_data: 'public.t1', ev_extra1: null },
    ]);
  });

  it("deleting a table row drops the queue's replication triggers and keeps others", async () => {
    await db.query(`
      create table public.t3 (id int primary key);
      create trigger t3_lr after insert on public.t3 for each row execute procedure pgq.logutriga('lr');
      create trigger t3_other after insert on public.t3 for each row execute procedure pgq.logutriga('other_q');
      create function public.noop() returns trigger language plpgsql as 'begin return new; end';
      create trigger t3_plain after insert on public.t3 for each row execute procedure public.noop()`);
    await expectCalls([["global_add_table('lr', 't3')", 200, 'Table added: t3']]);
    await db.query("delete from londiste.table_info where queue_name = 'lr' and table_name = 'public.t3'");
    expect(
      await rows("select tgname from pg_trigger where tgrelid = 'public.t3'::regclass order by 1"),
    ).toEqual([{ tgname: 't3_other' }, { tgname: 't3_plain' }]);
  });

  it('local_show_missing: on the root unregistered relations, elsewhere the set minus local', async () => {
    await expectCalls([["global_add_table('lr', 't1')", 200]]);
    await db.query(
      "update londiste.table_info set local = true where queue_name = 'lr' and table_name = 'public.t1'",
    );
    expect(await rows("select * from londiste.local_show_missing('lr')")).toEqual([
      { obj_kind: 'S', obj_name: 'public.sq1' },
      { obj_kind: 'S', obj_name: 'public.t1_id_seq' },
      { obj_kind: 'S', obj_name: 's1.sq2' },
      { obj_kind: 'r', obj_name: 'public.t3' },
      { obj_kind: 'r', obj_name: 'public.t_drop' },
      { obj_kind: 'r', obj_name: 's1.t2' },
    ]);
    expect(await rows("select * from londiste.local_show_missing('lb')")).toEqual([
      { obj_kind: 'S', obj_name: 'public.t1_id_seq' },
      { obj_kind: 'r', obj_name: 'public.t1' },
    ]);
  });
});

describe('sequences', () => {
  it('root: local_add_seq registers, publishes ahead and announces; root_check_seqs republishes near the end', async () => {
    await expectCalls([
      ["local_add_seq('lr', 'nope')", 400, 'Sequence not found: public.nope'],
      ["local_add_seq('lr', 'sq1')", 200, 'Sequence added: public.sq1'],
      ["local_add_seq('lr', 'public.sq1')", 201, 'Sequence already added: public.sq1'],
    ]);
    // never called nextval: last_value is 1, published 1 + 3 * 10000
    expect(await seqs('lr')).toEqual([{ seq_name: 'public.sq1', last_value: 30001n, local: true }]);
    await expectCalls([["root_check_seqs('lr')", 100, 'Sequences updated']]);
    expect((await seqs('lr'))[0].last_value).toBe(30001n);
    await db.query("select setval('public.sq1', 20001)");
    await expectCalls([["root_check_seqs('lr', 5)", 100, 'Sequences updated']]);
    // 20001 + 10000 (a buffer below 10 means 10000) reaches 30001: published 20001 + 30000
    expect((await seqs('lr'))[0].last_value).toBe(50001n);
    await expectCalls([["root_check_seqs('lr', 100)", 100, 'Sequences updated']]);
    expect((await seqs('lr'))[0].last_value).toBe(50001n);
    await db.query("select setval('public.sq1', 49950)");
    await expectCalls([["root_check_seqs('lr', 100)", 100, 'Sequences updated']]);
    expect((await seqs('lr'))[0].last_value).toBe(50250n);
    const published = (await events('lr')).filter((e) => e.ev_type === 'londiste.update-seq');
    expect(published).toEqual([
      { ev_type: 'londiste.update-seq', ev_data: '30001', ev_extra1: 'public.sq1' },
      { ev_type: 'londiste.update-seq', ev_data: '50001', ev_extra1: 'public.sq1' },
      { ev_type: 'londiste.update-seq', ev_data: '50250', ev_extra1: 'public.sq1' },
    ]);
  });

  it('root_check_seqs answers 402 off the root and 404 for an unknown queue', async () => {
    await expectCalls([
      ["root_check_seqs('lb')", 402, 'Not a root node'],
      ["root_check_seqs('nosuch', 10)", 404, 'Queue not found: nosuch'],
    ]);
  });

  it('branch: global_update_seq records published values and moves a local sequence forward only', async () => {
    await expectCalls([
      ["global_update_seq('nosuch', 'sq1', 10)", 404, 'Set not found: nosuch'],
      ["global_update_seq('lr', 'sq1', 10)", 402, 'Must not run on root node'],
      ["local_add_seq('lb', 's1.sq2')", 404, 'Unknown sequence: s1.sq2'],
      ["global_update_seq('lb', 's1.sq2', 700)", 200, 'Sequence updated'],
      ["local_add_seq('lb', 's1.sq2')", 200, 'Sequence added: s1.sq2'],
      ["local_add_seq('lb', 's1.sq2')", 201, 'Sequence already added: s1.sq2'],
    ]);
    expect((await db.one('select last_value from s1.sq2')).last_value).toBe(700n);
    await expectCalls([["global_update_seq('lb', 's1.sq2', 900)", 200, 'Sequence updated']]);
    expect((await db.one('select last_value from s1.sq2')).last_value).toBe(900n);
    await expectCalls([["global_update_seq('lb', 's1.sq2', 800)", 200, 'Sequence updated']]);
    expect((await db.one('select last_value from s1.sq2')).last_value).toBe(900n);
    expect(await seqs('lb')).toEqual([
      { seq_name: 'public.t1_id_seq', last_value: 5n, local: false },
      { seq_name: 's1.sq2', last_value: 800n, local: true },
    ]);
  });

  it('local_remove_seq: elsewhere clears local, on the root leaves the set; global_remove_seq', async () => {
    await expectCalls([
      ["local_remove_seq('lb', 's1.sq2')", 200, 'Sequence removed: s1.sq2'],
      ["local_remove_seq('lb', 's1.sq2')", 404, 'Sequence not found: s1.sq2'],
      ["global_remove_seq('lb', 's1.sq2')", 200, 'Sequence removed: s1.sq2'],
      ["global_remove_seq('lb', 's1.sq2')", 400, 'Sequence not found: s1.sq2'],
      ["local_remove_seq('lr', 'sq1')", 200, 'Sequence removed: public.sq1'],
      ["local_remove_seq('lr', 'sq1')", 400, 'Sequence not found: public.sq1'],
    ]);
    expect(await seqs('lr')).toEqual([]);
    expect(await seqs('lb')).toEqual([{ seq_name: 'public.t1_id_seq', last_value: 5n, local: false }]);
  });
});

describe('root_notify_change', () => {
  it('refuses off the root', async () => {
    const e = await pgError(db.query("select londiste.root_notify_change('lb', 'x', 'y')"));
    expect(e).toMatchObject({ message: 'only root node can send events', code: '55000' });
  });
});

/**
 * The non-internal triggers of a table: name, enabled mode and definition, the table's own
 * logutriga (pgq._tgrow_<its oid>, which create_trigger uses on a provider) written
 * pgq._tgrow_<self>.
 */
const triggersOf = (table: string) =>
  rows(
    `select tgname, tgenabled,
            replace(pg_get_triggerdef(oid), 'pgq._tgrow_' || tgrelid::int4 || '(', 'pgq._tgrow_<self>(') as def
       from pg_trigger
      where tgrelid = $1::regclass and not tgisinternal order by 1`,
    [table],
  );
const lastEvent = async (q: string) => (await events(q)).at(-1);

describe('replication triggers and local tables', () => {
  beforeAll(async () => {
    await node('xr', 'root');
    await node('xb', 'branch');
    await node('xl', 'leaf');
    await db.query(`
      create schema x;
      create table x.a (id int primary key, v text);
      create table x.b (id int primary key, a_id int references x.a, v text);
      create table x.c (x int, y text, z int, primary key (y, x));
      create table x.s (id int primary key, v text);
      create table x.r_local (id int primary key, v text);
      create table x.nopk (v text);
      create table x.first (id int primary key);
      create table x.lf (id int primary key);
      create function x.noop() returns trigger language plpgsql as 'begin return new; end';
      create trigger _a after insert on x.first for each row execute procedure x.noop()`);
  });

  it('local_add_table on the root: joins the set as ok, tells the nodes, creates the pgq triggers', async () => {
    await expectCalls([
      ["local_add_table('xr', 'x.a')", 200, 'Table added: x.a'],
      ["local_add_table('xr', 'x.a')", 200, 'Table already added: x.a'],
      [
        "local_add_table('xr', 'x.a', array['skip_truncate'])",
        410,
        'Table x.a already added, but with different args: ',
      ],
      ["local_add_table('xr', 'x.nopk')", 400, 'Primary key missing on table: x.nopk'],
      ["local_add_table('xr', 'x.none')", 404, 'Table does not exist: x.none'],
      [
        "local_add_table('xr', 'x.a', array['merge_all', 'no_merge'])",
        405,
        'Cannot use merge-all and no-merge together',
      ],
      ["local_add_table('nosuch', 'x.a')", 400, 'No such set: nosuch'],
      [
        "local_add_table('xr', 'x.virt', array['virtual_table'])",
        200,
        'Table added with no triggers: x.virt',
      ],
      [
        "local_add_table('xr', 'x.b', array['no_triggers', 'skip_truncate'], 'a=1')",
        200,
        'Table added with no triggers: x.b',
      ],
      [
        "local_add_table('xr', 'x.c', array['tgflags=QIU', 'ignore=z'], 'handler=h')",
        200,
        'Table added: x.c',
      ],
      ["local_add_table('xr', 'x.s', array['tgflags=BS', 'backup'])", 200, 'Table added: x.s'],
      ["local_add_table('xr', 'x.r', null, null, 'x.r_local')", 200, 'Table added: x.r(x.r_local)'],
      // 3.8 documents 301 for a trigger that fires before londiste's, but never answers it
      ["local_add_table('xr', 'x.first')", 200, 'Table added: x.first'],
    ]);
    expect(
      (await tables('xr')).map((t) => [t.table_name, t.merge_state, t.table_attrs, t.dest_table]),
    ).toEqual([
      ['x.a', 'ok', null, null],
      ['x.virt', 'ok', null, null],
      ['x.b', 'ok', 'a=1&skip_truncate=1', null],
      ['x.c', 'ok', 'handler=h', null],
      ['x.s', 'ok', null, null],
      ['x.r', 'ok', null, 'x.r_local'],
      ['x.first', 'ok', null, null],
    ]);
    expect((await events('xr')).map((e) => [e.ev_type, e.ev_data])).toEqual(
      ['x.a', 'x.virt', 'x.b', 'x.c', 'x.s', 'x.r', 'x.first'].map((t) => ['londiste.add-table', t]),
    );
    expect(await triggersOf('x.a')).toEqual([
      {
        tgname: '_londiste_xr',
        tgenabled: 'O',
        def: "CREATE TRIGGER _londiste_xr AFTER INSERT OR DELETE OR UPDATE ON x.a FOR EACH ROW EXECUTE FUNCTION pgq._tgrow_<self>('xr')",
      },
      {
        tgname: '_londiste_xr_truncate',
        tgenabled: 'O',
        def: "CREATE TRIGGER _londiste_xr_truncate AFTER TRUNCATE ON x.a FOR EACH STATEMENT EXECUTE FUNCTION pgq.sqltriga('xr')",
      },
    ]);
    expect((await triggersOf('x.b')).map((t) => t.tgname)).toEqual([]);
    expect((await triggersOf('x.c')).map((t) => t.def)).toEqual([
      "CREATE TRIGGER _londiste_xr AFTER INSERT OR UPDATE ON x.c FOR EACH ROW EXECUTE FUNCTION pgq.sqltriga('xr', 'ignore=z')",
      "CREATE TRIGGER _londiste_xr_truncate AFTER TRUNCATE ON x.c FOR EACH STATEMENT EXECUTE FUNCTION pgq.sqltriga('xr')",
    ]);
    expect((await triggersOf('x.s')).map((t) => t.def)).toEqual([
      "CREATE TRIGGER _londiste_xr_truncate AFTER TRUNCATE ON x.s FOR EACH STATEMENT EXECUTE FUNCTION pgq.sqltriga('xr')",
      "CREATE TRIGGER zzz__londiste_xr BEFORE INSERT OR DELETE OR UPDATE ON x.s FOR EACH ROW EXECUTE FUNCTION pgq.logutriga('xr', 'backup', 'SKIP')",
    ]);
    expect((await triggersOf('x.r_local')).map((t) => t.def)[0]).toBe(
      "CREATE TRIGGER _londiste_xr AFTER INSERT OR DELETE OR UPDATE ON x.r_local FOR EACH ROW EXECUTE FUNCTION pgq._tgrow_<self>('xr', 'ev_extra1=''x.r''')",
    );
  });

  it('the triggers send the changes: logutriga rows, sqltriga SQL, SKIP keeps the row out, renamed tables under the set name', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ["insert into x.a values (1, 'one')", { ev_type: 'I:id', ev_data: 'id=1&v=one', ev_extra1: 'x.a' }],
      ["update x.a set v = 'uno' where id = 1", { ev_type: 'U:id', ev_data: 'id=1&v=uno', ev_extra1: 'x.a' }],
      [
        "insert into x.c values (1, 'k', 5)",
        { ev_type: 'I', ev_data: "(x,y) values ('1','k')", ev_extra1: 'x.c' },
      ],
      ['truncate x.c', { ev_type: 'R', ev_data: '', ev_extra1: 'x.c' }],
      ["insert into x.s values (1, 's')", { ev_type: 'I:id', ev_data: 'id=1&v=s', ev_extra1: 'x.s' }],
      ["insert into x.r_local values (3, 'r')", { ev_type: 'I:id', ev_data: 'id=3&v=r', ev_extra1: 'x.r' }],
    ];
    for (const [sql, want] of cases) {
      await db.query(sql);
      expect(await lastEvent('xr'), sql).toMatchObject(want);
    }
    // the SKIP trigger logged the row but kept it out of the table
    expect((await db.one('select count(*)::int as n from x.s')).n).toBe(0);
  });

  it('create_trigger: SKIP triggers fire last and stay alone; the row trigger is re-created, the truncate one kept', async () => {
    const trunc = await db.one(
      "select oid from pg_trigger where tgrelid = 'x.a'::regclass and tgname = '_londiste_xr_truncate'",
    );
    await expectCalls([
      [
        "create_trigger('xr', 'x.s', array['tgflags=A'], 'x.s', 'root')",
        403,
        'AFTER trigger cannot work with SKIP trigger(s)',
      ],
      ["create_trigger('xr', 'x.a', array['tgflags=IB', 'when=id > 5'], 'x.a', 'root')", 200, 'OK'],
      ["create_trigger('xr', 'x.virt', array['no_triggers'], 'x.virt', 'root')", 201, 'Trigger not created'],
    ]);
    expect(
      (await db.one("select trigger_name from londiste.create_trigger('xr', 'x.a', null, 'x.a', 'root')"))
        .trigger_name,
    ).toBeNull();
    expect((await triggersOf('x.a')).map((t) => t.def)).toEqual([
      "CREATE TRIGGER _londiste_xr AFTER INSERT OR DELETE OR UPDATE ON x.a FOR EACH ROW EXECUTE FUNCTION pgq._tgrow_<self>('xr')",
      "CREATE TRIGGER _londiste_xr_truncate AFTER TRUNCATE ON x.a FOR EACH STATEMENT EXECUTE FUNCTION pgq.sqltriga('xr')",
    ]);
    expect(
      (
        await db.one(
          "select oid from pg_trigger where tgrelid = 'x.a'::regclass and tgname = '_londiste_xr_truncate'",
        )
      ).oid,
    ).toBe(trunc.oid);
    await db.query(`
      create table x.sk (id int primary key);
      create trigger mine before insert on x.sk for each row execute procedure pgq.logutriga('other', 'SKIP')`);
    // without B the row trigger would be AFTER, which a SKIP trigger makes useless
    await expectCalls([
      [
        "create_trigger('xr', 'x.sk', array['skip'], 'x.sk', 'root')",
        403,
        'AFTER trigger cannot work with SKIP trigger(s)',
      ],
      ["create_trigger('xr', 'x.sk', array['tgflags=B', 'skip'], 'x.sk', 'root')", 200, 'OK'],
    ]);
    // the other SKIP trigger was renamed to fire last; ours logs without skipping
    expect((await triggersOf('x.sk')).map((t) => t.tgname)).toEqual([
      '_londiste_xr',
      '_londiste_xr_truncate',
      'zzz_mine',
    ]);
    await db.query(
      "create trigger second before insert on x.sk for each row execute procedure pgq.logutriga('q2', 'SKIP')",
    );
    await expectCalls([
      ["create_trigger('xr', 'x.sk', array['tgflags=BS'], 'x.sk', 'root')", 405, 'Multiple SKIP triggers'],
    ]);
  });

  it('local_add_table on a branch and a leaf: only tables of the set, copied unless expect_sync; a leaf denies local writes', async () => {
    await expectCalls([
      ["local_add_table('xb', 'x.a')", 404, 'Table not available on queue: x.a'],
      ["global_add_table('xb', 'x.a')", 200, 'Table added: x.a'],
      ["global_add_table('xb', 'x.c')", 200, 'Table added: x.c'],
      ["local_add_table('xb', 'x.a')", 200, 'Table added: x.a'],
      ["local_add_table('xb', 'x.c', array['expect_sync'])", 200, 'Table added: x.c'],
      // x.a is local in xr, which (like xl) feeds no combined queue: one source too many
      ["global_add_table('xl', 'x.a')", 200, 'Table added: x.a'],
      [
        "local_add_table('xl', 'x.a')",
        405,
        'Found local table x.a in queue xr, use remove-table first to remove all previous table subscriptions',
      ],
      ["global_add_table('xl', 'x.lf')", 200, 'Table added: x.lf'],
      ["local_add_table('xl', 'x.lf')", 200, 'Table added: x.lf'],
    ]);
    expect((await tables('xb')).map((t) => [t.table_name, t.local, t.merge_state])).toEqual([
      ['x.a', true, null],
      ['x.c', true, 'ok'],
    ]);
    // the branch's events come from its provider: nothing announced here
    expect(await events('xb')).toEqual([]);
    expect((await triggersOf('x.lf')).map((t) => t.def)).toEqual([
      "CREATE TRIGGER _londiste_xl AFTER INSERT OR DELETE OR UPDATE ON x.lf FOR EACH ROW EXECUTE FUNCTION pgq.logutriga('xl', 'deny')",
      "CREATE TRIGGER _londiste_xl_truncate AFTER TRUNCATE ON x.lf FOR EACH STATEMENT EXECUTE FUNCTION pgq.sqltriga('xl', 'deny')",
    ]);
    const e = await pgError(db.query('insert into x.lf values (1)'));
    expect(e).toMatchObject({
      code: 'PQ020',
      message: "Table 'x.lf' to queue 'xl': change not allowed (INSERT)",
    });
  });

  it('local_change_handler stores the attributes and re-creates the triggers', async () => {
    await expectCalls([
      ["local_change_handler('nosuch', 'x.a', null, 'h')", 400, 'No such set: nosuch'],
      ["local_change_handler('xr', 'x.nope', null, 'h')", 404, 'no such local table: x.nope'],
      [
        "local_change_handler('xr', 'x.c', array['tgflags=ID'], 'handler=h2')",
        200,
        'Handler changed for table: x.c',
      ],
      [
        "local_change_handler('xr', 'x.r', array['tgflags=I'], 'handler=r')",
        200,
        'Handler changed for table: x.r(x.r_local)',
      ],
      [
        "local_change_handler('xr', 'x.b', array['no_triggers'], 'handler=b')",
        200,
        'Table handler updated with no triggers: x.b',
      ],
    ]);
    expect((await tables('xr')).filter((t) => t.table_attrs?.startsWith('handler='))).toMatchObject([
      { table_name: 'x.b', table_attrs: 'handler=b' },
      { table_name: 'x.c', table_attrs: 'handler=h2' },
      { table_name: 'x.r', table_attrs: 'handler=r' },
    ]);
    expect((await triggersOf('x.c')).find((t) => t.tgname === '_londiste_xr')?.def).toBe(
      "CREATE TRIGGER _londiste_xr AFTER INSERT OR DELETE ON x.c FOR EACH ROW EXECUTE FUNCTION pgq._tgrow_<self>('xr')",
    );
    expect((await triggersOf('x.r_local')).map((t) => t.def)[0]).toBe(
      "CREATE TRIGGER _londiste_xr AFTER INSERT ON x.r_local FOR EACH ROW EXECUTE FUNCTION pgq._tgrow_<self>('xr', 'ev_extra1=''x.r''')",
    );
  });
});

describe('get_table_list and the copy turns of a merged table', () => {
  const list = (q: string) =>
    rows(
      'select table_name, merge_state, dropped_ddl, copy_role, copy_pos from londiste.get_table_list($1)',
      [q],
    );
  const roles = async () =>
    [...(await list('m1')), ...(await list('m2'))].map((r) => [r.copy_role, r.copy_pos]);

  beforeAll(async () => {
    await node('mc', 'root');
    for (const q of ['m1', 'm2']) {
      await db.query('select * from pgq_node.register_location($1, $2, $3, false)', [
        q,
        `${q}_leaf`,
        'dbname=x',
      ]);
      await db.query('select * from pgq_node.register_location($1, $2, $3, false)', [
        q,
        'prov',
        'dbname=prov',
      ]);
      await db.query("select * from pgq_node.create_node($1, 'leaf', $2, 'w', 'prov', 1, 'mc')", [
        q,
        `${q}_leaf`,
      ]);
    }
    await db.query('create table public.merged (id int primary key, v text)');
  });

  it('a leaf table from two queues of one combined queue needs merge_all; the set of the combined root gets it', async () => {
    await expectCalls([
      ["global_add_table('m1', 'merged')", 200, 'Table added: merged'],
      ["global_add_table('m2', 'merged')", 200, 'Table added: merged'],
      ["local_add_table('m1', 'merged', array['merge_all'])", 200, 'Table added: public.merged'],
      ["local_add_table('m2', 'merged', array['merge_all'])", 200, 'Table already added: public.merged'],
    ]);
    expect(
      await rows(
        "select queue_name, local, merge_state from londiste.table_info where table_name = 'public.merged' order by 1",
      ),
    ).toEqual([
      { queue_name: 'm1', local: true, merge_state: null },
      { queue_name: 'm2', local: true, merge_state: null },
      { queue_name: 'mc', local: true, merge_state: 'ok' },
    ]);
    // not in copy: no role, position 0
    expect(await roles()).toEqual([
      [null, 0],
      [null, 0],
    ]);
  });

  it('the first queue leads (drops the DDL), the others wait for it, then wait in replay until it is done', async () => {
    const step = async (call: string, want: [string | null, number][]) => {
      await db.query(`select * from londiste.${call}`);
      expect(await roles(), call).toEqual(want);
    };
    // m2 has not started (NULL): no role of its own, but it counts as a part still to come
    await step("local_set_table_state('m1', 'merged', null, 'in-copy')", [
      ['lead', 0],
      [null, 0],
    ]);
    await step("local_set_table_state('m2', 'merged', null, 'in-copy')", [
      ['lead', 0],
      ['wait-copy', 1],
    ]);
    await step(
      "local_set_table_struct('m1', 'public.merged', 'create index merged_v on public.merged (v)')",
      [
        ['lead', 0],
        ['wait-replay', 1],
      ],
    );
    await step("local_set_table_state('m1', 'merged', null, 'catching-up')", [
      ['wait-replay', 0],
      ['wait-replay', 0],
    ]);
    await step("local_set_table_state('m2', 'merged', null, 'catching-up')", [
      [null, 0],
      ['wait-replay', 0],
    ]);
    await step("local_set_table_struct('m1', 'public.merged', null)", [
      [null, 0],
      [null, 0],
    ]);
    expect(await rows("select * from londiste._coordinate_copy('m1', 'public.nope')")).toEqual([
      { copy_role: null, copy_pos: null },
    ]);
    expect(await rows("select * from londiste.get_table_list('nosuch')")).toEqual([]);
  });

  it('returns the table_info columns in the order of 3.8', async () => {
    const r = await db.query("select * from londiste.get_table_list('xr') limit 1");
    expect(r.fields.map((f) => f.name)).toEqual([
      'table_name',
      'local',
      'merge_state',
      'custom_snapshot',
      'table_attrs',
      'dropped_ddl',
      'copy_role',
      'copy_pos',
      'dest_table',
    ]);
  });
});

describe('foreign keys set aside around a copy', () => {
  beforeAll(async () => {
    await db.query(`
      create table x.parent (id int primary key);
      create table x.child (id int primary key, p int constraint child_p_fk references x.parent on delete cascade)`);
  });

  it('find_table_fkeys lists both directions with the statement that re-creates each', async () => {
    const want = {
      from_table: 'x.child',
      to_table: 'x.parent',
      fkey_name: 'child_p_fk',
      fkey_def:
        'alter table only x.child add constraint child_p_fk FOREIGN KEY (p) REFERENCES x.parent(id) ON DELETE CASCADE',
    };
    expect(await rows("select * from londiste.find_table_fkeys('x.parent')")).toEqual([want]);
    expect(await rows("select * from londiste.find_table_fkeys('x.child')")).toEqual([want]);
    expect(await rows("select * from londiste.find_table_fkeys('x.nope')")).toEqual([]);
  });

  it('drop_table_fkey sets a key aside; get_valid_pending_fkeys offers it once both tables are ok here', async () => {
    const one = async (sql: string) => Object.values(await db.one(sql))[0];
    expect(await one("select londiste.drop_table_fkey('x.child', 'child_p_fk')")).toBe(1);
    expect(await one("select londiste.drop_table_fkey('x.child', 'child_p_fk')")).toBe(0);
    expect(
      (await db.one("select count(*)::int as n from pg_constraint where conname = 'child_p_fk'")).n,
    ).toBe(0);
    expect((await rows("select fkey_name from londiste.get_table_pending_fkeys('x.parent')")).length).toBe(1);
    expect(await rows("select * from londiste.get_table_pending_fkeys('x.a')")).toEqual([]);
    // neither table is registered: nobody restores it
    expect(await rows("select * from londiste.get_valid_pending_fkeys('xb')")).toEqual([]);
    await expectCalls([
      ["global_add_table('xb', 'x.parent')", 200],
      ["global_add_table('xb', 'x.child')", 200],
      ["local_add_table('xb', 'x.parent')", 200],
      ["local_add_table('xb', 'x.child')", 200],
    ]);
    // both local, still to be copied
    expect(await rows("select * from londiste.get_valid_pending_fkeys('xb')")).toEqual([]);
    await db.query("select * from londiste.local_set_table_state('xb', 'x.parent', null, 'ok')");
    await db.query("select * from londiste.local_set_table_state('xb', 'x.child', 'snap', 'ok')");
    // a copy snapshot still pending on one side
    expect(await rows("select * from londiste.get_valid_pending_fkeys('xb')")).toEqual([]);
    await db.query("select * from londiste.local_set_table_state('xb', 'x.child', null, 'ok')");
    expect(
      (await rows("select fkey_name from londiste.get_valid_pending_fkeys('xb')")).map((r) => r.fkey_name),
    ).toEqual(['child_p_fk']);
    // other queues do not carry the tables
    expect(await rows("select * from londiste.get_valid_pending_fkeys('xr')")).toEqual([]);
  });

  it('restore_table_fkey: at once, or in steps (not valid, validate, done)', async () => {
    const restore = async (lazy: boolean) =>
      (await db.one("select londiste.restore_table_fkey('x.child', 'child_p_fk', $1) as s", [lazy])).s;
    const step1 = await restore(true);
    expect(step1).toBe(
      'alter table only x.child add constraint child_p_fk FOREIGN KEY (p) REFERENCES x.parent(id) ON DELETE CASCADE not valid',
    );
    await db.query(step1);
    const step2 = await restore(true);
    expect(step2).toBe('alter table only x.child validate constraint child_p_fk');
    await db.query(step2);
    expect(await restore(true)).toBe('');
    expect(await rows('select * from londiste.pending_fkeys')).toEqual([]);
    expect(await restore(false)).toBe('');
    // at once
    await db.query("select londiste.drop_table_fkey('x.child', 'child_p_fk')");
    expect(await restore(false)).toBe('');
    expect(await rows("select convalidated from pg_constraint where conname = 'child_p_fk'")).toEqual([
      { convalidated: true },
    ]);
    expect(await rows('select * from londiste.pending_fkeys')).toEqual([]);
  });
});

describe('EXECUTE, maintenance, upgrade', () => {
  it('execute_start records a script once per node; execute_finish sends it on from the root', async () => {
    await expectCalls([
      ["execute_start('xr', 'a.sql', 'create table x.e ()', true, 'k=v')", 200, 'Executing: a.sql'],
      [
        "execute_start('xr', 'a.sql', 'create table x.e ()', true)",
        201,
        'EXECUTE: "a.sql" already applied, skipping',
      ],
      ["execute_start('xb', 'b.sql', 'select 1', true)", 401, 'Node is not root node: xb'],
      ["execute_start('xb', 'b.sql', 'select 1', false)", 200, 'Executing: b.sql'],
      ["execute_finish('xr', 'a.sql')", 200, 'Execute finished: a.sql'],
      ["execute_finish('xb', 'b.sql')", 200, 'Execute finished: b.sql'],
      ["execute_finish('xr', 'none.sql')", 404, 'execute_file called without execute_start'],
    ]);
    expect(await lastEvent('xr')).toMatchObject({
      ev_type: 'EXECUTE',
      ev_data: 'create table x.e ()',
      ev_extra1: 'a.sql',
    });
    expect(
      (await db.one("select ev_extra2 from pgq.event_template where ev_type = 'EXECUTE'")).ev_extra2,
    ).toBe('k=v');
    expect(await events('xb')).toEqual([]);
    expect(
      (await pgError(db.query("select * from londiste.execute_start('nosuch', 'c.sql', 'x', false)"))).code,
    ).toBe('PN001');
    expect(
      await rows(
        'select queue_name, execute_file, execute_sql, execute_attrs from londiste.applied_execute order by 2',
      ),
    ).toEqual([
      { queue_name: 'xr', execute_file: 'a.sql', execute_sql: 'create table x.e ()', execute_attrs: 'k=v' },
      { queue_name: 'xb', execute_file: 'b.sql', execute_sql: 'select 1', execute_attrs: null },
    ]);
  });

  it('periodic_maintenance forgets scripts applied more than three months ago', async () => {
    await db.query(
      "update londiste.applied_execute set execute_time = now() - interval '3 months 1 day' where execute_file = 'a.sql'",
    );
    expect((await db.one('select londiste.periodic_maintenance() as r')).r).toBe(0);
    expect(
      (await rows('select execute_file from londiste.applied_execute')).map((r) => r.execute_file),
    ).toEqual(['b.sql']);
  });

  it('upgrade_schema brings an older layout up to 3.8 and is a no-op on the current one', async () => {
    const cons =
      "select pg_get_constraintdef(oid) as d from pg_constraint where conname = 'table_info_check'";
    const current = (await db.one(cons)).d;
    await db.query(`
      alter table londiste.table_info drop constraint table_info_check;
      alter table londiste.table_info add constraint table_info_check check (dropped_ddl is null or merge_state = 'in-copy');
      alter table londiste.applied_execute drop column execute_attrs`);
    expect((await db.one('select londiste.upgrade_schema() as r')).r).toBe(0);
    expect((await db.one(cons)).d).toBe(current);
    expect(
      (
        await db.one(
          "select count(*)::int as n from information_schema.columns where table_name = 'applied_execute' and column_name = 'execute_attrs'",
        )
      ).n,
    ).toBe(1);
    expect((await db.one('select londiste.upgrade_schema() as r')).r).toBe(0);
    expect((await db.one(cons)).d).toBe(current);
  });
});

describe('partitioning helpers', () => {
  beforeAll(async () => {
    await db.query(`
      create table x.log (id int primary key, ts timestamptz not null, v text);
      create index log_v on x.log (v);
      create trigger log_trg after insert on x.log for each row execute procedure x.noop();
      alter table x.log enable replica trigger log_trg;
      create rule log_rule as on update to x.log do also notify x_log`);
  });

  it('create_partition makes an inheriting child with the indexes, the period check, the triggers and rules', async () => {
    const create = async (part: string, field: string, time: string) =>
      (
        await db.one("select londiste.create_partition('x.log', $1, 'id', $2, $3, 'month') as r", [
          part,
          field,
          time,
        ])
      ).r;
    expect(await create('x.log_2024_01', 'ts', '2024-01-15 10:00+00')).toBe(1);
    expect(await create('x.log_2024_01', 'ts', '2024-01-15 10:00+00')).toBe(0);
    expect(await create('x.log_2001_01', 'ts', '2001-01-15 10:00+00')).toBe(1);
    expect(await create('x.log_2999_12', '', '2999-12-15 10:00+00')).toBe(1);
    expect(
      await rows(
        "select inhrelid::regclass::text as c from pg_inherits where inhparent = 'x.log'::regclass order by 1",
      ),
    ).toEqual([{ c: 'x.log_2001_01' }, { c: 'x.log_2024_01' }, { c: 'x.log_2999_12' }]);
    const checks = await rows(
      "select pg_get_constraintdef(oid) as d from pg_constraint where conrelid = 'x.log_2024_01'::regclass and contype = 'c'",
    );
    expect(checks).toHaveLength(1);
    expect(checks[0].d).toMatch(
      /^CHECK \(\(\(ts >= '2024-01-01 00:00:00.*\) AND \(ts < '2024-02-01 00:00:00.*\)\)\)$/,
    );
    expect(await triggersOf('x.log_2024_01')).toEqual([
      {
        tgname: 'log_trg',
        tgenabled: 'R',
        def: 'CREATE TRIGGER log_trg AFTER INSERT ON x.log_2024_01 FOR EACH ROW EXECUTE FUNCTION x.noop()',
      },
    ]);
    expect(
      (await rows("select definition from pg_rules where tablename = 'log_2024_01'"))[0].definition,
    ).toMatch(/ON UPDATE TO x\.log_2024_01 DO/);
    expect(
      (await rows("select indexname from pg_indexes where tablename = 'log_2024_01' order by 1")).length,
    ).toBe(2);
    expect(
      (await pgError(db.query("select londiste.create_partition(null, 'x.p', 'id', '', now(), 'month')")))
        .message,
    ).toBe('need table and part');
  });

  it('is_obsolete_partition / list_obsolete_partitions / drop_obsolete_partitions go by the date in the name', async () => {
    expect(
      await db.one(`select londiste.is_obsolete_partition('x.log_2024_01', '1 month', 'month') a,
                           londiste.is_obsolete_partition('x.log_2999_12', '1 month', 'monthly') b,
                           londiste.is_obsolete_partition('x.log', '1 month', 'month') c,
                           londiste.is_obsolete_partition('t_2000', '1 year', 'yearly') d,
                           londiste.is_obsolete_partition('t_2000_01_01', '1 day', 'day') e,
                           londiste.is_obsolete_partition('t_2999_01_01_05', '1 hour', 'hourly') f`),
    ).toEqual({ a: true, b: false, c: null, d: true, e: true, f: false });
    expect(
      (await pgError(db.query("select londiste.is_obsolete_partition('x.log_2024', '1 month', 'week')")))
        .message,
    ).toBe('not supported i_partition_period: week');
    expect(
      await rows("select * from londiste.list_obsolete_partitions('x.log', '1 month', 'month')"),
    ).toEqual([{ list_obsolete_partitions: 'x.log_2001_01' }, { list_obsolete_partitions: 'x.log_2024_01' }]);
    expect(await rows("select * from londiste.list_obsolete_partitions('x.log', '1 month', 'day')")).toEqual(
      [],
    );
    expect(
      await rows("select * from londiste.drop_obsolete_partitions('x.log', '1 month', 'month')"),
    ).toEqual([{ drop_obsolete_partitions: 'x.log_2001_01' }, { drop_obsolete_partitions: 'x.log_2024_01' }]);
    expect(
      await rows("select * from londiste.drop_obsolete_partitions('x.log', '1 month', 'month')"),
    ).toEqual([]);
    expect(
      await rows("select inhrelid::regclass::text as c from pg_inherits where inhparent = 'x.log'::regclass"),
    ).toEqual([{ c: 'x.log_2999_12' }]);
  });
});

describe("the original's event tables", () => {
  it('pgq.event_template shows every queue’s events, pgq.event_<id> that queue’s', async () => {
    const perQueue = await rows(
      `select q.queue_name, q.queue_data_pfx as t from pgq.queue q
        where q.queue_name in ('xr', 'lr') order by 1`,
    );
    let total = 0;
    for (const { t } of perQueue) {
      const own = await rows(`select ev_id, ev_type, ev_data from ${t} order by ev_id`);
      expect(own.length).toBeGreaterThan(0);
      total += own.length;
    }
    const all = (await db.one('select count(*)::int as n from pgq.event_template')).n;
    const sum = (await db.one('select count(*)::int as n from pgq.event_all')).n;
    expect(all).toBe(sum);
    expect(all).toBeGreaterThanOrEqual(total);
    // the template has the original's columns, and no routing columns
    expect((await db.query('select * from pgq.event_template limit 0')).fields.map((f) => f.name)).toEqual([
      'ev_id',
      'ev_time',
      'ev_txid',
      'ev_owner',
      'ev_retry',
      'ev_type',
      'ev_data',
      'ev_extra1',
      'ev_extra2',
      'ev_extra3',
      'ev_extra4',
    ]);
  });
});

describe('the manifest', () => {
  it('re-installs over registered rows without touching them', async () => {
    const before = await rows('select * from londiste.table_info order by queue_name, nr');
    const seqBefore = await rows('select * from londiste.seq_info order by queue_name, nr');
    expect(before.length).toBeGreaterThan(0);
    expect(seqBefore.length).toBeGreaterThan(0);
    const c = await db.connect();
    await install(c, { manifest: 'londiste/install.sql' });
    expect(await rows('select * from londiste.table_info order by queue_name, nr')).toEqual(before);
    expect(await rows('select * from londiste.seq_info order by queue_name, nr')).toEqual(seqBefore);
    expect(
      (await db.one("select count(*)::int as n from pg_trigger where tgname = 'table_info_trigger_sync'")).n,
    ).toBe(1);
  });

  it('the full install (sql/install.sql) re-installs over replicated tables: rows, triggers and events stay', async () => {
    const state = async () => ({
      tables: await rows('select * from londiste.table_info order by queue_name, nr'),
      triggers: await rows(
        "select tgrelid::regclass::text as t, tgname, pg_get_triggerdef(oid) as d from pg_trigger where tgname like '%londiste%' order by 1, 2",
      ),
      events: (await db.one('select count(*)::int as n from pgq.event_template')).n,
      pending: await rows('select * from londiste.pending_fkeys'),
      executed: await rows('select execute_file from londiste.applied_execute'),
    });
    const before = await state();
    expect(before.triggers.length).toBeGreaterThan(5);
    const c = await db.connect();
    await install(c);
    await install(c);
    expect(await state()).toEqual(before);
    expect((await db.one('select londiste.version() as v')).v).toBe('3.8');
  });

  it('installs with everything else as a role with only CREATE on the database (no superuser)', async () => {
    const fresh = await createDatabase({ empty: true });
    const role = `lnd_${randomBytes(4).toString('hex')}`;
    try {
      await fresh.query(`create role ${role} login password 'pw'`);
      await fresh.query(`grant create on database ${fresh.name} to ${role}`);
      await withRole(fresh.url, role, async (c) => {
        await install(c);
        await c.query("select * from pgq_node.register_location('q', 'n1', 'dbname=n1', false)");
        await c.query("select * from pgq_node.create_node('q', 'root', 'n1', 'w', null, null, null)");
        await c.query('create schema app; create table app.t (id int primary key)');
        const r = await c.query("select * from londiste.local_add_table('q', 'app.t')");
        expect(r.rows[0]).toEqual({ ret_code: 200, ret_note: 'Table added: app.t' });
        await c.query('insert into app.t values (1)');
        const ev = await c.query("select ev_type, ev_data from pgq.event_template where ev_type = 'I:id'");
        expect(ev.rows).toEqual([{ ev_type: 'I:id', ev_data: 'id=1' }]);
      });
      const owner = await fresh.one(
        "select nspowner::regrole::text as o from pg_namespace where nspname = 'londiste'",
      );
      expect(owner.o).toBe(role);
    } finally {
      await fresh.drop();
      await db.query(`drop role if exists ${role}`);
    }
  });

  it.runIf(hasPsql)('psql runs the same manifest over it', async () => {
    const before = await rows('select * from londiste.table_info order by queue_name, nr');
    execFileSync(
      'psql',
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', 'sql/londiste/install.sql'],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(await rows('select * from londiste.table_info order by queue_name, nr')).toEqual(before);
  });

  it('the manifest lists every function file', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const manifest = readFileSync(path.join(repoRoot, 'sql/londiste/install.sql'), 'utf8');
    for (const f of readdirSync(path.join(repoRoot, 'sql/londiste/functions'))) {
      expect(manifest, f).toContain(`\\ir functions/${f}`);
    }
  });
});
