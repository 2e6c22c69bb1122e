-- pgq_node.register_subscriber(i_queue_name text, i_remote_node_name text,
--     i_remote_worker_name text, i_custom_tick_id int8,
--     out ret_code int4, out ret_note text, out global_watermark bigint)
--
-- Called on a provider (root or branch) for a node that will read from it: registers the
-- remote worker as a consumer of the local queue at i_custom_tick_id (NULL: the global
-- watermark; a tick is needed when a node changes provider) and a '.<node>.watermark'
-- consumer at the global watermark that keeps the events the subscriber still needs.
-- Returns 200 'Subscriber registered: <node>' with the global watermark; 404 'Unknown queue:
-- <queue>' without a local node; 401 'Cannot subscribe to <type> node' on a leaf.
-- Errors: registering the same node twice violates subscriber_info's key; a tick that is not
-- in the queue is refused by pgq.register_consumer_at.
-- Tables: pgq_node.subscriber_info (insert), pgq.consumer, pgq.subscription.
create or replace function pgq_node.register_subscriber(
    in i_queue_name text,
    in i_remote_node_name text,
    in i_remote_worker_name text,
    in i_custom_tick_id int8,
    out ret_code int4,
    out ret_note text,
    out global_watermark bigint)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    ntype   text;
    wm_name text;
begin
    select n.node_type into ntype
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown queue: ' || i_queue_name;
        return;
    end if;
    select ci.last_tick into global_watermark
      from pgq.get_consumer_info(i_queue_name, '.global_watermark') ci;
    if ntype not in ('root', 'branch') then
        ret_code := 401;
        ret_note := 'Cannot subscribe to ' || ntype || ' node';
        return;
    end if;

    wm_name := '.' || i_remote_node_name || '.watermark';
    perform pgq.register_consumer_at(i_queue_name, wm_name, global_watermark);
    perform pgq.register_consumer_at(i_queue_name, i_remote_worker_name,
                                     coalesce(i_custom_tick_id, global_watermark));
    insert into pgq_node.subscriber_info (queue_name, subscriber_node, worker_name, watermark_name)
    values (i_queue_name, i_remote_node_name, i_remote_worker_name, wm_name);

    ret_code := 200;
    ret_note := 'Subscriber registered: ' || i_remote_node_name;
end;
$$;
