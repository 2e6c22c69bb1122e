-- pgq._tick_now(i_queue_id integer, i_last_tick_id bigint) returns bigint
--
-- Internal (pgq.ticker_poll): records a tick for the queue now, unless another ticker did since
-- i_last_tick_id (the last tick the caller decided on) or the queue became paused or externally
-- ticked. The tick's event sequence position is read after the queue row is locked, as
-- pgq.ticker(queue) records it.
-- Returns the new tick id, or NULL when nothing was recorded.
-- Locks: the queue's pgq.queue row (FOR NO KEY UPDATE) until commit, as pgq.ticker(queue).
-- Tables: pgq.queue, pgq.tick (insert), the queue's tick and event sequences.
create or replace function pgq._tick_now(i_queue_id integer, i_last_tick_id bigint)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    q      record;
    new_id bigint;
begin
    select queue_tick_seq, queue_event_seq into q
      from pgq.queue
     where queue_id = i_queue_id and not queue_external_ticker and not queue_ticker_paused
       for no key update;
    if not found
       or i_last_tick_id is distinct from (select max(t.tick_id) from pgq.tick t where t.tick_queue = i_queue_id)
    then
        return null;
    end if;
    new_id := nextval(q.queue_tick_seq::regclass);
    insert into pgq.tick (tick_queue, tick_id, tick_event_seq)
    values (i_queue_id, new_id, pgq.seq_getval(q.queue_event_seq));
    return new_id;
end;
$$;
