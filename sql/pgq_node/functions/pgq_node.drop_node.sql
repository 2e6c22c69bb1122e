-- pgq_node.drop_node(i_queue_name text, i_node_name text, out ret_code int4, out ret_note text)
--
-- Removes a node from this database's view of the cascade; run it on every member.
--   the local node (or no local node at all): drops this node's subscribers, cascaded
--       consumers, node_info, the local queue (with its events) and every other location;
--       its own location goes last through pgq_node.unregister_location
--   this node's provider: refused with 405 'Cannot drop provider node: <node>'
--   any other node: its subscription here and its location are dropped
-- Returns 200 'Node dropped: <node>' (also when the node was unknown) or 405.
-- Tables: pgq_node.* (delete), pgq.queue and its events via pgq.drop_queue, pgq.subscription.
create or replace function pgq_node.drop_node(
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
    is_local    boolean;
    is_provider boolean;
begin
    select n.node_name = i_node_name,
           (select w.provider_node = i_node_name
              from pgq_node.local_state w
             where w.queue_name = n.queue_name
               and w.consumer_name = n.worker_name)
      into is_local, is_provider
      from pgq_node.node_info n
     where n.queue_name = i_queue_name;
    if not found then
        -- no node here: clean up whatever was left of it anyway
        is_local := true;
        is_provider := false;
    end if;

    if is_local then
        delete from pgq_node.subscriber_info s where s.queue_name = i_queue_name;
        delete from pgq_node.local_state w where w.queue_name = i_queue_name;
        delete from pgq_node.node_info n where n.queue_name = i_queue_name and n.node_name = i_node_name;
        if exists (select 1 from pgq.queue q where q.queue_name = i_queue_name) then
            perform pgq.drop_queue(i_queue_name, true);
        end if;
        delete from pgq_node.node_location l
         where l.queue_name = i_queue_name
           and l.node_name <> i_node_name;
    elsif is_provider then
        ret_code := 405;
        ret_note := 'Cannot drop provider node: ' || i_node_name;
        return;
    else
        perform pgq_node.unregister_subscriber(i_queue_name, i_node_name);
    end if;

    -- sends the unregister event when this is the root
    perform pgq_node.unregister_location(i_queue_name, i_node_name);

    ret_code := 200;
    ret_note := 'Node dropped: ' || i_node_name;
end;
$$;
