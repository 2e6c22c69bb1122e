-- pgq.maint_retry_events() returns integer
--
-- Moves up to 10 retry events whose time has come from pgq.retry_queue back into their
-- queue (same ev_id, ev_owner = the subscription that asked for the retry, ev_retry count
-- kept), in the current transaction. Returns how many were moved; the caller repeats until 0.
-- Tables: pgq.retry_queue (SHARE UPDATE EXCLUSIVE, so two runs do not move one event twice),
-- pgq.queue, event tables.
create or replace function pgq.maint_retry_events()
returns integer
language plpgsql
as $$
declare
    ev  record;
    cnt integer := 0;
begin
    lock table pgq.retry_queue in share update exclusive mode;
    for ev in
        select q.queue_name, r.ev_id, r.ev_time, r.ev_owner, r.ev_retry, r.ev_type, r.ev_data,
               r.ev_extra1, r.ev_extra2, r.ev_extra3, r.ev_extra4
          from pgq.retry_queue r join pgq.queue q on q.queue_id = r.ev_queue
         where r.ev_retry_after <= current_timestamp
         order by r.ev_retry_after
         limit 10
    loop
        perform pgq.insert_event_raw(ev.queue_name, ev.ev_id, ev.ev_time, ev.ev_owner, ev.ev_retry,
                                     ev.ev_type, ev.ev_data, ev.ev_extra1, ev.ev_extra2,
                                     ev.ev_extra3, ev.ev_extra4);
        delete from pgq.retry_queue where ev_owner = ev.ev_owner and ev_id = ev.ev_id;
        cnt := cnt + 1;
    end loop;
    return cnt;
end;
$$;
