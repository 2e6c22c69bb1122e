-- pgq_coop.next_batch_custom(i_queue_name text, i_consumer_name text, i_subconsumer_name text,
--     i_min_lag interval, i_min_count int4, i_min_interval interval, i_dead_interval interval,
--     out batch_id int8, out cur_tick_id int8, out prev_tick_id int8,
--     out cur_tick_time timestamptz, out prev_tick_time timestamptz,
--     out cur_tick_event_seq int8, out prev_tick_event_seq int8)
--
-- Gives a subconsumer a batch of its cooperative consumer: each batch of the main consumer
-- goes to exactly one subconsumer, so the group processes the queue in parallel.
--   1. Unknown subconsumer or main consumer: registered (pgq_coop.register_subconsumer).
--   2. The subconsumer's own open batch is returned again (it crashed before finishing).
--   3. With i_dead_interval: another subconsumer of the group idle longer than that is
--      dropped, and its open batch, if any, is taken over and returned.
--   4. Otherwise the main consumer's next batch (pgq.next_batch_custom with min lag / count /
--      interval as there) moves to the subconsumer and the main consumer's position advances
--      past it at once, so the next caller gets the batch after it.
-- Returns the batch with its tick details, or all NULL when there is no batch yet.
-- Errors: unknown queue / NULL names (from pgq); 'main consumer has batch open?' (PC002) when
-- the main consumer itself holds a batch (it was used with pgq.next_batch directly);
-- 'subconsumer not found' (PC003) if the registration vanished meanwhile.
-- Tables: pgq.subscription (update / delete of a dead subconsumer); reads pgq.tick.
create or replace function pgq_coop.next_batch_custom(
    in i_queue_name text,
    in i_consumer_name text,
    in i_subconsumer_name text,
    in i_min_lag interval,
    in i_min_count int4,
    in i_min_interval interval,
    in i_dead_interval interval,
    out batch_id int8,
    out cur_tick_id int8,
    out prev_tick_id int8,
    out cur_tick_time timestamptz,
    out prev_tick_time timestamptz,
    out cur_tick_event_seq int8,
    out prev_tick_event_seq int8)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_coop, pgq
as $$
declare
    subname     text := i_consumer_name || '.' || i_subconsumer_name;
    qid         integer;
    main_id     integer;
    main_next   bigint;
    sub_cid     integer;
    group_id    integer;
    open_batch  bigint;
    dead        record;
    nb          record;
begin
    -- The main consumer's row is the group's lock: subconsumers take batches one at a time.
    select s.sub_queue, s.sub_consumer, s.sub_next_tick into qid, main_id, main_next
      from pgq.subscription s
      join pgq.queue q on q.queue_id = s.sub_queue
      join pgq.consumer c on c.co_id = s.sub_consumer
     where q.queue_name = i_queue_name
       and c.co_name = i_consumer_name
       for update of s;
    if not found then
        perform pgq_coop.register_subconsumer(i_queue_name, i_consumer_name, i_subconsumer_name);
        select s.sub_queue, s.sub_consumer, s.sub_next_tick into qid, main_id, main_next
          from pgq.subscription s
          join pgq.queue q on q.queue_id = s.sub_queue
          join pgq.consumer c on c.co_id = s.sub_consumer
         where q.queue_name = i_queue_name
           and c.co_name = i_consumer_name
           for update of s;
    end if;
    if main_next is not null then
        raise exception 'main consumer has batch open?' using errcode = 'PC002';
    end if;

    select s.sub_consumer, s.sub_id, s.sub_batch into sub_cid, group_id, open_batch
      from pgq.subscription s
      join pgq.consumer c on c.co_id = s.sub_consumer
     where s.sub_queue = qid
       and c.co_name = subname;
    if not found then
        perform pgq_coop.register_subconsumer(i_queue_name, i_consumer_name, i_subconsumer_name);
        select s.sub_consumer, s.sub_id, s.sub_batch into sub_cid, group_id, open_batch
          from pgq.subscription s
          join pgq.consumer c on c.co_id = s.sub_consumer
         where s.sub_queue = qid
           and c.co_name = subname;
        if not found then
            raise exception 'subconsumer not found' using errcode = 'PC003';
        end if;
    end if;

    if open_batch is null and i_dead_interval is not null then
        -- a group member that has been silent too long is dropped; its batch is ours now
        select s.sub_consumer, s.sub_batch, s.sub_last_tick, s.sub_next_tick into dead
          from pgq.subscription s
         where s.sub_queue = qid
           and s.sub_id = group_id
           and s.sub_consumer <> sub_cid
           and s.sub_consumer <> main_id
           and s.sub_active < now() - i_dead_interval
         order by s.sub_batch is null, s.sub_active
         limit 1
           for update of s;
        if found then
            delete from pgq.subscription s where s.sub_queue = qid and s.sub_consumer = dead.sub_consumer;
            if dead.sub_batch is not null then
                update pgq.subscription s
                   set sub_batch = dead.sub_batch,
                       sub_last_tick = dead.sub_last_tick,
                       sub_next_tick = dead.sub_next_tick
                 where s.sub_queue = qid and s.sub_consumer = sub_cid;
                open_batch := dead.sub_batch;
            end if;
        end if;
    end if;

    if open_batch is null then
        select * into nb
          from pgq.next_batch_custom(i_queue_name, i_consumer_name, i_min_lag, i_min_count, i_min_interval);
        if nb.batch_id is null then
            update pgq.subscription s set sub_active = now()
             where s.sub_queue = qid and s.sub_consumer = sub_cid;
            return;
        end if;
        -- the main consumer is done with this range as far as the group is concerned
        update pgq.subscription s
           set sub_batch = null,
               sub_last_tick = s.sub_next_tick,
               sub_next_tick = null,
               sub_active = now()
         where s.sub_queue = qid and s.sub_consumer = main_id;
        update pgq.subscription s
           set sub_batch = nb.batch_id,
               sub_last_tick = nb.prev_tick_id,
               sub_next_tick = nb.cur_tick_id
         where s.sub_queue = qid and s.sub_consumer = sub_cid;
    end if;

    update pgq.subscription s set sub_active = now()
     where s.sub_queue = qid and s.sub_consumer = sub_cid;

    select s.sub_batch, t2.tick_id, t1.tick_id, t2.tick_time, t1.tick_time,
           t2.tick_event_seq, t1.tick_event_seq
      into batch_id, cur_tick_id, prev_tick_id, cur_tick_time, prev_tick_time,
           cur_tick_event_seq, prev_tick_event_seq
      from pgq.subscription s
      left join pgq.tick t1 on t1.tick_queue = s.sub_queue and t1.tick_id = s.sub_last_tick
      left join pgq.tick t2 on t2.tick_queue = s.sub_queue and t2.tick_id = s.sub_next_tick
     where s.sub_queue = qid and s.sub_consumer = sub_cid;
end;
$$;

-- pgq_coop.next_batch_custom(i_queue_name text, i_consumer_name text, i_subconsumer_name text,
--     i_min_lag interval, i_min_count int4, i_min_interval interval, out batch_id int8, ...)
--
-- The 7-argument form without taking over dead subconsumers' batches.
create or replace function pgq_coop.next_batch_custom(
    in i_queue_name text,
    in i_consumer_name text,
    in i_subconsumer_name text,
    in i_min_lag interval,
    in i_min_count int4,
    in i_min_interval interval,
    out batch_id int8,
    out cur_tick_id int8,
    out prev_tick_id int8,
    out cur_tick_time timestamptz,
    out prev_tick_time timestamptz,
    out cur_tick_event_seq int8,
    out prev_tick_event_seq int8)
returns record
language sql
as $$
    select * from pgq_coop.next_batch_custom($1, $2, $3, $4, $5, $6, null);
$$;

-- pgq_coop.next_batch_info(i_queue_name text, i_consumer_name text, i_subconsumer_name text
--     [, i_dead_interval interval], out batch_id int8, out cur_tick_id int8,
--     out prev_tick_id int8, out cur_tick_time timestamptz, out prev_tick_time timestamptz,
--     out cur_tick_event_seq int8, out prev_tick_event_seq int8)
--
-- pgq_coop.next_batch_custom without size knobs: the subconsumer's next batch with its tick
-- details, or all NULL. With i_dead_interval a silent subconsumer's batch is taken over.
create or replace function pgq_coop.next_batch_info(
    in i_queue_name text,
    in i_consumer_name text,
    in i_subconsumer_name text,
    out batch_id int8,
    out cur_tick_id int8,
    out prev_tick_id int8,
    out cur_tick_time timestamptz,
    out prev_tick_time timestamptz,
    out cur_tick_event_seq int8,
    out prev_tick_event_seq int8)
returns record
language sql
as $$
    select * from pgq_coop.next_batch_custom($1, $2, $3, null, null, null, null);
$$;

create or replace function pgq_coop.next_batch_info(
    in i_queue_name text,
    in i_consumer_name text,
    in i_subconsumer_name text,
    in i_dead_interval interval,
    out batch_id int8,
    out cur_tick_id int8,
    out prev_tick_id int8,
    out cur_tick_time timestamptz,
    out prev_tick_time timestamptz,
    out cur_tick_event_seq int8,
    out prev_tick_event_seq int8)
returns record
language sql
as $$
    select * from pgq_coop.next_batch_custom($1, $2, $3, null, null, null, $4);
$$;

-- pgq_coop.next_batch(i_queue_name text, i_consumer_name text, i_subconsumer_name text
--     [, i_dead_interval interval]) returns int8
--
-- The id of the subconsumer's next batch (NULL: none yet, try after the next tick). With
-- i_dead_interval a silent subconsumer's batch is taken over. See next_batch_custom.
create or replace function pgq_coop.next_batch(
    i_queue_name text,
    i_consumer_name text,
    i_subconsumer_name text)
returns int8
language sql
as $$
    select b.batch_id from pgq_coop.next_batch_custom($1, $2, $3, null, null, null, null) b;
$$;

create or replace function pgq_coop.next_batch(
    i_queue_name text,
    i_consumer_name text,
    i_subconsumer_name text,
    i_dead_interval interval)
returns int8
language sql
as $$
    select b.batch_id from pgq_coop.next_batch_custom($1, $2, $3, null, null, null, $4) b;
$$;
