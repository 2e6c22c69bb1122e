-- pgq_node.change_consumer_provider(i_queue_name text, i_consumer_name text,
--     i_new_provider text, out ret_code int4, out ret_note text)
--
-- Points a cascaded consumer of the local node at another provider node; it must reload
-- (uptodate = false). Its position (last tick) stays.
-- Returns 200 'Consumer provider node set to : <node>'; 404 'New node not found: <node>'
-- when the node is not a known location; 404 'Unknown consumer: <queue>/<consumer>'.
-- Tables: pgq_node.local_state (update); reads pgq_node.node_location.
create or replace function pgq_node.change_consumer_provider(
    in i_queue_name text,
    in i_consumer_name text,
    in i_new_provider text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    if not exists (select 1 from pgq_node.node_location l
                    where l.queue_name = i_queue_name and l.node_name = i_new_provider) then
        ret_code := 404;
        ret_note := 'New node not found: ' || i_new_provider;
        return;
    end if;
    update pgq_node.local_state w
       set provider_node = i_new_provider,
           uptodate = false
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown consumer: ' || i_queue_name || '/' || i_consumer_name;
        return;
    end if;
    ret_code := 200;
    ret_note := 'Consumer provider node set to : ' || i_new_provider;
end;
$$;
