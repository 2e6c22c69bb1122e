-- pgq.batch_event_tables(x_batch_id bigint) returns setof text
--
-- Event tables that can hold events of the batch: the current table, the previous one, or
-- both, decided from the batch's txid range and the last rotation's step1/step2 txids.
-- Errors: 'Cannot find data for batch <id>' for an unknown or finished batch.
create or replace function pgq.batch_event_tables(x_batch_id bigint)
returns setof text
language plpgsql
as $$
declare
    b        record;
    use_prev boolean;
    use_cur  boolean;
begin
    select txid_snapshot_xmin(last.tick_snapshot) as tx_min,
           txid_snapshot_xmax(cur.tick_snapshot) as tx_max,
           q.queue_data_pfx, q.queue_ntables, q.queue_cur_table,
           q.queue_switch_step1, q.queue_switch_step2
      into b
      -- offset 0: the batch is found alone, by its index; joined, the planner may walk the
      -- subscription's state rows by their primary key instead, dead versions included.
      from (select * from pgq._open_batch o where o.sub_batch = x_batch_id offset 0) s
      join pgq.queue q on q.queue_id = s.sub_queue
      join pgq.tick last on last.tick_queue = s.sub_queue and last.tick_id = s.sub_last_tick
      join pgq.tick cur on cur.tick_queue = s.sub_queue and cur.tick_id = s.sub_next_tick
     where s.sub_batch = x_batch_id;
    if not found then
        raise exception 'Cannot find data for batch %', x_batch_id using errcode = 'PQ003';
    end if;
    if b.tx_max < b.queue_switch_step1 then
        -- every transaction of the batch started before the switch: previous table only
        use_prev := true;  use_cur := false;
    elsif b.queue_switch_step2 is not null and b.tx_min > b.queue_switch_step2 then
        -- every transaction started after the switch completed: current table only
        use_prev := false; use_cur := true;
    else
        use_prev := true;  use_cur := true;
    end if;
    if use_prev then
        return next b.queue_data_pfx || '_'
            || ((b.queue_cur_table + b.queue_ntables - 1) % b.queue_ntables)::text;
    end if;
    if use_cur then
        return next b.queue_data_pfx || '_' || b.queue_cur_table::text;
    end if;
end;
$$;
