-- pgq_node.register_consumer(i_queue_name text, i_consumer_name text, i_provider_node text,
--     i_custom_tick_id int8, out ret_code int4, out ret_note text)
--
-- Registers a cascaded consumer on the local node: it reads batches from i_provider_node and
-- records here the last tick it completed (starting at i_custom_tick_id). Registering an
-- existing consumer again moves it to the given provider and tick.
-- Returns 200 'Consumer <consumer> registered on queue <queue>'; 201 'Consumer already
-- registered: <queue>/<consumer>' (after the move); 404 'Unknown queue: <queue>' without a
-- local node.
-- Errors: a provider that is not a known location, or NULL provider / tick, violate
-- local_state's constraints.
-- Tables: pgq_node.local_state (insert/update); locks pgq_node.node_info.
create or replace function pgq_node.register_consumer(
    in i_queue_name text,
    in i_consumer_name text,
    in i_provider_node text,
    in i_custom_tick_id int8,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    perform 1 from pgq_node.node_info n where n.queue_name = i_queue_name for update;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown queue: ' || i_queue_name;
        return;
    end if;

    update pgq_node.local_state w
       set provider_node = i_provider_node,
           last_tick_id = i_custom_tick_id
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    if found then
        ret_code := 201;
        ret_note := 'Consumer already registered: ' || i_queue_name || '/' || i_consumer_name;
        return;
    end if;

    insert into pgq_node.local_state (queue_name, consumer_name, provider_node, last_tick_id)
    values (i_queue_name, i_consumer_name, i_provider_node, i_custom_tick_id);
    ret_code := 200;
    ret_note := 'Consumer ' || i_consumer_name || ' registered on queue ' || i_queue_name;
end;
$$;
