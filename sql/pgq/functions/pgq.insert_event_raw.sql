-- pgq.insert_event_raw(queue_name, ev_id, ev_time, ev_owner, ev_retry, ev_type, ev_data,
--                      ev_extra1, ev_extra2, ev_extra3, ev_extra4) returns bigint
--
-- Low-level insert of one event into the current event table of a queue; the C extension does
-- this in C, here it is one static INSERT (plan cached) into pgq.event_all, routed by partition.
--   ev_id     NULL: next value of the queue's event sequence (retried events keep theirs)
--   ev_time   NULL: now()
--   ev_owner  NULL for normal events; the subscription id for a retried event
-- Returns the event id. ev_txid is the inserting transaction.
-- Errors: NULL queue name; unknown queue; queue_disable_insert set (allowed only with
-- session_replication_role = replica); more than queue_per_tx_limit events in one transaction.
-- Tables: reads pgq.queue, inserts into pgq.event_<queue_id>_<cur_table>.
create or replace function pgq.insert_event_raw(
    queue_name text, ev_id bigint, ev_time timestamptz,
    ev_owner integer, ev_retry integer, ev_type text, ev_data text,
    ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
returns bigint
language plpgsql
-- Also reached from the security-definer pgq.insert_event (its slow path), so it must not
-- resolve names through the caller's search_path.
set search_path = pg_catalog, pgq
as $$
declare
    q_id       int4;
    q_table    int4;
    q_seq      text;
    q_disabled boolean;
    q_limit    int4;
    n_in_tx    int4;
    new_id     bigint;
begin
    select q.queue_id, q.queue_cur_table, q.queue_event_seq, q.queue_disable_insert, q.queue_per_tx_limit
      into q_id, q_table, q_seq, q_disabled, q_limit
      from pgq.queue q
     where q.queue_name = insert_event_raw.queue_name;
    if not found then
        if insert_event_raw.queue_name is null then
            raise exception 'Queue name must not be NULL' using errcode = 'PQ006';
        end if;
        raise exception 'No such queue' using errcode = 'PQ001',
            detail = format('queue %L does not exist', insert_event_raw.queue_name);
    end if;
    if q_disabled and current_setting('session_replication_role') <> 'replica' then
        raise exception 'Insert into queue disallowed' using errcode = 'PQ004';
    end if;
    if q_limit is not null then
        -- Count this transaction's events per queue in a transaction-local setting.
        n_in_tx := coalesce(nullif(current_setting('pgq.tx_events_' || q_id, true), ''), '0')::int4;
        if n_in_tx >= q_limit then
            raise exception 'Queue ''%'' allows max % events from one TX', insert_event_raw.queue_name, q_limit
                using errcode = 'PQ005';
        end if;
        perform set_config('pgq.tx_events_' || q_id, (n_in_tx + 1)::text, true);
    end if;
    new_id := coalesce(insert_event_raw.ev_id, nextval(q_seq::regclass));
    insert into pgq.event_all (ev_id, ev_time, ev_owner, ev_retry, ev_type, ev_data,
                               ev_extra1, ev_extra2, ev_extra3, ev_extra4, ev_queue, ev_table)
    values (new_id, coalesce(insert_event_raw.ev_time, now()), insert_event_raw.ev_owner,
            insert_event_raw.ev_retry, insert_event_raw.ev_type, insert_event_raw.ev_data,
            insert_event_raw.ev_extra1, insert_event_raw.ev_extra2, insert_event_raw.ev_extra3,
            insert_event_raw.ev_extra4, q_id, q_table);
    return new_id;
end;
$$;
