-- pgq.get_consumer_info() / (i_queue_name) / (i_queue_name, i_consumer_name) returns setof record
--   (queue_name, consumer_name, lag, last_seen, last_tick, current_batch, next_tick, pending_events)
--
-- Subscriptions with their progress, ordered by queue and consumer; NULL arguments match all.
--   lag             age of the consumer's last finished tick
--   last_seen       time since the consumer last opened or finished a batch
--   pending_events  events between its last tick and the queue's newest tick
create or replace function pgq.get_consumer_info(
    in i_queue_name text, in i_consumer_name text,
    out queue_name text, out consumer_name text, out lag interval, out last_seen interval,
    out last_tick bigint, out current_batch bigint, out next_tick bigint, out pending_events bigint)
returns setof record
language sql stable
security definer
set search_path = pg_catalog, pgq
as $$
    select q.queue_name, c.co_name,
           current_timestamp - t.tick_time,
           current_timestamp - s.sub_active,
           s.sub_last_tick, s.sub_batch, s.sub_next_tick,
           top.tick_event_seq - t.tick_event_seq
      from pgq.subscription s
      join pgq.queue q on q.queue_id = s.sub_queue
      join pgq.consumer c on c.co_id = s.sub_consumer
      -- The last tick by its whole key, per subscription (limit 1 keeps the planner from
      -- flattening it): as a plain join it was a hash join over every tick of every queue, and
      -- a queue ticked per event keeps its ticks until its next rotation.
      left join lateral (
            select x.tick_time, x.tick_event_seq from pgq.tick x
             where x.tick_queue = s.sub_queue and x.tick_id = s.sub_last_tick
             limit 1) t on true
      left join lateral (
            select x.tick_event_seq from pgq.tick x
             where x.tick_queue = s.sub_queue
             order by x.tick_queue desc, x.tick_id desc limit 1) top on true
     where ($1 is null or q.queue_name = $1)
       and ($2 is null or c.co_name = $2)
     order by 1, 2;
$$;

create or replace function pgq.get_consumer_info(
    in i_queue_name text,
    out queue_name text, out consumer_name text, out lag interval, out last_seen interval,
    out last_tick bigint, out current_batch bigint, out next_tick bigint, out pending_events bigint)
returns setof record
language sql stable
security definer
set search_path = pg_catalog, pgq
as $$
    select * from pgq.get_consumer_info($1, null);
$$;

create or replace function pgq.get_consumer_info(
    out queue_name text, out consumer_name text, out lag interval, out last_seen interval,
    out last_tick bigint, out current_batch bigint, out next_tick bigint, out pending_events bigint)
returns setof record
language sql stable
security definer
set search_path = pg_catalog, pgq
as $$
    select * from pgq.get_consumer_info(null, null);
$$;
