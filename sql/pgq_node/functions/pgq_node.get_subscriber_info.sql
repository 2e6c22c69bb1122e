-- pgq_node.get_subscriber_info(i_queue_name text,
--     out node_name text, out worker_name text, out node_watermark int8) returns setof record
--
-- Nodes that use this node as provider, by node name, with the worker that feeds each and
-- the watermark each reported (the tick of its '.<node>.watermark' consumer here; NULL when
-- that consumer is gone). The provider's own node info is authoritative; this list may lag
-- behind an admin change in progress. Unknown queue: no rows.
-- Tables: reads pgq_node.subscriber_info, pgq.get_consumer_info.
create or replace function pgq_node.get_subscriber_info(
    in i_queue_name text,
    out node_name text,
    out worker_name text,
    out node_watermark int8)
returns setof record
language sql
stable
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
    select s.subscriber_node, s.worker_name,
           (select ci.last_tick from pgq.get_consumer_info(i_queue_name, s.watermark_name) ci)
      from pgq_node.subscriber_info s
     where s.queue_name = i_queue_name
     order by s.subscriber_node;
$$;
