-- pgq_node.get_worker_state(i_queue_name text,
--     out ret_code int4, out ret_note text, out node_type text, out node_name text,
--     out completed_tick bigint, out provider_node text, out provider_location text,
--     out paused boolean, out uptodate boolean, out cur_error text, out worker_name text,
--     out global_watermark bigint, out local_watermark bigint, out local_queue_top bigint,
--     out combined_queue text, out combined_type text)
--
-- State for the worker that maintains the local node, read at the start of each loop:
-- its position and flags, where the provider is, the watermarks (as pgq_node.get_node_info)
-- and the local queue's last tick (root/branch), plus the combined queue's node type for a
-- merge-leaf.
-- Returns ret_code 100 'Ok'; 404 with 'Unknown queue: <queue>', 'Unknown consumer:
-- <queue>/<worker>', 'Unknown provider node: <queue>/<node>' or 'Combinde queue node not
-- found: <queue>' (the original's spelling) when a piece is missing.
-- Tables: reads pgq_node.*, pgq.tick, pgq.queue, pgq.get_consumer_info.
create or replace function pgq_node.get_worker_state(
    in i_queue_name text,
    out ret_code int4,
    out ret_note text,
    out node_type text,
    out node_name text,
    out completed_tick bigint,
    out provider_node text,
    out provider_location text,
    out paused boolean,
    out uptodate boolean,
    out cur_error text,
    out worker_name text,
    out global_watermark bigint,
    out local_watermark bigint,
    out local_queue_top bigint,
    out combined_queue text,
    out combined_type text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    select n.node_type, n.node_name, n.worker_name, n.combined_queue
      into node_type, node_name, worker_name, combined_queue
      from pgq_node.node_info n
     where n.queue_name = i_queue_name;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown queue: ' || i_queue_name;
        return;
    end if;

    -- Position, flags and provider of the worker's own consumer: get_consumer_state's job
    -- (same 404s, naming the worker as the consumer).
    select s.ret_code, s.ret_note, s.completed_tick, s.provider_node, s.provider_location,
           s.paused, s.uptodate, s.cur_error
      into ret_code, ret_note, completed_tick, provider_node, provider_location,
           paused, uptodate, cur_error
      from pgq_node.get_consumer_state(i_queue_name, worker_name) s;
    if ret_code <> 100 then
        return;
    end if;

    if combined_queue is not null then
        select c.node_type into combined_type
          from pgq_node.node_info c
         where c.queue_name = get_worker_state.combined_queue;
        if not found then
            ret_code := 404;
            ret_note := 'Combinde queue node not found: ' || combined_queue;
            return;
        end if;
    end if;

    if node_type in ('root', 'branch') then
        select min(ci.last_tick) filter (where ci.consumer_name <> '.global_watermark'),
               min(ci.last_tick) filter (where ci.consumer_name = '.global_watermark')
          into local_watermark, global_watermark
          from pgq.get_consumer_info(i_queue_name) ci;
        select t.tick_id into local_queue_top
          from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
         where q.queue_name = i_queue_name
         order by t.tick_queue desc, t.tick_id desc
         limit 1;
        if local_watermark is null then
            local_watermark := local_queue_top;
        end if;
    else
        local_watermark := completed_tick;
    end if;
end;
$$;
