-- londiste.find_table_oid(tbl text) returns oid
--
-- The oid of the ordinary table tbl (londiste.find_rel_oid with relkind 'r'), NULL if none.
-- Strict. Tables: pg_catalog.pg_class (read).
create or replace function londiste.find_table_oid(tbl text)
returns oid
language sql
strict
stable
as $$
    select londiste.find_rel_oid(tbl, 'r');
$$;
