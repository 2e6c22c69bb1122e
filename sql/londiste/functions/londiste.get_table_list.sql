-- londiste.get_table_list(i_queue_name text,
--     out table_name text, out local boolean, out merge_state text, out custom_snapshot text,
--     out table_attrs text, out dropped_ddl text, out copy_role text, out copy_pos int4,
--     out dest_table text) returns setof record
--
-- The tables of the queue's set on this node, in registration order (nr, then name): the
-- table_info columns, and for a table in copy ('in-copy', 'catching-up') how its copy takes
-- turns with the other queues copying into the same destination (londiste._coordinate_copy:
-- copy_role 'lead' / 'wait-copy' / 'wait-replay' / NULL and copy_pos). Otherwise copy_role is
-- NULL and copy_pos 0. No rows for an unknown queue. Strict.
-- Tables: londiste.table_info, pgq_node.node_info (read).
create or replace function londiste.get_table_list(
    in i_queue_name text,
    out table_name text,
    out local boolean,
    out merge_state text,
    out custom_snapshot text,
    out table_attrs text,
    out dropped_ddl text,
    out copy_role text,
    out copy_pos int4,
    out dest_table text)
returns setof record
language plpgsql
strict
stable
as $$
begin
    for table_name, local, merge_state, custom_snapshot, table_attrs, dropped_ddl, dest_table in
        select t.table_name, t.local, t.merge_state, t.custom_snapshot, t.table_attrs,
               t.dropped_ddl, t.dest_table
          from londiste.table_info t
         where t.queue_name = i_queue_name
         order by t.nr, t.table_name
    loop
        copy_role := null;
        copy_pos := 0;
        -- only a copy in progress has anything to coordinate (and the call costs a query)
        if merge_state in ('in-copy', 'catching-up') then
            select c.copy_role, c.copy_pos into copy_role, copy_pos
              from londiste._coordinate_copy(i_queue_name, table_name) c;
        end if;
        return next;
    end loop;
end;
$$;
