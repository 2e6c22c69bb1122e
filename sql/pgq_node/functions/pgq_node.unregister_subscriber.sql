-- pgq_node.unregister_subscriber(i_queue_name text, i_remote_node_name text,
--     out ret_code int4, out ret_note text)
--
-- Called on a provider when a node stops reading from it: forgets the subscriber and
-- unregisters its worker and its '.<node>.watermark' consumer from the local queue.
-- Returns 200 'Subscriber unregistered: <node>'; 304 'Subscriber not found' (nothing changes).
-- Tables: pgq_node.subscriber_info (delete), pgq.subscription / pgq.retry_queue via
-- pgq.unregister_consumer.
create or replace function pgq_node.unregister_subscriber(
    in i_queue_name text,
    in i_remote_node_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    wname text;
    wm_name text;
begin
    delete from pgq_node.subscriber_info s
     where s.queue_name = i_queue_name
       and s.subscriber_node = i_remote_node_name
    returning s.worker_name, s.watermark_name into wname, wm_name;
    if not found then
        ret_code := 304;
        ret_note := 'Subscriber not found';
        return;
    end if;

    perform pgq.unregister_consumer(i_queue_name, '.' || i_remote_node_name || '.watermark');
    perform pgq.unregister_consumer(i_queue_name, wname);

    ret_code := 200;
    ret_note := 'Subscriber unregistered: ' || i_remote_node_name;
end;
$$;
