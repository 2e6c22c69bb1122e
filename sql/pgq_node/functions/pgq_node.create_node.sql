-- pgq_node.create_node(i_queue_name text, i_node_type text, i_node_name text,
--     i_worker_name text, i_provider_name text, i_global_watermark bigint, i_combined_queue text,
--     out ret_code int4, out ret_note text)
--
-- Makes this database a node of a cascaded queue. The node's own location must be registered
-- first (pgq_node.register_location).
--   root    creates the queue and its '.global_watermark' consumer; provider, watermark and
--           combined queue must be NULL; the worker reads from the node itself.
--   branch  creates the queue with an external ticker and inserts disabled (the worker copies
--           events and ticks from the provider), starts it at the global watermark tick;
--           provider and global watermark are required.
--   leaf    no local copy of the queue; with i_combined_queue (merge-leaf) that local queue
--           must exist.
-- The worker is registered as a cascaded consumer (pgq_node.register_consumer) at the global
-- watermark.
-- Returns 200 'Node "<node>" initialized for queue "<queue>" with type "<type>"';
-- 401 when the node exists already, args do not fit the type, or the combined queue is
-- missing (nothing changes then).
-- Errors: an unknown type, a NULL worker, an unregistered node or provider location or a
-- missing watermark on a leaf violate the constraints of pgq_node.node_info / local_state.
-- Tables: pgq_node.node_info, pgq_node.local_state (insert); pgq.queue, pgq.tick,
-- pgq.subscription via pgq's functions.
create or replace function pgq_node.create_node(
    in i_queue_name text,
    in i_node_type text,
    in i_node_name text,
    in i_worker_name text,
    in i_provider_name text,
    in i_global_watermark bigint,
    in i_combined_queue text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    wm_consumer constant text := '.global_watermark';
    start_wm    bigint;
    worker_prov text;
begin
    if exists (select 1 from pgq_node.node_info n where n.queue_name = i_queue_name) then
        ret_code := 401;
        ret_note := 'Node already initialized';
        return;
    end if;

    if i_node_type = 'root' then
        if i_provider_name is not null or i_global_watermark is not null or i_combined_queue is not null then
            ret_code := 401;
            ret_note := 'unexpected args for ' || i_node_type;
            return;
        end if;
        perform pgq.create_queue(i_queue_name);
        perform pgq.register_consumer(i_queue_name, wm_consumer);
        select c.last_tick into start_wm from pgq.get_consumer_info(i_queue_name, wm_consumer) c;
        worker_prov := i_node_name;
    elsif i_node_type = 'branch' then
        if i_provider_name is null then
            ret_code := 401;
            ret_note := 'provider not set for ' || i_node_type;
            return;
        end if;
        if i_global_watermark is null then
            ret_code := 401;
            ret_note := 'global watermark not set for ' || i_node_type;
            return;
        end if;
        perform pgq.create_queue(i_queue_name);
        update pgq.queue q
           set queue_external_ticker = true,
               queue_disable_insert = true
         where q.queue_name = i_queue_name;
        -- the branch's queue starts at the provider's tick, so batches line up by tick id
        if i_global_watermark > 1 then
            perform pgq.ticker(i_queue_name, i_global_watermark, now(), 1);
        end if;
        perform pgq.register_consumer_at(i_queue_name, wm_consumer, i_global_watermark);
        start_wm := i_global_watermark;
        worker_prov := i_provider_name;
    elsif i_node_type = 'leaf' then
        if i_combined_queue is not null
           and not exists (select 1 from pgq.get_queue_info(i_combined_queue)) then
            ret_code := 401;
            ret_note := 'non-existing queue on leaf side: ' || i_combined_queue;
            return;
        end if;
        start_wm := i_global_watermark;
        worker_prov := i_provider_name;
    else
        -- not a node type: the insert below fails on node_info's type check, as the original
        worker_prov := i_provider_name;
        start_wm := i_global_watermark;
    end if;

    insert into pgq_node.node_info (queue_name, node_type, node_name, worker_name, combined_queue)
    values (i_queue_name, i_node_type, i_node_name, i_worker_name, i_combined_queue);

    select r.ret_code, r.ret_note into ret_code, ret_note
      from pgq_node.register_consumer(i_queue_name, i_worker_name, worker_prov, start_wm) r;
    if ret_code <> 200 then
        return;
    end if;

    ret_code := 200;
    ret_note := 'Node "' || i_node_name || '" initialized for queue "' || i_queue_name
             || '" with type "' || i_node_type || '"';
end;
$$;
