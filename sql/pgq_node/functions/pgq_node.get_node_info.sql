-- pgq_node.get_node_info(i_queue_name text,
--     out ret_code int4, out ret_note text, out node_type text, out node_name text,
--     out global_watermark bigint, out local_watermark bigint, out provider_node text,
--     out provider_location text, out combined_queue text, out combined_type text,
--     out worker_name text, out worker_paused bool, out worker_uptodate bool,
--     out worker_last_tick bigint, out node_attrs text, out target_for text[])
--
-- Everything about the local node of a cascaded queue, for admin tools and the worker.
--   global_watermark   root/branch: the '.global_watermark' consumer's tick
--   local_watermark    root/branch: the lowest tick any other consumer of the local queue
--                      still needs (the queue's last tick when there are none); leaf: the
--                      worker's last tick
--   worker_last_tick   the worker's last completed tick; on the root the queue's last tick
--   target_for         root/branch: queues of merge-leaves that feed this queue
-- Returns ret_code 100 'Ok', or 404 'Unknown queue: <queue>' with the rest NULL.
-- Tables: reads pgq_node.*, pgq.tick, pgq.queue, pgq.get_consumer_info.
create or replace function pgq_node.get_node_info(
    in i_queue_name text,
    out ret_code int4,
    out ret_note text,
    out node_type text,
    out node_name text,
    out global_watermark bigint,
    out local_watermark bigint,
    out provider_node text,
    out provider_location text,
    out combined_queue text,
    out combined_type text,
    out worker_name text,
    out worker_paused bool,
    out worker_uptodate bool,
    out worker_last_tick bigint,
    out node_attrs text,
    out target_for text[])
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    select 100, 'Ok', n.node_type, n.node_name,
           c.node_type, c.queue_name, w.provider_node, l.node_location,
           n.worker_name, w.paused, w.uptodate, w.last_tick_id, n.node_attrs
      into ret_code, ret_note, node_type, node_name,
           combined_type, combined_queue, provider_node, provider_location,
           worker_name, worker_paused, worker_uptodate, worker_last_tick, node_attrs
      from pgq_node.node_info n
      left join pgq_node.node_info c on c.queue_name = n.combined_queue
      left join pgq_node.local_state w on w.queue_name = n.queue_name and w.consumer_name = n.worker_name
      left join pgq_node.node_location l on l.queue_name = w.queue_name and l.node_name = w.provider_node
     where n.queue_name = i_queue_name;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown queue: ' || i_queue_name;
        return;
    end if;

    if node_type in ('root', 'branch') then
        select min(ci.last_tick) filter (where ci.consumer_name <> '.global_watermark'),
               min(ci.last_tick) filter (where ci.consumer_name = '.global_watermark')
          into local_watermark, global_watermark
          from pgq.get_consumer_info(i_queue_name) ci;
        if local_watermark is null then
            select t.tick_id into local_watermark
              from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
             where q.queue_name = i_queue_name
             order by t.tick_queue desc, t.tick_id desc
             limit 1;
        end if;
        select array_agg(m.queue_name order by m.queue_name) into target_for
          from pgq_node.node_info m
         where m.combined_queue = i_queue_name;
    else
        local_watermark := worker_last_tick;
    end if;

    if node_type = 'root' then
        select t.tick_id into worker_last_tick
          from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
         where q.queue_name = i_queue_name
         order by t.tick_queue desc, t.tick_id desc
         limit 1;
    end if;
end;
$$;
