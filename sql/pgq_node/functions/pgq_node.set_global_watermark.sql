-- pgq_node.set_global_watermark(i_queue_name text, i_watermark bigint,
--     out ret_code int4, out ret_note text)
--
-- Moves the global watermark: the lowest tick every node of the cascade has processed, below
-- which events may be dropped everywhere.
--   root    moves '.global_watermark' to i_watermark (NULL: the local watermark from
--           pgq_node.get_node_info), sends it down as a 'pgq.global-watermark' event and
--           moves the root worker's position there too
--   branch  moves '.global_watermark' when that tick exists locally; otherwise returns
--           200 'Skipping global watermark update to <tick>' (old batches); NULL gives
--           500 'bad usage: wm=null on branch node'
--   leaf    100 'Ignoring global watermark in leaf'
-- Returns 200 'Global watermark set to <tick>'; 404 'Queue<queue> not found' (sic) without a
-- local node.
-- Errors: 'local_watermark=NULL from get_node_info()?' (PN004) on a root without ticks.
-- Tables: pgq.subscription, an event on the root, pgq_node.local_state (update).
create or replace function pgq_node.set_global_watermark(
    in i_queue_name text,
    in i_watermark bigint,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    wm_consumer constant text := '.global_watermark';
    ntype   text;
    wname   text;
    wm      bigint := i_watermark;
begin
    select n.node_type, n.worker_name into ntype, wname
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;
    if not found then
        ret_code := 404;
        ret_note := 'Queue' || i_queue_name || ' not found';
        return;
    end if;

    if ntype = 'root' then
        if wm is null then
            select i.ret_code, i.ret_note, i.local_watermark into ret_code, ret_note, wm
              from pgq_node.get_node_info(i_queue_name) i;
            if ret_code >= 300 then
                return;
            end if;
            if wm is null then
                raise exception 'local_watermark=NULL from get_node_info()?' using errcode = 'PN004';
            end if;
        end if;
        perform pgq.register_consumer_at(i_queue_name, wm_consumer, wm);
        perform pgq.insert_event(i_queue_name, 'pgq.global-watermark', wm::text,
                                 i_queue_name, null, null, null);
        -- keep the root worker's position from going stale
        update pgq_node.local_state w
           set last_tick_id = wm
         where w.queue_name = i_queue_name
           and w.consumer_name = wname;
    elsif ntype = 'branch' then
        if wm is null then
            ret_code := 500;
            ret_note := 'bad usage: wm=null on branch node';
            return;
        end if;
        -- the tick may be gone when old batches carry an old watermark
        if not exists (select 1 from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
                        where q.queue_name = i_queue_name and t.tick_id = wm) then
            ret_code := 200;
            ret_note := 'Skipping global watermark update to ' || wm::text;
            return;
        end if;
        perform pgq.register_consumer_at(i_queue_name, wm_consumer, wm);
    else
        ret_code := 100;
        ret_note := 'Ignoring global watermark in leaf';
        return;
    end if;

    ret_code := 200;
    ret_note := 'Global watermark set to ' || wm::text;
end;
$$;
