-- pgq.find_tick_helper(i_queue_id, i_prev_tick_id, i_prev_tick_time, i_prev_tick_seq,
--                      i_min_count, i_min_interval,
--                      out next_tick_id, out next_tick_time, out next_tick_seq)
--
-- Internal to pgq.next_batch_custom: the first tick after i_prev_tick_id that closes a batch of
-- at least i_min_count events or spanning at least i_min_interval (either is enough). When
-- neither is reached yet, all outputs are NULL. Looks at the newest tick first, so the common
-- case (a small backlog) costs one index probe.
create or replace function pgq.find_tick_helper(
    in i_queue_id int4, in i_prev_tick_id int8, in i_prev_tick_time timestamptz,
    in i_prev_tick_seq int8, in i_min_count int8, in i_min_interval interval,
    out next_tick_id int8, out next_tick_time timestamptz, out next_tick_seq int8)
language plpgsql stable
as $$
declare
    t        record;
    enough   boolean := false;
    overshot boolean := false;
begin
    select tick_id, tick_time, tick_event_seq into t
      from pgq.tick
     where tick_queue = i_queue_id and tick_id > i_prev_tick_id
     order by tick_queue desc, tick_id desc
     limit 1;
    if not found then
        return;
    end if;
    if i_min_count is not null then
        enough := enough or (t.tick_event_seq - i_prev_tick_seq) >= i_min_count;
        overshot := overshot or (t.tick_event_seq - i_prev_tick_seq) > i_min_count * 2;
    end if;
    if i_min_interval is not null then
        enough := enough or (t.tick_time - i_prev_tick_time) >= i_min_interval;
        overshot := overshot or (t.tick_time - i_prev_tick_time) > i_min_interval * 2;
    end if;
    -- The newest tick is far past the goal: take the earliest tick that reaches it instead,
    -- so batches stay near the requested size.
    if overshot then
        select tick_id, tick_time, tick_event_seq into t
          from pgq.tick
         where tick_queue = i_queue_id and tick_id > i_prev_tick_id
           and ((i_min_count is not null and tick_event_seq - i_prev_tick_seq >= i_min_count)
                or (i_min_interval is not null and tick_time - i_prev_tick_time >= i_min_interval))
         order by tick_queue asc, tick_id asc
         limit 1;
        enough := true;
    end if;
    if enough then
        next_tick_id := t.tick_id;
        next_tick_time := t.tick_time;
        next_tick_seq := t.tick_event_seq;
    end if;
end;
$$;
