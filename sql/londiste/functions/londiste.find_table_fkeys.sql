-- londiste.find_table_fkeys(i_table_name text) returns setof londiste.pending_fkeys
--
-- The foreign keys of table i_table_name in both directions (those it has, and those of other
-- tables referencing it), as rows of londiste.pending_fkeys: from_table and to_table as
-- 'schema.table' (not quoted), fkey_name, and fkey_def, the statement that re-creates the key:
-- 'alter table only <from> add constraint <name> <definition>'. Ordered by from_table,
-- to_table, fkey_name. No rows for an unknown table. Strict.
-- Tables: pg_catalog.pg_constraint, pg_class, pg_namespace (read).
create or replace function londiste.find_table_fkeys(i_table_name text)
returns setof londiste.pending_fkeys
language sql
strict
stable
as $$
    select n1.nspname || '.' || t1.relname,
           n2.nspname || '.' || t2.relname,
           c.conname::text,
           'alter table only ' || quote_ident(n1.nspname) || '.' || quote_ident(t1.relname)
               || ' add constraint ' || quote_ident(c.conname::text) || ' '
               || pg_catalog.pg_get_constraintdef(c.oid)
      from pg_catalog.pg_constraint c
      join pg_catalog.pg_class t1 on t1.oid = c.conrelid
      join pg_catalog.pg_namespace n1 on n1.oid = t1.relnamespace
      join pg_catalog.pg_class t2 on t2.oid = c.confrelid
      join pg_catalog.pg_namespace n2 on n2.oid = t2.relnamespace
     where c.contype = 'f'
       and londiste.find_table_oid(i_table_name) in (c.conrelid, c.confrelid)
     order by 1, 2, 3;
$$;
