-- pgq_node.demote_root(i_queue_name text, i_step int4, i_new_provider text,
--     out ret_code int4, out ret_note text, out last_tick int8)
--
-- Turns the root into a branch, in three steps called in order (each in its own transaction,
-- so writers can drain between them):
--   1  disable inserts into the queue and switch it to an external ticker
--      -> 200 'Step 1: Writing disabled for: <queue>'
--   2  lock the queue's event tables (waits for the last writers), write a final tick;
--      last_tick = its id -> 200 'Step 2: Inserted last tick: <queue>'
--   3  make the node a branch; the worker now reads from i_new_provider, starting at the
--      queue's last tick (last_tick), and must reload (uptodate = false)
--      -> 200 'Step 3: Demoted root to branch: <queue>'
-- Returns 404 'Node not initialized for queue: <queue>' without a local node, 301 'Node not
-- root' on other node types.
-- Errors: 'steps in wrong order' (PN002) for step 2 or 3 before step 1; 'incorrect step
-- number' (PN003).
-- Tables: pgq.queue (update), pgq.tick (insert via pgq.ticker), pgq_node.node_info,
-- pgq_node.local_state (update).
create or replace function pgq_node.demote_root(
    in i_queue_name text,
    in i_step int4,
    in i_new_provider text,
    out ret_code int4,
    out ret_note text,
    out last_tick int8)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    ntype     text;
    wname     text;
    ev_table  text;
    next_ev   int8;
begin
    select n.node_type, n.worker_name into ntype, wname
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;
    if not found then
        ret_code := 404;
        ret_note := 'Node not initialized for queue: ' || i_queue_name;
        return;
    end if;
    if ntype <> 'root' then
        ret_code := 301;
        ret_note := 'Node not root';
        return;
    end if;

    if i_step > 1 then
        select q.queue_data_pfx into ev_table
          from pgq.queue q
         where q.queue_name = i_queue_name
           and q.queue_disable_insert
           and q.queue_external_ticker;
        if not found then
            raise exception 'steps in wrong order' using errcode = 'PN002';
        end if;
    end if;

    if i_step = 1 then
        update pgq.queue q
           set queue_disable_insert = true,
               queue_external_ticker = true
         where q.queue_name = i_queue_name;
        if not found then
            ret_code := 404;
            ret_note := 'Huh, no queue?: ' || i_queue_name;
            return;
        end if;
        ret_code := 200;
        ret_note := 'Step 1: Writing disabled for: ' || i_queue_name;
    elsif i_step = 2 then
        -- The original also switches to session_replication_role = replica here; that needs
        -- superuser on plain PostgreSQL, so it is done only where allowed. Nothing below
        -- depends on it: the lock and the explicit tick are what matter.
        begin
            set local session_replication_role = 'replica';
        exception when insufficient_privilege then
            null;
        end;
        -- writers that got in before step 1 committed still hold the event table: wait for them
        execute 'lock table ' || ev_table || ' in exclusive mode';

        select nextval(q.queue_tick_seq::regclass), nextval(q.queue_event_seq::regclass)
          into last_tick, next_ev
          from pgq.queue q
         where q.queue_name = i_queue_name;
        perform pgq.ticker(i_queue_name, last_tick, now(), next_ev);

        ret_code := 200;
        ret_note := 'Step 2: Inserted last tick: ' || i_queue_name;
    elsif i_step = 3 then
        select t.tick_id into last_tick
          from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
         where q.queue_name = i_queue_name
         order by t.tick_queue desc, t.tick_id desc
         limit 1;
        update pgq_node.node_info n
           set node_type = 'branch'
         where n.queue_name = i_queue_name;
        update pgq_node.local_state w
           set provider_node = i_new_provider,
               last_tick_id = last_tick,
               uptodate = false
         where w.queue_name = i_queue_name
           and w.consumer_name = wname;
        ret_code := 200;
        ret_note := 'Step 3: Demoted root to branch: ' || i_queue_name;
    else
        raise exception 'incorrect step number' using errcode = 'PN003';
    end if;
end;
$$;
