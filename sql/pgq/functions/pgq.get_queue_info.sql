-- pgq.get_queue_info() / pgq.get_queue_info(i_queue_name text) returns setof record
--   (queue_name, queue_ntables, queue_cur_table, queue_rotation_period, queue_switch_time,
--    queue_external_ticker, queue_ticker_paused, queue_ticker_max_count, queue_ticker_max_lag,
--    queue_ticker_idle_period, ticker_lag, ev_per_sec, ev_new, last_tick_id)
--
-- Queue settings and health, all queues or one (NULL = all), ordered by name.
--   ticker_lag   time since the last tick
--   ev_per_sec   events per second over the last 20 ticks (NULL when unknown)
--   ev_new       events inserted since the last tick (from the event sequence)
create or replace function pgq.get_queue_info(
    in i_queue_name text,
    out queue_name text, out queue_ntables integer, out queue_cur_table integer,
    out queue_rotation_period interval, out queue_switch_time timestamptz,
    out queue_external_ticker boolean, out queue_ticker_paused boolean,
    out queue_ticker_max_count integer, out queue_ticker_max_lag interval,
    out queue_ticker_idle_period interval, out ticker_lag interval,
    out ev_per_sec float8, out ev_new bigint, out last_tick_id bigint)
returns setof record
language sql stable
as $$
    select q.queue_name, q.queue_ntables, q.queue_cur_table, q.queue_rotation_period,
           q.queue_switch_time, q.queue_external_ticker, q.queue_ticker_paused,
           q.queue_ticker_max_count, q.queue_ticker_max_lag, q.queue_ticker_idle_period,
           current_timestamp - top.tick_time,
           case when old.tick_time < top.tick_time
                then (top.tick_event_seq - old.tick_event_seq)
                     / extract(epoch from top.tick_time - old.tick_time)::float8
           end,
           pgq.seq_getval(q.queue_event_seq) - top.tick_event_seq,
           top.tick_id
      from pgq.queue q
      left join lateral (
            select t.tick_id, t.tick_time, t.tick_event_seq from pgq.tick t
             where t.tick_queue = q.queue_id
             order by t.tick_queue desc, t.tick_id desc limit 1) top on true
      left join lateral (
            select t.tick_time, t.tick_event_seq from pgq.tick t
             where t.tick_queue = q.queue_id and t.tick_id >= top.tick_id - 20
             order by t.tick_queue asc, t.tick_id asc limit 1) old on true
     where $1 is null or q.queue_name = $1
     order by q.queue_name;
$$;

create or replace function pgq.get_queue_info(
    out queue_name text, out queue_ntables integer, out queue_cur_table integer,
    out queue_rotation_period interval, out queue_switch_time timestamptz,
    out queue_external_ticker boolean, out queue_ticker_paused boolean,
    out queue_ticker_max_count integer, out queue_ticker_max_lag interval,
    out queue_ticker_idle_period interval, out ticker_lag interval,
    out ev_per_sec float8, out ev_new bigint, out last_tick_id bigint)
returns setof record
language sql stable
as $$
    select * from pgq.get_queue_info(null::text);
$$;
