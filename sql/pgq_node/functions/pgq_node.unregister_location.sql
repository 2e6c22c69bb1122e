-- pgq_node.unregister_location(i_queue_name text, i_node_name text,
--                              out ret_code int4, out ret_note text)
--
-- Forgets a member of the cascade. A leftover subscription of that node on this node is
-- dropped with it. On the root a 'pgq.unregister-location' event tells the other nodes.
-- Returns 200 'Ok'; 301 'Location not found: <queue>/<node>' when it was not known;
-- 403 when the node is this node itself or this node's provider (nothing changes then).
-- Tables: pgq_node.node_location (delete), pgq_node.subscriber_info and pgq.subscription via
-- pgq_node.unregister_subscriber; reads node_info, local_state.
create or replace function pgq_node.unregister_location(
    in i_queue_name text,
    in i_node_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    me_name     text;
    me_type     text;
    me_provider text;
    have_node   boolean;
begin
    select n.node_name, n.node_type, w.provider_node
      into me_name, me_type, me_provider
      from pgq_node.node_info n
      left join pgq_node.local_state w
        on w.queue_name = n.queue_name and w.consumer_name = n.worker_name
     where n.queue_name = i_queue_name;
    have_node := found;
    if have_node and me_name = i_node_name then
        ret_code := 403;
        ret_note := 'Cannot drop node''s own location';
        return;
    end if;
    if have_node and me_provider = i_node_name then
        ret_code := 403;
        ret_note := 'Cannot drop location of node''s parent';
        return;
    end if;

    -- a subscription the node may still have here goes too; "not found" is fine
    perform pgq_node.unregister_subscriber(i_queue_name, i_node_name);

    delete from pgq_node.node_location l
     where l.queue_name = i_queue_name
       and l.node_name = i_node_name;
    if found then
        ret_code := 200;
        ret_note := 'Ok';
    else
        ret_code := 301;
        ret_note := 'Location not found: ' || i_queue_name || '/' || i_node_name;
    end if;

    if me_type = 'root' then
        perform pgq.insert_event(i_queue_name, 'pgq.unregister-location', i_node_name,
                                 i_queue_name, null, null, null);
    end if;
end;
$$;
