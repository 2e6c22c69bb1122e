// Golden comparison with Debian's londiste 3.8: one database gets `create extension londiste`
// (on the C pgq and the original pgq_node), the other our sql/install.sql (which includes
// sql/londiste/), on the same server. Every function must have the original's arguments and
// result columns, the tables their columns and constraints, and the same call scripts (root,
// branch, leaf; tables, triggers, sequences, foreign keys, EXECUTE, partitions, bad input) must
// give the same rows, errors, trigger definitions and events.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { C_URL, probeCompat, useSideBySide } from '../support/compat.ts';

const env = await probeCompat();
let reason = env.reason;
if (env.ok) {
  const c = new pg.Client({ connectionString: C_URL });
  await c.connect();
  const r = await c.query("select count(*)::int as n from pg_available_extensions where name = 'londiste'");
  await c.end();
  if (r.rows[0].n === 0)
    reason = `server ${C_URL} has no londiste extension (install postgresql-15-londiste-sql)`;
}
const ready = env.ok && reason === '';
if (!ready) console.warn(`compat (londiste vs the original) skipped: ${reason}`);

type Outcome = { rows: unknown[] } | { error: string };

async function run(c: pg.Client, sql: string): Promise<Outcome> {
  try {
    return { rows: (await c.query(sql)).rows };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const L = (call: string) => `select * from londiste.${call}`;
const state = [
  `select queue_name, table_name, local, merge_state, custom_snapshot, table_attrs, dropped_ddl, dest_table
     from londiste.table_info order by queue_name, nr`,
  'select queue_name, seq_name, local, last_value from londiste.seq_info order by queue_name, nr',
  // queue ids are assigned in creation order, the same on both sides: lr is queue 1
  'select ev_type, ev_data, ev_extra1 from pgq.event_1 order by ev_id',
  "select tgname from pg_trigger where tgrelid = 'public.t3'::regclass order by 1",
];

const script: string[] = [
  // nodes: lr root, lb branch, ll leaf; tables and sequences to register
  "select * from pgq_node.register_location('lr', 'r1', 'dbname=r1', false)",
  "select * from pgq_node.create_node('lr', 'root', 'r1', 'w', null, null, null)",
  "select * from pgq_node.register_location('lb', 'b1', 'dbname=b1', false)",
  "select * from pgq_node.register_location('lb', 'p', 'dbname=p', false)",
  "select * from pgq_node.create_node('lb', 'branch', 'b1', 'w', 'p', 1, null)",
  "select * from pgq_node.register_location('ll', 'l1', 'dbname=l1', false)",
  "select * from pgq_node.register_location('ll', 'p', 'dbname=p', false)",
  "select * from pgq_node.create_node('ll', 'leaf', 'l1', 'w', 'p', 1, null)",
  `create schema s1;
   create table public.t1 (id serial primary key, v text);
   create table s1.t2 (a int, b int, c text, primary key (b, a));
   create table public.t_drop (x int, y int primary key, z int);
   alter table public.t_drop drop column x;
   create sequence public.sq1;
   create sequence s1.sq2;
   create table public.t3 (id int primary key);
   create trigger t3_lr after insert on public.t3 for each row execute procedure pgq.logutriga('lr');
   create trigger t3_other after insert on public.t3 for each row execute procedure pgq.logutriga('other_q');
   create function public.noop() returns trigger language plpgsql as 'begin return new; end';
   create trigger t3_plain after insert on public.t3 for each row execute procedure public.noop()`,
  // name helpers
  `select londiste.make_fqname('t1') a, londiste.make_fqname('s1.t2') b, londiste.make_fqname('a.b.c') c,
          londiste.make_fqname(null) d, londiste.quote_fqname('t1') e, londiste.quote_fqname('My Schema.Tbl') f,
          londiste.quote_fqname('a.b.c') g, londiste.quote_fqname(null) h`,
  "select * from londiste.split_fqname('t1')",
  "select * from londiste.split_fqname('a.b.c')",
  'select * from londiste.split_fqname(null)',
  `select londiste.find_table_oid('t1') = 'public.t1'::regclass a, londiste.find_table_oid('sq1') b,
          londiste.find_table_oid('nope') c, londiste.find_seq_oid('sq1') = 'public.sq1'::regclass d,
          londiste.find_seq_oid('s1.sq2') = 's1.sq2'::regclass e, londiste.find_seq_oid('t1') f,
          londiste.find_rel_oid('s1.t2', 'r') = 's1.t2'::regclass g, londiste.find_rel_oid('s1.t2', null) h,
          londiste.find_rel_oid('s1.t2', 'S') i`,
  `select londiste.find_column_types('t1') a, londiste.find_column_types('s1.t2') b,
          londiste.find_column_types('nope') d, londiste.find_column_types(null) e`,
  // s1.t2's key (b, a) is its first two columns, so the original's pairing happens to be right

  `select londiste.is_replica_func('pgq.logutriga'::regproc) a, londiste.is_replica_func('pgq.sqltriga'::regproc) b,
          londiste.is_replica_func('pgq.insert_event(text,text,text)'::regprocedure) c,
          londiste.is_replica_func(null) d, londiste.is_replica_func(0) e`,
  "select londiste.set_session_replication_role('replica', true)",
  "select londiste.set_session_replication_role('off', true)",
  "select londiste.set_session_replication_role('origin', false)",
  // tables in the set
  L("global_add_table('nosuch', 't1')"),
  L("global_add_table('lr', 't1')"),
  L("global_add_table('lr', 't1')"),
  L("global_add_table('lr', 'public.t1')"),
  L("global_add_table('lr', 's1.t2')"),
  L("global_add_table('lb', 't1')"),
  L("global_add_table('lb', 'public.gone')"),
  L("global_add_table('lb', null)"),
  L("global_remove_table('lb', 'gone')"),
  L("global_remove_table('lb', 'gone')"),
  L("global_remove_table('lr', 'nope')"),
  L("global_remove_table('nosuch', 't1')"),
  ...state,
  L("local_set_table_state('lb', 't1', 'snap', 'in-copy')"),
  L("local_set_table_attrs('lb', 'public.t1', 'handler=x')"),
  L("local_set_table_struct('lb', 'public.t1', 'create index')"),
  "update londiste.table_info set local = true where queue_name = 'lb' and table_name = 'public.t1'",
  L("local_set_table_state('lb', 't1', 'snap', 'in-copy')"),
  L("local_set_table_state('lb', 'nope', null, null)"),
  L("local_set_table_attrs('lb', 't1', 'handler=x')"),
  L("local_set_table_attrs('lb', 'public.t1', 'handler=x')"),
  L("local_set_table_struct('lb', 'public.t1', 'create index t1_v on public.t1 (v)')"),
  L("local_set_table_state('lb', 't1', null, 'ok')"),
  L("local_set_table_state('lb', 't1', null, 'catching-up')"),
  L("local_set_table_state('lb', 't1', null, null)"),
  L("local_set_table_state('lb', 't1', 'snap2', 'catching-up')"),
  ...state,
  "insert into public.t1 (v) values ('half copied')",
  "insert into londiste.seq_info (queue_name, seq_name, local, last_value) values ('lb', 'public.t1_id_seq', true, 5)",
  L("local_remove_table('lb', 't1')"),
  L("local_remove_table('lb', 't1')"),
  L("local_remove_table('lb', 'nope')"),
  L("local_remove_table('nosuch', 'nope')"),
  'select count(*) from public.t1',
  "select indexname from pg_indexes where tablename = 't1' order by 1",
  ...state,
  "update londiste.table_info set local = true where queue_name = 'lr' and table_name = 's1.t2'",
  L("local_remove_table('lr', 's1.t2')"),
  L("local_remove_table('lr', 't1')"),
  L("local_remove_table('lr', 't1')"),
  L("global_add_table('lr', 't3')"),
  "delete from londiste.table_info where queue_name = 'lr' and table_name = 'public.t3'",
  ...state,
  L("global_add_table('lr', 't1')"),
  "update londiste.table_info set local = true where queue_name = 'lr' and table_name = 'public.t1'",
  L("local_show_missing('lr')"),
  L("local_show_missing('lb')"),
  L("local_show_missing('ll')"),
  L("local_show_missing('nosuch')"),
  // sequences
  L("local_add_seq('lr', 'nope')"),
  L("local_add_seq('lr', 'sq1')"),
  L("local_add_seq('lr', 'public.sq1')"),
  L("local_add_seq('nosuch', 'sq1')"),
  L("root_check_seqs('lr')"),
  "select setval('public.sq1', 20001)",
  L("root_check_seqs('lr', 5)"),
  L("root_check_seqs('lr', 100)"),
  "select setval('public.sq1', 49950)",
  L("root_check_seqs('lr', 100)"),
  L("root_check_seqs('lr', null)"),
  L("root_check_seqs('lb')"),
  L("root_check_seqs('nosuch', 10)"),
  L("get_seq_list('lr')"),
  L("global_update_seq('nosuch', 'sq1', 10)"),
  L("global_update_seq('lr', 'sq1', 10)"),
  L("local_add_seq('lb', 's1.sq2')"),
  L("global_update_seq('lb', 's1.sq2', 700)"),
  L("local_add_seq('lb', 's1.sq2')"),
  L("local_add_seq('lb', 's1.sq2')"),
  'select last_value from s1.sq2',
  L("global_update_seq('lb', 's1.sq2', 900)"),
  L("global_update_seq('lb', 's1.sq2', 800)"),
  'select last_value from s1.sq2',
  L("get_seq_list('lb')"),
  L("get_seq_list('nosuch')"),
  L("local_show_missing('lb')"),
  L("local_remove_seq('lb', 's1.sq2')"),
  L("local_remove_seq('lb', 's1.sq2')"),
  L("global_remove_seq('lb', 's1.sq2')"),
  L("global_remove_seq('lb', 's1.sq2')"),
  L("local_remove_seq('lr', 'sq1')"),
  L("local_remove_seq('lr', 'sq1')"),
  L("local_remove_seq('nosuch', 'sq1')"),
  "select londiste.root_notify_change('lb', 'x', 'y')",
  "select londiste.root_notify_change('lr', 'x', 'y')",
  ...state,
  // dropping the node takes its registrations with it (foreign keys cascade)
  "select * from pgq_node.drop_node('lb', 'b1')",
  ...state,
];

describe.runIf(ready)('londiste: ours vs the original extension', () => {
  const dbs = useSideBySide('lond', {
    original: async (c) => {
      await c.query('create extension pgq; create extension pgq_node; create extension londiste');
    },
    ours: async (c) => {
      await install(c);
    },
  });

  it('has the same functions: names, arguments, results, security definer, strictness', async () => {
    const q = `select p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> '
                      || pg_get_function_result(p.oid) || case when p.prosecdef then ' secdef' else '' end
                      || case when p.proisstrict then ' strict' else '' end as f
                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'londiste' order by 1`;
    const ours = (await dbs.ours.query(q)).rows.map((r) => r.f);
    // every function of 3.8, overloads included: nothing missing, nothing of our own
    expect(ours).toHaveLength(49);
    expect(ours).toEqual((await dbs.original.query(q)).rows.map((r) => r.f));
  });

  it('has the same tables, columns, constraints and trigger', async () => {
    const cols = `select table_name, column_name, data_type, is_nullable, column_default
                    from information_schema.columns where table_schema = 'londiste' order by 1, ordinal_position`;
    expect((await dbs.ours.query(cols)).rows).toEqual((await dbs.original.query(cols)).rows);
    const cons = `select conrelid::regclass::text as t, contype, pg_get_constraintdef(oid) as def
                    from pg_constraint where connamespace = 'londiste'::regnamespace order by 1, 2, 3`;
    expect((await dbs.ours.query(cons)).rows).toEqual((await dbs.original.query(cons)).rows);
    const trg = `select tgrelid::regclass::text as t, tgname, tgtype, tgfoid::regproc::text as f
                   from pg_trigger where tgrelid = 'londiste.table_info'::regclass and not tgisinternal order by 2`;
    expect((await dbs.ours.query(trg)).rows).toEqual((await dbs.original.query(trg)).rows);
  });

  it('gives the same result for every call of the root/branch/leaf script', async () => {
    const diffs: { step: number; sql: string; original: Outcome; ours: Outcome }[] = [];
    const errors: string[] = [];
    for (const [i, sql] of script.entries()) {
      const original = await run(dbs.original, sql);
      const ours = await run(dbs.ours, sql);
      if ('error' in ours) errors.push(`${sql} -> ${ours.error}`);
      if (JSON.stringify(original) !== JSON.stringify(ours)) diffs.push({ step: i, sql, original, ours });
    }
    expect(diffs).toEqual([]);
    // the script's setup worked, so the calls compared did real work: only the bad input fails
    expect(errors).toEqual([
      "select londiste.set_session_replication_role('off', true) -> bad value for session_replication_role",
      "select * from londiste.global_remove_table('nosuch', 't1') -> queue does not exist: nosuch",
      "select * from londiste.local_set_table_state('lb', 't1', null, 'ok') -> new row for relation \"table_info\" violates check constraint \"table_info_check\"",
      "select * from londiste.local_show_missing('nosuch') -> queue does not exist: nosuch",
      "select * from londiste.local_add_seq('nosuch', 'sq1') -> queue does not exist: nosuch",
      "select * from londiste.local_remove_seq('nosuch', 'sq1') -> queue does not exist: nosuch",
      "select londiste.root_notify_change('lb', 'x', 'y') -> only root node can send events",
    ]);
  });

  // The one deliberate difference: the original pairs the key index's column positions with the
  // table's column numbers, so after a dropped column it finds no key (and local_add_table
  // would refuse the table); ours marks the key columns themselves.
  it('find_column_types: marks the real key columns where the original is misled by a dropped column', async () => {
    const q = "select londiste.find_column_types('t_drop') as t";
    expect((await dbs.original.query(q)).rows).toEqual([{ t: 'vv' }]);
    expect((await dbs.ours.query(q)).rows).toEqual([{ t: 'kv' }]);
  });

  it('version: ours says 3.8, as the extension does', async () => {
    const q = 'select londiste.version() as v';
    expect((await dbs.ours.query(q)).rows).toEqual((await dbs.original.query(q)).rows);
  });
});
