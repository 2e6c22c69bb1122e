-- pgq.get_batch_info(x_batch_id bigint,
--     out queue_name, out consumer_name, out batch_start, out batch_end, out prev_tick_id,
--     out tick_id, out lag, out seq_start, out seq_end)
--
-- Details of an open batch: its ticks, their times and event sequence positions (so
-- seq_end - seq_start bounds the number of events), and lag = age of the closing tick.
-- All NULL for an unknown or finished batch.
create or replace function pgq.get_batch_info(
    in x_batch_id bigint,
    out queue_name text, out consumer_name text, out batch_start timestamptz,
    out batch_end timestamptz, out prev_tick_id bigint, out tick_id bigint,
    out lag interval, out seq_start bigint, out seq_end bigint)
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
begin
    select q.queue_name, c.co_name, prev.tick_time, cur.tick_time,
           s.sub_last_tick, s.sub_next_tick, current_timestamp - cur.tick_time,
           prev.tick_event_seq, cur.tick_event_seq
      into queue_name, consumer_name, batch_start, batch_end,
           prev_tick_id, tick_id, lag, seq_start, seq_end
      -- offset 0: the batch is found alone, by its index; joined, the planner may walk the
      -- subscription's state rows by their primary key instead, dead versions included.
      from (select * from pgq._open_batch o where o.sub_batch = x_batch_id offset 0) s
      join pgq.tick cur on cur.tick_queue = s.sub_queue and cur.tick_id = s.sub_next_tick
      join pgq.tick prev on prev.tick_queue = s.sub_queue and prev.tick_id = s.sub_last_tick
      join pgq.queue q on q.queue_id = s.sub_queue
      join pgq.consumer c on c.co_id = s.sub_consumer
     where s.sub_batch = x_batch_id;
end;
$$;
