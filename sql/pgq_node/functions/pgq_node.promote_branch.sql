-- pgq_node.promote_branch(i_queue_name text, out ret_code int4, out ret_note text)
--
-- Makes a branch the root (switchover / failover): the queue accepts inserts and is ticked by
-- the ticker again, its tick sequence continues after the last copied tick, and the worker
-- now "reads" from this node, from that tick on (uptodate = false so it reloads).
-- Returns 200 'Branch node promoted to root'; 404 'Node not initialized for queue: <queue>';
-- 301 'Node not branch' for a root or leaf (nothing changes then).
-- Tables: pgq.queue (update), tick sequence (setval), pgq_node.node_info,
-- pgq_node.local_state (update).
create or replace function pgq_node.promote_branch(
    in i_queue_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    nname   text;
    ntype   text;
    wname   text;
    top     bigint;
begin
    select n.node_name, n.node_type, n.worker_name into nname, ntype, wname
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;
    if not found then
        ret_code := 404;
        ret_note := 'Node not initialized for queue: ' || i_queue_name;
        return;
    end if;
    if ntype <> 'branch' then
        ret_code := 301;
        ret_note := 'Node not branch';
        return;
    end if;

    update pgq.queue q
       set queue_disable_insert = false,
           queue_external_ticker = false
     where q.queue_name = i_queue_name;

    select t.tick_id into top
      from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
     where q.queue_name = i_queue_name
     order by t.tick_queue desc, t.tick_id desc
     limit 1;

    -- the next local tick must come after the last one copied from the old root
    perform pgq.seq_setval(q.queue_tick_seq, top)
       from pgq.queue q
      where q.queue_name = i_queue_name;

    update pgq_node.node_info n
       set node_type = 'root'
     where n.queue_name = i_queue_name;
    update pgq_node.local_state w
       set provider_node = nname,
           last_tick_id = top,
           uptodate = false
     where w.queue_name = i_queue_name
       and w.consumer_name = wname;

    ret_code := 200;
    ret_note := 'Branch node promoted to root';
end;
$$;
