// The copy's table structure (layers/londiste/copy/structure.ts): what it drops before the load
// and re-creates after it must come back exactly as the catalog had it — same pg_get_*def of every
// constraint, index and rule, same inheritance, clustering, replica identity and comments — also
// through the one-text form stored in table_info.dropped_ddl; foreign keys, triggers and what a
// partition inherits stay; partitioned tables are refused with a clear error.
import { describe, expect, it } from 'vitest';
import { type Queryable, quoteFqname } from '../../layers/db/index.ts';
import { splitDdl } from '../../layers/londiste/copy/ddl-text.ts';
import {
  createStructure,
  dropStructure,
  readStructure,
  structureDdl,
} from '../../layers/londiste/copy/structure.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase({ empty: true });

// Everything the catalog says about the table's structure, as text to compare before/after.
async function catalogDump(name: string) {
  const table = quoteFqname(name);
  const r = await db.query(
    `select 'con ' || conname || ' ' || pg_get_constraintdef(c.oid) || ' local=' || conislocal as line
       from pg_constraint c where conrelid = to_regclass($1)
     union all
     select 'idx ' || pg_get_indexdef(indexrelid) || ' clustered=' || indisclustered || ' options=' || coalesce(array_to_string((select reloptions from pg_class where oid = indexrelid), ','), '-') || ' replident=' || indisreplident
            || ' comment=' || coalesce(obj_description(indexrelid, 'pg_class'), '-')
       from pg_index where indrelid = to_regclass($1)
     union all
     select 'rule ' || pg_get_ruledef(oid) || ' enabled=' || ev_enabled::text
       from pg_rewrite where ev_class = to_regclass($1) and rulename <> '_RETURN'
     union all
     select 'parent ' || inhparent::regclass::text from pg_inherits where inhrelid = to_regclass($1)
     union all
     select 'trigger ' || tgname from pg_trigger where tgrelid = to_regclass($1) and not tgisinternal
     union all
     select 'replident ' || relreplident::text from pg_class where oid = to_regclass($1)
     union all
     select 'concomment ' || conname || ' ' || obj_description(oid, 'pg_constraint')
       from pg_constraint where conrelid = to_regclass($1) and obj_description(oid, 'pg_constraint') is not null
     order by 1`,
    [table],
  );
  return r.rows.map((x) => x.line as string);
}

describe('copy structure: drop and re-create', () => {
  it('round-trips pk, unique, check, exclusion, expression/partial indexes, deferrable constraints, rules and odd names', async () => {
    await db.query(`
      create schema "Odd Schema";
      create table "Odd Schema".base (id bigint);
      create table "Odd Schema"."Tab;le ""x""" (
        id bigint not null,
        "Mixed Case" text,
        v text check (v <> ';' and v <> 'a''b'),
        n int,
        during tstzrange,
        ref bigint,
        constraint "pk; odd" primary key (id) include (n) with (fillfactor = 90),
        constraint "uniq ""n""" unique (n) deferrable initially deferred,
        constraint later_check check (n > -1000) not valid,
        constraint no_overlap exclude using gist (during with &&) with (fillfactor = 80) where (n > 0)
      ) inherits ("Odd Schema".base);
      create table "Odd Schema".parent_ref (id bigint primary key);
      alter table "Odd Schema"."Tab;le ""x""" add constraint fk_ref foreign key (ref) references "Odd Schema".parent_ref (id);
      create index "lower(v)" on "Odd Schema"."Tab;le ""x""" (lower(v)) where n > 0;
      create index desc_idx on "Odd Schema"."Tab;le ""x""" ("Mixed Case" desc nulls last, n) with (fillfactor = 70);
      create unique index repl_idx on "Odd Schema"."Tab;le ""x""" (id, n);
      alter table "Odd Schema"."Tab;le ""x""" alter column n set not null;
      alter table "Odd Schema"."Tab;le ""x""" replica identity using index repl_idx;
      alter table "Odd Schema"."Tab;le ""x""" cluster on desc_idx;
      comment on index "Odd Schema".desc_idx is 'it''s a \\ comment; with semicolon';
      comment on constraint "uniq ""n""" on "Odd Schema"."Tab;le ""x""" is 'deferred until commit';
      create table "Odd Schema".log (v text);
      create rule "log rule" as on insert to "Odd Schema"."Tab;le ""x""" where new.v = 'log;me'
        do also (insert into "Odd Schema".log values (new.v); insert into "Odd Schema".log values ('(twice)'));
      create rule replica_rule as on update to "Odd Schema"."Tab;le ""x""" do also notify x;
      alter table "Odd Schema"."Tab;le ""x""" enable replica rule replica_rule;
      create function "Odd Schema".t() returns trigger language plpgsql as $$ begin return new; end $$;
      create trigger keep_me before insert on "Odd Schema"."Tab;le ""x""" for each row execute function "Odd Schema".t();
    `);
    const table = 'Odd Schema.Tab;le "x"';
    const before = await catalogDump(table);
    const structure = await readStructure(db.pool, table);
    expect(structure.objects.map((o) => `${o.kind}:${o.name}`)).toEqual([
      // catalog (creation) order
      'constraint:Tab;le "x"_v_check',
      'constraint:later_check',
      'constraint:pk; odd',
      'constraint:uniq "n"',
      'constraint:no_overlap',
      'index:lower(v)',
      'index:desc_idx',
      'index:repl_idx',
      'rule:log rule',
      'rule:replica_rule',
      'parent:Odd Schema.base',
    ]);
    expect(structure.objects.find((o) => o.name === 'pk; odd')?.contype).toBe('p');
    const ddl = structureDdl(structure);
    expect(ddl).not.toBeNull();

    const c = await db.pool.connect();
    try {
      await c.query('begin');
      await dropStructure(c, structure);
      // Only NOT NULL, the foreign key and the trigger are left.
      expect(await countsOn(c, table)).toEqual({
        cons: 0,
        fkeys: 1,
        idx: 0,
        rules: 0,
        parents: 0,
        triggers: 1,
      });
      // Re-created from the stored text, split back into statements.
      for (const stmt of splitDdl(ddl as string)) await c.query(stmt);
      await c.query('commit');
    } finally {
      c.release();
    }
    expect(await catalogDump(table)).toEqual(before);
    expect(await countsOn(db.pool, table)).toEqual({
      cons: 5,
      fkeys: 1,
      idx: 6,
      rules: 2,
      parents: 1,
      triggers: 1,
    });

    // And once more straight from the structure object.
    await dropStructure(db.pool, structure);
    await createStructure(db.pool, structure);
    expect(await catalogDump(table)).toEqual(before);
  });

  it('leaves a partition what it inherits from its partitioned parent and keeps it attached', async () => {
    await db.query(`
      create table parted (id int, k int, primary key (id, k), check (k > 0)) partition by range (k);
      create index parted_id on parted (id);
      create table parted_1 partition of parted for values from (1) to (100);
      create index parted_1_own on parted_1 (k) where id > 10;
      alter table parted_1 add constraint own_check check (id > -1);
    `);
    const before = await catalogDump('public.parted_1');
    const s = await readStructure(db.pool, 'public.parted_1');
    expect(s.objects.map((o) => `${o.kind}:${o.name}`)).toEqual([
      'constraint:own_check',
      'index:parted_1_own',
    ]);
    await dropStructure(db.pool, s);
    await createStructure(db.pool, s);
    expect(await catalogDump('public.parted_1')).toEqual(before);
  });

  it('refuses a partitioned table, a view and a missing table with clear errors', async () => {
    await db.query('create view a_view as select 1 as x');
    await expect(readStructure(db.pool, 'public.parted')).rejects.toMatchObject({
      kind: 'copy_failed',
      message: expect.stringMatching(/partitioned.*replicate the partitions/),
    });
    await expect(readStructure(db.pool, 'a_view')).rejects.toMatchObject({
      kind: 'copy_failed',
      message: expect.stringContaining('not a plain table'),
    });
    await expect(readStructure(db.pool, 'public.no_such')).rejects.toMatchObject({
      kind: 'not_found',
      message: 'table public.no_such does not exist',
    });
  });

  it('gives no DDL text for a bare table, and a failing re-create names the table and the statement', async () => {
    await db.query('create table bare (a int); create table dup (a int, constraint dup_u unique (a))');
    expect(structureDdl(await readStructure(db.pool, 'bare'))).toBeNull();
    const s = await readStructure(db.pool, 'public.dup');
    await dropStructure(db.pool, s);
    await db.query('insert into dup values (1), (1)');
    await expect(createStructure(db.pool, s)).rejects.toMatchObject({
      kind: 'copy_failed',
      message: expect.stringMatching(
        /^table public\.dup: could not create unique index "dup_u" .*\(in: CREATE UNIQUE INDEX dup_u ON public\.dup USING btree \(a\)\)$/s,
      ),
    });
  });
});

async function countsOn(c: Queryable, name: string) {
  const table = quoteFqname(name);
  const r = await c.query(
    `select (select count(*)::int from pg_constraint where conrelid = to_regclass($1) and contype <> 'f') as cons,
            (select count(*)::int from pg_constraint where conrelid = to_regclass($1) and contype = 'f') as fkeys,
            (select count(*)::int from pg_index where indrelid = to_regclass($1)) as idx,
            (select count(*)::int from pg_rewrite where ev_class = to_regclass($1) and rulename <> '_RETURN') as rules,
            (select count(*)::int from pg_inherits where inhrelid = to_regclass($1)) as parents,
            (select count(*)::int from pg_trigger where tgrelid = to_regclass($1) and not tgisinternal) as triggers`,
    [table],
  );
  return r.rows[0];
}
