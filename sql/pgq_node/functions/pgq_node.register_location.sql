-- pgq_node.register_location(i_queue_name text, i_node_name text, i_node_location text,
--                            i_dead boolean, out ret_code int4, out ret_note text)
--
-- Adds a member of the cascade or updates it: a known node gets the new connect string (NULL
-- keeps the old one) and dead flag; an unknown node is added only when a location is given.
-- On the root node the change is also sent down the cascade as a 'pgq.location-info' event.
-- Returns 200 'Location registered' (also when nothing was added for a NULL location).
-- Tables: pgq_node.node_location (insert/update), pgq_node.node_info (lock); event on the root.
-- Errors: dead = NULL on an existing node or NULL names on a new one violate NOT NULL.
create or replace function pgq_node.register_location(
    in i_queue_name text,
    in i_node_name text,
    in i_node_location text,
    in i_dead boolean,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    local_type text;
begin
    -- Lock this node's row (if any) so type changes and location events do not interleave.
    select n.node_type into local_type
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;

    update pgq_node.node_location l
       set node_location = coalesce(i_node_location, l.node_location),
           dead = i_dead
     where l.queue_name = i_queue_name
       and l.node_name = i_node_name;
    if not found and i_node_location is not null then
        insert into pgq_node.node_location (queue_name, node_name, node_location, dead)
        values (i_queue_name, i_node_name, i_node_location, i_dead);
    end if;

    if local_type = 'root' then
        perform pgq.insert_event(i_queue_name, 'pgq.location-info', i_node_name,
                                 i_queue_name, i_node_location, i_dead::text, null);
    end if;

    ret_code := 200;
    ret_note := 'Location registered';
end;
$$;
