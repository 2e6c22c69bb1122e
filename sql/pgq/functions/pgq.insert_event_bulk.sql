-- pgq.insert_event_bulk(queue_name text, ev_type text[], ev_data text[],
--                       ev_extra1 text[], ev_extra2 text[], ev_extra3 text[], ev_extra4 text[])
--     returns bigint
-- pgq.insert_event_bulk(queue_name text, ev_type text, ev_data text[]) returns bigint
--
-- Not in the C extension: inserts many events with one statement, in the caller's
-- transaction, in array order (ids ascending). ev_data sets the number of events; the other
-- arrays are matched by position and may be NULL or shorter (missing values are NULL). The
-- second form gives every event the same type. Returns the number of events inserted.
-- Errors: as pgq.insert_event (unknown queue, insert disabled, per-transaction limit); arrays
-- longer than ev_data ('ev_type has more elements than ev_data').
create or replace function pgq.insert_event_bulk(
    queue_name text, ev_type text[], ev_data text[],
    ev_extra1 text[], ev_extra2 text[], ev_extra3 text[], ev_extra4 text[])
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    q_id       int4;
    q_table    int4;
    q_seq      regclass;
    q_disabled boolean;
    q_limit    int4;
    n          int4 := coalesce(cardinality(ev_data), 0);
    n_in_tx    int4;
    inserted   bigint;
begin
    select q.queue_id, q.queue_cur_table, q.queue_event_seq::regclass, q.queue_disable_insert, q.queue_per_tx_limit
      into q_id, q_table, q_seq, q_disabled, q_limit
      from pgq.queue q where q.queue_name = insert_event_bulk.queue_name;
    if not found then
        if insert_event_bulk.queue_name is null then
            raise exception 'Queue name must not be NULL' using errcode = 'PQ006';
        end if;
        raise exception 'No such queue' using errcode = 'PQ001',
            detail = format('queue %L does not exist', insert_event_bulk.queue_name);
    end if;
    if q_disabled and current_setting('session_replication_role') <> 'replica' then
        raise exception 'Insert into queue disallowed' using errcode = 'PQ004';
    end if;
    if cardinality(ev_type) > n then
        raise exception 'ev_type has more elements than ev_data' using errcode = 'PQ006';
    end if;
    if greatest(cardinality(ev_extra1), cardinality(ev_extra2), cardinality(ev_extra3), cardinality(ev_extra4)) > n then
        raise exception 'an ev_extra array has more elements than ev_data' using errcode = 'PQ006';
    end if;
    if n = 0 then
        return 0;
    end if;
    if q_limit is not null then
        n_in_tx := coalesce(nullif(current_setting('pgq.tx_events_' || q_id, true), ''), '0')::int4;
        if n_in_tx + n > q_limit then
            raise exception 'Queue ''%'' allows max % events from one TX', insert_event_bulk.queue_name, q_limit
                using errcode = 'PQ005';
        end if;
        perform set_config('pgq.tx_events_' || q_id, (n_in_tx + n)::text, true);
    end if;
    -- unnest() of several arrays pads the shorter ones with NULLs; indexing arrays by position
    -- inside the statement would detoast them per row (quadratic).
    insert into pgq.event_all (ev_id, ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4,
                               ev_queue, ev_table)
    select nextval(q_seq), now(), u.t, u.d, u.x1, u.x2, u.x3, u.x4, q_id, q_table
      from unnest(ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
           with ordinality as u(t, d, x1, x2, x3, x4, ord)
     order by u.ord;
    get diagnostics inserted = row_count;
    return inserted;
end;
$$;

create or replace function pgq.insert_event_bulk(queue_name text, ev_type text, ev_data text[])
returns bigint
language sql
security definer
set search_path = pg_catalog, pgq
as $$
    select pgq.insert_event_bulk($1, array_fill($2, array[cardinality($3)]), $3, null, null, null, null);
$$;
