-- pgq_node.unregister_consumer(i_queue_name text, i_consumer_name text,
--     out ret_code int4, out ret_note text)
--
-- Forgets a cascaded consumer of the local node (its subscription on the provider is the
-- provider's business).
-- Returns 200 'Consumer <consumer> unregistered from <queue>' (also when it was not
-- registered); 404 'Unknown queue: <queue>' without a local node.
-- Tables: pgq_node.local_state (delete); locks pgq_node.node_info.
create or replace function pgq_node.unregister_consumer(
    in i_queue_name text,
    in i_consumer_name text,
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
    delete from pgq_node.local_state w
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    ret_code := 200;
    ret_note := 'Consumer ' || i_consumer_name || ' unregistered from ' || i_queue_name;
end;
$$;
