-- pgq.event_retry(x_batch_id bigint, x_event_id bigint, x_retry_time timestamptz) returns integer
-- pgq.event_retry(x_batch_id bigint, x_event_id bigint, x_retry_seconds integer) returns integer
--
-- Puts one event of an open batch into the retry queue of the batch's subscription, to come
-- back (to this consumer only) at x_retry_time / after x_retry_seconds, with ev_retry + 1.
-- Takes effect with the caller's transaction (normally the one that finishes the batch).
-- Returns 1, or 0 when the event is already queued for retry.
-- Errors: 'batch not found'; 'event not found' when the event is not in the batch.
create or replace function pgq.event_retry(x_batch_id bigint, x_event_id bigint, x_retry_time timestamptz)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
begin
    perform 1 from pgq._open_batch where sub_batch = x_batch_id;
    if not found then
        raise exception 'batch not found' using errcode = 'PQ003';
    end if;
    insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_txid, ev_owner, ev_retry,
                                 ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
    select x_retry_time, s.sub_queue, e.ev_id, e.ev_time, null, s.sub_id, coalesce(e.ev_retry, 0) + 1,
           e.ev_type, e.ev_data, e.ev_extra1, e.ev_extra2, e.ev_extra3, e.ev_extra4
      from pgq.get_batch_events(x_batch_id) e, pgq._open_batch s
     where s.sub_batch = x_batch_id and e.ev_id = x_event_id;
    if not found then
        raise exception 'event not found' using errcode = 'PQ003';
    end if;
    return 1;
exception when unique_violation then
    return 0;
end;
$$;

create or replace function pgq.event_retry(x_batch_id bigint, x_event_id bigint, x_retry_seconds integer)
returns integer
language sql
security definer
set search_path = pg_catalog, pgq
as $$
    select pgq.event_retry($1, $2, current_timestamp + make_interval(secs => $3));
$$;
