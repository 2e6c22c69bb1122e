-- pgq.event_retry_raw(x_queue, x_consumer, x_retry_after timestamptz, x_ev_id, x_ev_time,
--                     x_ev_retry, x_ev_type, x_ev_data, x_ev_extra1..4) returns bigint
--
-- Low-level: puts an arbitrary event into a consumer's retry queue (used when events are
-- read outside the batch API, e.g. by cascades). NULL x_ev_id takes a new id from the queue's
-- event sequence. Returns the event id.
-- Errors: 'consumer not registered'.
create or replace function pgq.event_retry_raw(
    x_queue text, x_consumer text, x_retry_after timestamptz,
    x_ev_id bigint, x_ev_time timestamptz, x_ev_retry integer,
    x_ev_type text, x_ev_data text,
    x_ev_extra1 text, x_ev_extra2 text, x_ev_extra3 text, x_ev_extra4 text)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    sid  integer;
    qid  integer;
    seq  text;
    id   bigint;
begin
    select s.sub_id, s.sub_queue, q.queue_event_seq into sid, qid, seq
      from pgq.subscription s
      join pgq.queue q on q.queue_id = s.sub_queue
      join pgq.consumer c on c.co_id = s.sub_consumer
     where q.queue_name = x_queue and c.co_name = x_consumer;
    if not found then
        raise exception 'consumer not registered' using errcode = 'PQ002';
    end if;
    id := coalesce(x_ev_id, nextval(seq::regclass));
    insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_owner, ev_retry,
                                 ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
    values (x_retry_after, qid, id, x_ev_time, sid, x_ev_retry,
            x_ev_type, x_ev_data, x_ev_extra1, x_ev_extra2, x_ev_extra3, x_ev_extra4);
    return id;
end;
$$;
