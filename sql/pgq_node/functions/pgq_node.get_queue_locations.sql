-- pgq_node.get_queue_locations(i_queue_name text,
--     out node_name text, out node_location text, out dead boolean) returns setof record
--
-- Lists the known members of a cascaded queue with their connect strings and dead flags
-- (no particular order, as the original). Unknown queue: no rows.
-- Tables: reads pgq_node.node_location. Errors: none.
create or replace function pgq_node.get_queue_locations(
    in i_queue_name text,
    out node_name text,
    out node_location text,
    out dead boolean)
returns setof record
language sql
stable
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
    select l.node_name, l.node_location, l.dead
      from pgq_node.node_location l
     where l.queue_name = i_queue_name;
$$;
