-- pgq.insert_event(queue_name text, ev_type text, ev_data text) returns bigint
-- pgq.insert_event(queue_name text, ev_type text, ev_data text,
--                  ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text) returns bigint
--
-- Producer API: inserts one event into the queue in the caller's transaction; it becomes
-- visible to consumers in the first batch whose closing tick sees the transaction committed.
-- Returns the event id. Errors as pgq.insert_event_raw (unknown queue, insert disabled,
-- per-transaction limit).
create or replace function pgq.insert_event(
    queue_name text, ev_type text, ev_data text,
    ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
returns bigint
language sql
security definer
set search_path = pg_catalog, pgq
as $$
    select pgq.insert_event_raw($1, null, now(), null, null, $2, $3, $4, $5, $6, $7);
$$;

create or replace function pgq.insert_event(queue_name text, ev_type text, ev_data text)
returns bigint
language sql
security definer
set search_path = pg_catalog, pgq
as $$
    select pgq.insert_event_raw($1, null, now(), null, null, $2, $3, null, null, null, null);
$$;
