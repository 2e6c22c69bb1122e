-- pgq.insert_event(queue_name text, ev_type text, ev_data text) returns bigint
-- pgq.insert_event(queue_name text, ev_type text, ev_data text,
--                  ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text) returns bigint
--
-- Producer API: inserts one event into the queue in the caller's transaction; it becomes
-- visible to consumers in the first batch whose closing tick sees the transaction committed.
-- Returns the event id. Errors as pgq.insert_event_raw: NULL or unknown queue, insert disabled
-- (allowed with session_replication_role = replica), more than queue_per_tx_limit events in one
-- transaction.
--
-- Hot path, so written for speed: the queue lookup, the id and the insert are one static
-- statement (one plan, one executor run, cached per session). Queues that need checks
-- (unknown, insert disabled, per-transaction limit) match no row and go to
-- pgq.insert_event_raw, which raises or counts. No "set search_path" (it costs a GUC save and
-- restore per call): every table, function and operator below is schema-qualified (the
-- comparison as operator(pg_catalog.=)), so the security definer cannot be misled by objects a
-- caller puts on its search_path.
create or replace function pgq.insert_event(
    queue_name text, ev_type text, ev_data text,
    ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
returns bigint
language plpgsql
security definer
as $$
declare
    new_id bigint;
begin
    insert into pgq.event_all (ev_id, ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4,
                               ev_queue, ev_table)
    select pg_catalog.nextval(q.queue_event_seq::pg_catalog.regclass), pg_catalog.now(),
           insert_event.ev_type, insert_event.ev_data, insert_event.ev_extra1, insert_event.ev_extra2,
           insert_event.ev_extra3, insert_event.ev_extra4, q.queue_id, q.queue_cur_table
      from pgq.queue q
     where q.queue_name operator(pg_catalog.=) insert_event.queue_name
       and not q.queue_disable_insert
       and q.queue_per_tx_limit is null
    returning ev_id into new_id;
    if new_id is null then
        new_id := pgq.insert_event_raw(insert_event.queue_name, null, pg_catalog.now(), null, null,
                                       insert_event.ev_type, insert_event.ev_data, insert_event.ev_extra1,
                                       insert_event.ev_extra2, insert_event.ev_extra3, insert_event.ev_extra4);
    end if;
    return new_id;
end;
$$;

create or replace function pgq.insert_event(queue_name text, ev_type text, ev_data text)
returns bigint
language plpgsql
security definer
as $$
declare
    new_id bigint;
begin
    -- Same statement as the 7-argument form, repeated rather than called: a nested call costs
    -- more than the whole insert's routing.
    insert into pgq.event_all (ev_id, ev_time, ev_type, ev_data, ev_queue, ev_table)
    select pg_catalog.nextval(q.queue_event_seq::pg_catalog.regclass), pg_catalog.now(),
           insert_event.ev_type, insert_event.ev_data, q.queue_id, q.queue_cur_table
      from pgq.queue q
     where q.queue_name operator(pg_catalog.=) insert_event.queue_name
       and not q.queue_disable_insert
       and q.queue_per_tx_limit is null
    returning ev_id into new_id;
    if new_id is null then
        new_id := pgq.insert_event_raw(insert_event.queue_name, null, pg_catalog.now(), null, null,
                                       insert_event.ev_type, insert_event.ev_data, null, null, null, null);
    end if;
    return new_id;
end;
$$;
