-- pgq.batch_retry(i_batch_id bigint, i_retry_seconds integer) returns integer
--
-- Puts every event of an open batch into the subscription's retry queue (skipping those
-- already there), to come back after i_retry_seconds. Returns how many were queued.
-- Errors: 'batch_retry: batch <id> not found'.
create or replace function pgq.batch_retry(i_batch_id bigint, i_retry_seconds integer)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    s   record;
    cnt integer;
begin
    select sub_id, sub_queue into s from pgq._open_batch where sub_batch = i_batch_id;
    if not found then
        raise exception 'batch_retry: batch % not found', i_batch_id using errcode = 'PQ003';
    end if;
    insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_txid, ev_owner, ev_retry,
                                 ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
    select distinct current_timestamp + make_interval(secs => i_retry_seconds), s.sub_queue,
           b.ev_id, b.ev_time, null::int8, s.sub_id, coalesce(b.ev_retry, 0) + 1,
           b.ev_type, b.ev_data, b.ev_extra1, b.ev_extra2, b.ev_extra3, b.ev_extra4
      from pgq.get_batch_events(i_batch_id) b
     where not exists (select 1 from pgq.retry_queue rq
                        where rq.ev_owner = s.sub_id and rq.ev_id = b.ev_id);
    get diagnostics cnt = row_count;
    return cnt;
end;
$$;
