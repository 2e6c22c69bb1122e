-- pgq.next_batch_custom(i_queue_name, i_consumer_name, i_min_lag interval, i_min_count int4,
--                       i_min_interval interval,
--                       out batch_id, out cur_tick_id, out prev_tick_id, out cur_tick_time,
--                       out prev_tick_time, out cur_tick_event_seq, out prev_tick_event_seq)
--
-- Opens the consumer's next batch: the events between its last finished tick and the next
-- tick. When a batch is open already (the consumer died before finish_batch), returns that
-- same batch again. Knobs (NULL = off): i_min_lag — only ticks at least this old;
-- i_min_count / i_min_interval — wait until the batch holds that many events / spans that long.
-- When no batch is available, all outputs are NULL.
-- Errors: 'Not subscriber to queue: <queue>/<consumer>'; a subscription whose last tick is gone
-- ('PgQ corruption').
-- Tables: reads pgq.queue, pgq.consumer, pgq.tick, pgq.subscription_key; replaces the
-- subscription's pgq.subscription_state row.
create or replace function pgq.next_batch_custom(
    in i_queue_name text, in i_consumer_name text,
    in i_min_lag interval, in i_min_count int4, in i_min_interval interval,
    out batch_id int8, out cur_tick_id int8, out prev_tick_id int8,
    out cur_tick_time timestamptz, out prev_tick_time timestamptz,
    out cur_tick_event_seq int8, out prev_tick_event_seq int8)
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    qid  integer;
    cid  integer;
    sid  integer;
    sseq bigint;
begin
  -- Repeats only when another transaction replaced this subscription's state between our read
  -- and our delete (two next_batch calls of one consumer at once): the next read sees its row.
  loop
    select k.sub_id, k.sub_queue, k.sub_consumer, st.state_seq, st.sub_batch,
           st.sub_last_tick, st.sub_next_tick
      into sid, qid, cid, sseq, batch_id, prev_tick_id, cur_tick_id
      from pgq.queue q
      join pgq.consumer c on c.co_name = i_consumer_name
      join pgq.subscription_key k on k.sub_queue = q.queue_id and k.sub_consumer = c.co_id
     cross join lateral (
           select x.state_seq, x.sub_batch, x.sub_last_tick, x.sub_next_tick
             from pgq.subscription_state x
            where x.sub_queue = k.sub_queue and x.sub_consumer = k.sub_consumer
            order by x.sub_queue desc, x.sub_consumer desc, x.state_seq desc
            limit 1) st
     where q.queue_name = i_queue_name;
    if not found then
        raise exception '%', 'Not subscriber to queue: ' || coalesce(i_queue_name, 'NULL')
            || '/' || coalesce(i_consumer_name, 'NULL') using errcode = 'PQ002';
    end if;
    -- The ticks by their whole key, each its own statement: joined to the state row above (the
    -- output of a LIMIT subquery), the planner found them by queue alone and filtered every
    -- tick of the queue — all since the last cleanup, 0.3 ms per 1,500 and growing.
    select t.tick_time, t.tick_event_seq into prev_tick_time, prev_tick_event_seq
      from pgq.tick t where t.tick_queue = qid and t.tick_id = prev_tick_id;
    if not found then
        prev_tick_id := null;
    end if;
    -- The closing tick matters only for an open batch (else the next tick is looked up below).
    if batch_id is not null and cur_tick_id is not null then
        select t.tick_time, t.tick_event_seq into cur_tick_time, cur_tick_event_seq
          from pgq.tick t where t.tick_queue = qid and t.tick_id = cur_tick_id;
        if not found then
            cur_tick_id := null;
        end if;
    end if;
    if prev_tick_id is null then
        raise exception 'PgQ corruption: Consumer % on queue % does not see tick %',
            i_consumer_name, i_queue_name, prev_tick_id using errcode = 'PQ009';
    end if;
    -- An open batch is handed out again: at-least-once after a consumer crash.
    if batch_id is not null then
        return;
    end if;

    if i_min_count is null and i_min_interval is null then
        select tick_id, tick_time, tick_event_seq
          into cur_tick_id, cur_tick_time, cur_tick_event_seq
          from pgq.tick
         where tick_queue = qid and tick_id > prev_tick_id
         order by tick_queue asc, tick_id asc
         limit 1;
    else
        select h.next_tick_id, h.next_tick_time, h.next_tick_seq
          into cur_tick_id, cur_tick_time, cur_tick_event_seq
          from pgq.find_tick_helper(qid, prev_tick_id, prev_tick_time, prev_tick_event_seq,
                                    i_min_count, i_min_interval) h;
    end if;
    if i_min_lag is not null and now() - cur_tick_time < i_min_lag then
        cur_tick_id := null;
    end if;
    if cur_tick_id is null then
        cur_tick_time := null;
        cur_tick_event_seq := null;
        prev_tick_id := null;
        prev_tick_time := null;
        prev_tick_event_seq := null;
        return;
    end if;

    -- The state row is replaced, never updated (tables.sql: pgq.subscription).
    delete from pgq.subscription_state
     where sub_queue = qid and sub_consumer = cid and state_seq = sseq;
    if found then
        batch_id := nextval('pgq.batch_id_seq');
        insert into pgq.subscription_state (sub_id, sub_queue, sub_consumer, sub_last_tick, sub_batch, sub_next_tick)
        values (sid, qid, cid, prev_tick_id, batch_id, cur_tick_id);
        return;
    end if;
  end loop;
end;
$$;

-- pgq.next_batch_info(i_queue_name text, i_consumer_name text,
--                     out batch_id, out cur_tick_id, out prev_tick_id, out cur_tick_time,
--                     out prev_tick_time, out cur_tick_event_seq, out prev_tick_event_seq)
--
-- pgq.next_batch_custom without knobs: the next batch with its tick details, or NULLs.
-- This wrapper and pgq.next_batch are PL/pgSQL, not SQL functions: an SQL function that is not
-- inlined (this one cannot be: it calls a volatile function) is parsed and planned again on
-- every call, which cost more than next_batch_custom's own statements (bench/README.md, "xmin").
create or replace function pgq.next_batch_info(
    in i_queue_name text, in i_consumer_name text,
    out batch_id int8, out cur_tick_id int8, out prev_tick_id int8,
    out cur_tick_time timestamptz, out prev_tick_time timestamptz,
    out cur_tick_event_seq int8, out prev_tick_event_seq int8)
language plpgsql
as $$
begin
    select f.batch_id, f.cur_tick_id, f.prev_tick_id, f.cur_tick_time, f.prev_tick_time,
           f.cur_tick_event_seq, f.prev_tick_event_seq
      into batch_id, cur_tick_id, prev_tick_id, cur_tick_time, prev_tick_time,
           cur_tick_event_seq, prev_tick_event_seq
      from pgq.next_batch_custom(i_queue_name, i_consumer_name, null, null, null) f;
end;
$$;

-- pgq.next_batch(i_queue_name text, i_consumer_name text) returns int8
--
-- Id of the consumer's next (or still open) batch, NULL when there is none yet.
create or replace function pgq.next_batch(in i_queue_name text, in i_consumer_name text)
returns int8
language plpgsql
as $$
begin
    return (pgq.next_batch_custom(i_queue_name, i_consumer_name, null, null, null)).batch_id;
end;
$$;
