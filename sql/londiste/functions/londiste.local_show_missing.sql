-- londiste.local_show_missing(i_queue_name text, out obj_kind text, out obj_name text)
--     returns setof record
--
-- What could still be registered on this node, ordered by kind ('S' sequence, 'r' table), then
-- name. On the root: every table and sequence of the database outside the system and SkyTools
-- schemas (pgq, pgq_ext, pgq_node, londiste) that no local table row covers (by dest_table or
-- table_name). Elsewhere: the set's tables and sequences not local here. Strict.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: londiste.table_info, londiste.seq_info, pg_catalog.pg_class (read).
create or replace function londiste.local_show_missing(
    in i_queue_name text,
    out obj_kind text,
    out obj_name text)
returns setof record
language plpgsql
strict
stable
as $$
begin
    if pgq_node.is_root_node(i_queue_name) then
        return query
            select c.relkind::text, n.nspname || '.' || c.relname
              from pg_catalog.pg_class c
              join pg_catalog.pg_namespace n on n.oid = c.relnamespace
             where c.relkind in ('r', 'S')
               and n.nspname not in ('pgq', 'pgq_ext', 'pgq_node', 'londiste',
                                     'pg_catalog', 'information_schema')
               and n.nspname !~ '^pg_(toast|temp)'
               and not exists (
                   select 1 from londiste.table_info t
                    where t.queue_name = i_queue_name and t.local
                      and coalesce(t.dest_table, t.table_name) = n.nspname || '.' || c.relname)
             order by 1, 2;
    else
        return query
            select 'S'::text, s.seq_name from londiste.seq_info s
             where s.queue_name = i_queue_name and not s.local
            union all
            select 'r'::text, t.table_name from londiste.table_info t
             where t.queue_name = i_queue_name and not t.local
             order by 1, 2;
    end if;
end;
$$;
