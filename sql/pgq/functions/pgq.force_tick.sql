-- pgq.force_tick(i_queue_name text) returns bigint
--
-- Makes the next ticker run tick this queue now, by moving its event sequence far enough that
-- queue_ticker_max_count is exceeded. Does not tick by itself. Returns the current last tick
-- id (the caller waits for a larger one), NULL for an unknown, paused or externally ticked
-- queue.
create or replace function pgq.force_tick(i_queue_name text)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    qid integer;
    res bigint;
begin
    select queue_id into qid
      from pgq.queue
     where queue_name = i_queue_name and not queue_external_ticker and not queue_ticker_paused;
    if found then
        perform setval(queue_event_seq::regclass,
                       nextval(queue_event_seq::regclass) + queue_ticker_max_count * 2 + 1000)
           from pgq.queue where queue_id = qid;
    end if;
    select t.tick_id into res
      from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
     where q.queue_name = i_queue_name
     order by t.tick_queue desc, t.tick_id desc
     limit 1;
    return res;
end;
$$;
