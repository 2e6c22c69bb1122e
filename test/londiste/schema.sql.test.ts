// londiste schema: the name helpers, table and sequence registration on a root, a branch and a
// leaf (one queue each, in one database), the state each call leaves behind, and re-installing
// the manifest over registered rows. The template database has it (sql/install.sql includes it).
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { useTestDatabase } from '../support/db.ts';
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
