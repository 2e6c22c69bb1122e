-- pgq.current_event_table(x_queue_name text) returns text
--
-- Name of the event table that receives the queue's events right now (data prefix || '_' ||
-- current table number). Valid only until the next rotation; use it inside one transaction.
-- Errors: unknown queue ('Event queue not found'); insert disabled for the queue, unless
-- session_replication_role = replica ('Writing to queue disabled').
create or replace function pgq.current_event_table(x_queue_name text)
returns text
language plpgsql
as $$
declare
    res      text;
    disabled boolean;
begin
    select queue_data_pfx || '_' || queue_cur_table::text, queue_disable_insert
      into res, disabled
      from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'Event queue not found' using errcode = 'PQ001';
    end if;
    if disabled and current_setting('session_replication_role') <> 'replica' then
        raise exception 'Writing to queue disabled' using errcode = 'PQ004';
    end if;
    return res;
end;
$$;
