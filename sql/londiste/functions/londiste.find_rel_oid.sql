-- londiste.find_rel_oid(i_fqname text, i_kind text) returns oid
--
-- The pg_class oid of the relation named i_fqname (split as londiste.split_fqname, compared
-- as stored, not unquoted) whose relkind is i_kind ('r' table, 'S' sequence).
-- Returns NULL when there is none. Strict. Tables: pg_catalog.pg_class, pg_namespace (read).
create or replace function londiste.find_rel_oid(i_fqname text, i_kind text)
returns oid
language sql
strict
stable
as $$
    select c.oid
      from londiste.split_fqname(i_fqname) p
      join pg_catalog.pg_namespace n on n.nspname = p.schema_part
      join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.name_part
     where c.relkind::text = i_kind;
$$;
