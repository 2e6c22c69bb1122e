-- pgq._trigger_fingerprint(i_relid oid) returns text
--
-- A cheap fingerprint of the catalog rows a table's generated encoder depends on: the table's
-- pg_class and pg_namespace rows, its columns (pg_attribute), triggers (pg_trigger) and
-- indexes (pg_index), as the row versions' xmin (and the number of rows, so that a deleted
-- row shows). Any DDL that could change the encoder (rename, column added, dropped, renamed or
-- retyped, trigger created or dropped, primary key changed, schema renamed) writes a new row
-- version and so changes it. It can also change without such DDL (VACUUM FREEZE, an unrelated
-- index or trigger); then pgq._trigger_prepare compares the full signature, which is ~10x
-- dearer. NULL when the table does not exist. Read by pgq._trigger_prepare once per
-- transaction per table, so it is four index lookups, not the signature's catalog joins.
create or replace function pgq._trigger_fingerprint(i_relid oid)
returns text
language sql
stable
as $$
    select pg_catalog.concat_ws('/', c.xmin, n.xmin,
               (select pg_catalog.count(*) || ':' || pg_catalog.max(a.xmin::text::int8)
                  from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0),
               (select pg_catalog.count(*) || ':' || pg_catalog.max(t.xmin::text::int8)
                  from pg_catalog.pg_trigger t where t.tgrelid = c.oid),
               (select pg_catalog.count(*) || ':' || pg_catalog.max(i.xmin::text::int8)
                  from pg_catalog.pg_index i where i.indrelid = c.oid))
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = i_relid;
$$;
