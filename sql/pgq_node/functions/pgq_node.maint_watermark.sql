-- pgq_node.maint_watermark(i_queue_name text) returns int4
--
-- Periodic maintenance (pgq.maint_operations lists it for every root queue, pgqd runs it): on
-- the root, publishes the global watermark again (pgq_node.set_global_watermark(queue, NULL))
-- when it is 5 minutes or more old. Does nothing on other nodes.
-- Returns 0 (pgqd calls it once per round).
-- Tables: via pgq_node.set_global_watermark; locks pgq_node.node_info.
create or replace function pgq_node.maint_watermark(i_queue_name text)
returns int4
language plpgsql
as $$
declare
    wm_lag interval;
begin
    perform 1 from pgq_node.node_info n
     where n.queue_name = i_queue_name and n.node_type = 'root'
       for update;
    if not found then
        return 0;
    end if;
    select ci.lag into wm_lag from pgq.get_consumer_info(i_queue_name, '.global_watermark') ci;
    if wm_lag >= interval '5 minutes' then
        perform pgq_node.set_global_watermark(i_queue_name, null);
    end if;
    return 0;
end;
$$;
